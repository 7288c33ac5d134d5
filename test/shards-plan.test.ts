import { describe, expect, it } from 'vitest';
import { expandShardUrls } from '../src/shards/loader.js';
import { displayUrl, schemeOf } from '../src/shards/openers.js';
import { BufferPlan, bufferSeed, rankPieces } from '../src/shards/plan.js';
import { StagingArena } from '../src/shards/staging.js';
import { splitMemberName } from '../src/shards/tar-samples.js';

describe('brace notation', () => {
  it('expands WebDataset shard ranges with their zero padding, and lists', () => {
    expect(expandShardUrls('data/train-{000000..000003}.tar')).toEqual([
      'data/train-000000.tar',
      'data/train-000001.tar',
      'data/train-000002.tar',
      'data/train-000003.tar',
    ]);
    expect(expandShardUrls(['http://h/{a,b}-{8..10}.tar'])).toEqual([
      'http://h/a-8.tar',
      'http://h/a-9.tar',
      'http://h/a-10.tar',
      'http://h/b-8.tar',
      'http://h/b-9.tar',
      'http://h/b-10.tar',
    ]);
    expect(() => expandShardUrls([])).toThrow(/Expected a shard path or URL/);
  });
});

describe('member names', () => {
  it("split as WebDataset's base_plus_ext: key up to the first dot of the last component", () => {
    expect(splitMemberName('a/b/000123.jpg')).toEqual({ key: 'a/b/000123', extension: 'jpg' });
    expect(splitMemberName('a.b/c.seg.PNG')).toEqual({ key: 'a.b/c', extension: 'seg.png' });
    expect(splitMemberName('../../x.jpg')).toEqual({ key: '../../x', extension: 'jpg' });
    expect(splitMemberName('README')).toBeNull();
    expect(splitMemberName('__meta__')).toBeNull();
  });
});

describe('URLs in messages', () => {
  it('lose credentials and query strings', () => {
    expect(displayUrl('https://user:secret@host:8080/b/shard.tar?X-Amz-Signature=abc')).toBe('https://host:8080/b/shard.tar?…');
    expect(displayUrl('data/shard.tar')).toBe('data/shard.tar');
    expect(schemeOf('data/x.tar')).toBe('file:');
    expect(schemeOf('HTTP://h/x.tar')).toBe('http:');
    expect(schemeOf('s3://b/x.tar')).toBe('s3:');
  });
});

describe('rank split', () => {
  const counts = [10, 10, 10, 10, 10, 7, 3];
  for (const remainder of ['repeat', 'drop'] as const) {
    it(`gives every rank the same number of samples (${remainder}), from whole shards`, () => {
      for (const ranks of [1, 2, 3]) {
        for (let epoch = 0; epoch < 4; epoch++) {
          const plans = Array.from({ length: ranks }, (_, index) =>
            rankPieces(counts, { shuffle: true, seed: 5, epoch, shard: { count: ranks, index }, remainder }),
          );
          const totals = plans.map((p) => p.total);
          expect(new Set(totals).size).toBe(1);
          for (const p of plans) expect(p.pieces.reduce((a, x) => a + x.limit, 0)).toBe(p.total);
          // Each shard is dealt to one rank (repeats come from a rank's own shards).
          const owner = new Map<number, number>();
          plans.forEach((p, r) =>
            p.pieces.forEach((x) => {
              expect(owner.get(x.shard) ?? r).toBe(r);
              owner.set(x.shard, r);
            }),
          );
          if (ranks === 1) expect(totals[0]).toBe(60);
          if (remainder === 'repeat') expect(owner.size).toBe(counts.length);
        }
      }
    });
  }

  it('draws a new shard order each epoch from (seed, epoch), the listed order without shuffle', () => {
    const order = (epoch: number, shuffle = true) =>
      rankPieces(counts, { shuffle, seed: 5, epoch, shard: null, remainder: 'drop' }).pieces.map((p) => p.shard);
    expect(order(0)).toEqual(order(0));
    expect(order(0)).not.toEqual(order(1));
    expect([...order(0)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(order(3, false)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

describe('shuffle buffer plan', () => {
  it('emits every read exactly once, never further ahead than the buffer', () => {
    for (const size of [0, 1, 7, 100, 1000]) {
      const plan = new BufferPlan(500, size, bufferSeed(1, 0, 0));
      const out: number[] = [];
      for (let v = plan.next(); v !== -1; v = plan.next()) {
        // At emission k the reader has read at most k + size + 1 samples.
        expect(v).toBeLessThanOrEqual(out.length + size);
        out.push(v);
      }
      expect([...out].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
      if (size === 0) expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i));
      if (size >= 7) expect(out).not.toEqual(Array.from({ length: 500 }, (_, i) => i));
    }
  });

  it('knows at any position which reads are delivered, buffered and still to come', () => {
    const full = new BufferPlan(300, 40, 99);
    const order: number[] = [];
    for (let v = full.next(); v !== -1; v = full.next()) order.push(v);
    for (const at of [0, 1, 39, 40, 41, 150, 299, 300]) {
      const plan = new BufferPlan(300, 40, 99);
      for (let i = 0; i < at; i++) plan.next();
      const { frontier, buffered } = plan.resumeState();
      const delivered = new Set(order.slice(0, at));
      for (let r = 0; r < 300; r++) {
        const expectDelivered = r < frontier && !buffered.has(r);
        expect(delivered.has(r)).toBe(expectDelivered);
      }
      const rest: number[] = [];
      for (let v = plan.next(); v !== -1; v = plan.next()) rest.push(v);
      expect(rest).toEqual(order.slice(at));
    }
  });
});

describe('staging arena', () => {
  it('places byte ranges in order, wraps, and refuses what does not fit until the oldest are freed', () => {
    const arena = new StagingArena(100);
    const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
    expect(arena.place(bytes(40, 1))).toBe(0);
    expect(arena.place(bytes(40, 2))).toBe(40);
    expect(arena.place(bytes(30, 3))).toBe(-1);
    arena.freeOldest();
    expect(arena.place(bytes(30, 3))).toBe(0);
    expect(arena.place(bytes(20, 4))).toBe(-1);
    expect(arena.place(bytes(10, 4))).toBe(30);
    const view = new Uint8Array(arena.buffer);
    expect([view[0], view[29], view[30], view[40], view[79]]).toEqual([3, 3, 4, 2, 2]);
    arena.freeOldest();
    arena.freeOldest();
    arena.freeOldest();
    expect(arena.place(bytes(100, 5))).toBe(0);
    expect(arena.place(bytes(1, 5))).toBe(-1);
  });
});
