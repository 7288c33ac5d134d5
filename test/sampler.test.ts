import { beforeAll, describe, expect, it } from 'vitest';
import { epochOrder, epochPlan, numpyLegacyShuffle, shardSize, splitEntries, torchRandperm } from '../src/sampler.js';
import { runReference } from './fixtures/python.js';

describe('epochOrder', () => {
  it('is a permutation, a pure function of (seed, epoch), new every epoch', () => {
    const a = epochOrder(1000, { shuffle: true, seed: 3, epoch: 0 });
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, { shuffle: true, seed: 3, epoch: 0 })).toEqual(a);
    expect(epochOrder(1000, { shuffle: true, seed: 3, epoch: 1 })).not.toEqual(a);
    expect(epochOrder(1000, { shuffle: true, seed: 4, epoch: 0 })).not.toEqual(a);
  });

  it('keeps index order without shuffle', () => {
    expect(Array.from(epochOrder(5, { shuffle: false, seed: 3, epoch: 9 }))).toEqual([0, 1, 2, 3, 4]);
  });

  it('moves each element to each place about equally often', () => {
    const counts = Array.from({ length: 4 }, () => new Array(4).fill(0));
    for (let e = 0; e < 4000; e++) {
      epochOrder(4, { shuffle: true, seed: 11, epoch: e }).forEach((v, pos) => counts[v][pos]++);
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });
});

describe('numpyLegacyShuffle', () => {
  it("reproduces numpy's RandomState(seed).shuffle bit for bit", () => {
    // Reference values printed by numpy: rs = np.random.RandomState(seed); a = np.arange(n); rs.shuffle(a)
    expect(numpyLegacyShuffle([...Array(10).keys()], 1337)).toEqual([6, 3, 0, 4, 5, 2, 1, 9, 8, 7]);
    expect(numpyLegacyShuffle([...Array(23).keys()], 42)).toEqual([
      15, 9, 0, 8, 17, 12, 1, 13, 5, 2, 11, 20, 3, 4, 18, 16, 21, 22, 7, 10, 14, 19, 6,
    ]);
  });
});

describe('splitEntries (Keras validation split)', () => {
  it('takes the last floor(split * n) of the seeded shuffle for validation', () => {
    const val = splitEntries(10, { validationSplit: 0.2, subset: 'validation', shuffle: true, seed: 1337 });
    const train = splitEntries(10, { validationSplit: 0.2, subset: 'training', shuffle: true, seed: 1337 });
    expect(Array.from(val)).toEqual([8, 7]);
    expect(Array.from(train)).toEqual([6, 3, 0, 4, 5, 2, 1, 9]);
  });

  it('splits the sorted list without shuffle, and refuses an empty side', () => {
    expect(Array.from(splitEntries(5, { validationSplit: 0.4, subset: 'validation', shuffle: false, seed: 0 }))).toEqual([3, 4]);
    expect(() => splitEntries(3, { validationSplit: 0.2, subset: 'validation', shuffle: false, seed: 0 })).toThrow(/validationSplit/);
  });
});

describe("epochPlan's rank shares (PyTorch's DistributedSampler)", () => {
  const cases: { n: number; count: number; shuffle: boolean; seed: number; epoch: number; dropLast: boolean }[] = [];
  const seeds = [0, 1337, 0xffffffff];
  for (const n of [0, 1, 2, 5, 53, 301, 10_007]) {
    for (const count of [1, 3, 7]) {
      for (const dropLast of [false, true]) {
        cases.push({ n, count, shuffle: false, seed: 0, epoch: 0, dropLast });
        const seed = seeds[(n + count) % seeds.length];
        for (const epoch of [0, 2]) cases.push({ n, count, shuffle: true, seed, epoch, dropLast });
      }
    }
  }
  let reference: number[][][];
  beforeAll(async () => {
    reference = JSON.parse(await runReference('distributed_sampler_reference.py', cases)) as number[][][];
  }, 120_000);

  it('equal DistributedSampler(num_replicas, rank, shuffle, seed, drop_last) after set_epoch, rank by rank', () => {
    expect(reference).toHaveLength(cases.length);
    cases.forEach((c, i) => {
      const got = Array.from({ length: c.count }, (_, index) =>
        Array.from(
          epochPlan(c.n, {
            shuffle: c.shuffle,
            seed: c.seed,
            epoch: c.epoch,
            shard: { count: c.count, index },
            rankRemainder: c.dropLast ? 'drop' : 'repeat',
            permutation: 'torch',
            start: 0,
          }),
        ),
      );
      expect(got, JSON.stringify(c)).toEqual(reference[i]);
    });
  });

  it("give every rank DistributedSampler's number of samples with imgstream's own permutation too", () => {
    cases.forEach((c, i) => {
      for (let index = 0; index < c.count; index++) {
        const shard = { count: c.count, index };
        const rankRemainder = c.dropLast ? ('drop' as const) : ('repeat' as const);
        const plan = epochPlan(c.n, { ...c, shard, rankRemainder, permutation: 'imgstream', start: 0 });
        expect(plan.length, JSON.stringify(c)).toBe(reference[i][index].length);
        expect(shardSize(c.n, shard, rankRemainder)).toBe(reference[i][index].length);
      }
    });
  });

  it("pads by repeating the epoch's first samples, or drops its last ones, as DistributedSampler does", () => {
    // Without shuffling the imgstream and torch permutations are both the identity: the padding rule alone.
    const plain = cases.filter((c) => !c.shuffle);
    for (const c of plain) {
      const i = cases.indexOf(c);
      const all = reference[i].flat();
      const counts = new Map<number, number>();
      for (const v of all) counts.set(v, (counts.get(v) ?? 0) + 1);
      for (let index = 0; index < c.count; index++) {
        const shard = { count: c.count, index };
        const plan = epochPlan(c.n, { ...c, shard, rankRemainder: c.dropLast ? 'drop' : 'repeat', permutation: 'imgstream', start: 0 });
        expect(Array.from(plan), JSON.stringify(c)).toEqual(reference[i][index]);
      }
      if (!c.dropLast) expect(counts.size).toBe(c.n);
    }
  });

  it("reproduces torch.randperm with a seeded generator, past 2^32 (torch keeps the seed's low 32 bits)", () => {
    const first = reference[cases.findIndex((c) => c.shuffle && c.count === 1 && c.n === 10_007)];
    const c = cases.find((k) => k.shuffle && k.count === 1 && k.n === 10_007)!;
    expect(Array.from(torchRandperm(10_007, c.seed + c.epoch))).toEqual(first[0]);
    expect(torchRandperm(50, 2 ** 32 + 5)).toEqual(torchRandperm(50, 5));
  });
});
