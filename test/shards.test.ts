import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImgstreamError, imageDatasetFromDirectory, imageDatasetFromShards, type Batch } from '../src/index.js';
import { keyFor, packShards } from '../src/shards/pack.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';
import { runReference } from './fixtures/python.js';

let root: string;
let data: string;
let out: string;
let shardGlob: string;
/** Per key (the image's path below the folder, no extension): label and pixels as the folder loader gives them. */
const reference = new Map<string, { label: number; pixels: Buffer }>();
const IMAGE_SIZE = [20, 24] as const;
const common = { imageSize: IMAGE_SIZE, dtype: 'uint8', batchSize: 8, memoryBudget: '32MiB' } as const;

interface Sample {
  key: string;
  label: number;
  pixels: Buffer;
}

function samplesOf(batches: Batch[]): Sample[] {
  const out: Sample[] = [];
  for (const b of batches) {
    const per = b.images.length / b.shape[0];
    b.paths.forEach((p, i) => {
      out.push({
        key: p.slice(p.indexOf('#') + 1),
        label: (b.labels as Int32Array)[i],
        pixels: Buffer.from(b.images.subarray(i * per, (i + 1) * per)),
      });
    });
  }
  return out;
}

/** The byte offset of each sample's first member header, in shard order, from a `tar_reference.py members` listing. */
function firstHeaderOffsets(listing: string): number[] {
  const starts: number[] = [];
  let last: string | null = null;
  for (const m of JSON.parse(listing) as { name: string; offset: number }[]) {
    const key = m.name.slice(0, m.name.indexOf('.', m.name.lastIndexOf('/') + 1));
    if (key !== last) starts.push(m.offset);
    last = key;
  }
  return starts;
}

async function epoch(loader: AsyncIterable<Batch>): Promise<Sample[]> {
  const batches: Batch[] = [];
  for await (const b of loader) batches.push(b);
  return samplesOf(batches);
}

function expectExactlyOnceAndRight(samples: Sample[]): void {
  expect(samples.length).toBe(reference.size);
  expect(new Set(samples.map((s) => s.key)).size).toBe(reference.size);
  for (const s of samples) {
    const ref = reference.get(s.key);
    expect(ref, s.key).toBeDefined();
    expect(s.label, s.key).toBe(ref?.label);
    expect(s.pixels.equals(ref?.pixels as Buffer), `pixels of ${s.key}`).toBe(true);
  }
}

beforeAll(async () => {
  root = tempDir();
  data = path.join(root, 'data');
  await makeClassFolders(data, { cat: 23, dog: 17, eel: 13 });
  out = path.join(root, 'shards');
  const packed = await packShards(data, out, { samplesPerShard: 8 });
  expect(packed.shards.length).toBe(7);
  shardGlob = path.join(out, 'shard-{000000..000006}.tar');
  const folder = await imageDatasetFromDirectory(data, { ...common, shuffle: false, workers: 2 });
  for (const s of samplesOf(await (async () => {
    const bs: Batch[] = [];
    for await (const b of folder) bs.push(b);
    return bs;
  })())) {
    reference.set(keyFor(data, s.key), { label: s.label, pixels: s.pixels });
  }
  await folder.close();
  expect(reference.size).toBe(53);
});
afterAll(() => removeDir(root));

describe('imgstream pack', () => {
  it('writes plain tar shards that tar and Python read, and an index of their counts and classes', () => {
    const index = JSON.parse(readFileSync(path.join(out, 'shards.json'), 'utf8'));
    expect(index.classNames).toEqual(['cat', 'dog', 'eel']);
    expect(index.shardlist.map((s: { nsamples: number }) => s.nsamples)).toEqual([8, 8, 8, 8, 8, 8, 5]);
    const listed = spawnSync('tar', ['-tf', path.join(out, 'shard-000006.tar')], { encoding: 'utf8' });
    expect(listed.status).toBe(0);
    const names = listed.stdout.trim().split('\n');
    expect(names.length).toBe(10);
    for (let i = 0; i < names.length; i += 2) {
      expect(names[i + 1]).toBe(names[i].replace(/\.(jpg|png)$/, '.cls'));
    }
    const py = spawnSync(
      'python3',
      ['-c', 'import sys,tarfile\nt=tarfile.open(sys.argv[1])\nprint(len(t.getnames()), t.extractfile(t.getnames()[1]).read().decode())', path.join(out, 'shard-000000.tar')],
      { encoding: 'utf8' },
    );
    if (py.error === undefined) {
      expect(py.status).toBe(0);
      const [count, label] = py.stdout.trim().split(' ');
      expect(count).toBe('16');
      expect(['0', '1', '2']).toContain(label);
    }
  });
});

describe('imageDatasetFromShards', () => {
  for (const workers of [1, 2]) {
    it(`gives every sample exactly once per epoch, with its label and the folder's pixels (${workers} worker${workers > 1 ? 's' : ''})`, async () => {
      const loader = await imageDatasetFromShards(shardGlob, { ...common, workers, seed: 7, shuffleBuffer: 20 });
      expect(loader.size).toBe(53);
      expect(loader.batchesPerEpoch).toBe(7);
      expect(loader.classNames).toEqual(['cat', 'dog', 'eel']);
      const first = await epoch(loader);
      const second = await epoch(loader);
      await loader.close();
      expectExactlyOnceAndRight(first);
      expectExactlyOnceAndRight(second);
      expect(second.map((s) => s.key)).not.toEqual(first.map((s) => s.key));
    });
  }

  it('yields the same order and pixels for the same seed whatever the worker count', async () => {
    const orders: string[][] = [];
    for (const workers of [1, 3]) {
      const loader = await imageDatasetFromShards(shardGlob, { ...common, workers, seed: 11 });
      orders.push((await epoch(loader)).map((s) => s.key));
      await loader.close();
    }
    expect(orders[1]).toEqual(orders[0]);
  });

  it('reads the listed order without shuffle, and without the index by a first pass over the headers', async () => {
    const bare = path.join(root, 'no-index');
    mkdirSync(bare);
    for (const f of readdirSync(out).filter((f) => f.endsWith('.tar'))) copyFileSync(path.join(out, f), path.join(bare, f));
    const withIndex = await imageDatasetFromShards(shardGlob, { ...common, shuffle: false, workers: 2 });
    const without = await imageDatasetFromShards(path.join(bare, 'shard-{000000..000006}.tar'), {
      ...common,
      shuffle: false,
      workers: 2,
      classNames: ['cat', 'dog', 'eel'],
    });
    expect(without.size).toBe(53);
    const a = await epoch(withIndex);
    const b = await epoch(without);
    await withIndex.close();
    await without.close();
    expectExactlyOnceAndRight(a);
    expect(b.map((s) => s.key)).toEqual(a.map((s) => s.key));
    const tarOrder = spawnSync('tar', ['-tf', path.join(out, 'shard-000000.tar')], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(a.slice(0, 8).map((s) => s.key)).toEqual(tarOrder.filter((n) => !n.endsWith('.cls')).map((n) => n.replace(/\.\w+$/, '')));
  });

  for (const rankRemainder of ['drop', 'repeat'] as const) {
    it(`splits whole shards between 1-3 ranks with equal shares (${rankRemainder})`, async () => {
      for (const count of [1, 2, 3]) {
        const shares: Sample[][] = [];
        const batches: number[] = [];
        for (let index = 0; index < count; index++) {
          const loader = await imageDatasetFromShards(shardGlob, { ...common, workers: 2, seed: 3, shard: { count, index }, rankRemainder });
          batches.push(loader.batchesPerEpoch);
          const size = loader.size;
          const share = await epoch(loader);
          expect(share.length).toBe(size);
          shares.push(share);
          await loader.close();
        }
        expect(new Set(shares.map((s) => s.length)).size).toBe(1);
        expect(new Set(batches).size).toBe(1);
        const keys = shares.map((s) => s.map((x) => x.key));
        for (const share of shares) {
          for (const s of share) {
            expect(s.label).toBe(reference.get(s.key)?.label);
            expect(s.pixels.equals(reference.get(s.key)?.pixels as Buffer)).toBe(true);
          }
        }
        const union = new Set(keys.flat());
        // No sample is on two ranks; 'repeat' covers every sample, 'drop' at most loses the short shards' excess.
        for (let a = 0; a < count; a++) for (let b = a + 1; b < count; b++) expect(keys[a].some((k) => keys[b].includes(k))).toBe(false);
        if (rankRemainder === 'repeat' || count === 1) expect(union.size).toBe(53);
        else expect(union.size).toBe(count * shares[0].length);
        if (count === 1) expectExactlyOnceAndRight(shares[0]);
      }
    });
  }

  it('refuses more ranks than shards at construction, saying why', async () => {
    const err = await imageDatasetFromShards(shardGlob, { ...common, shard: { count: 8, index: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImgstreamError);
    expect((err as ImgstreamError).code).toBe('ERR_OPTION');
    expect((err as Error).message).toMatch(/at most 7 ranks.*whole shards.*for shard\.count but received 8/);
  });

  it('refuses a validation split and unknown options, naming them', async () => {
    await expect(imageDatasetFromShards(shardGlob, { validationSplit: 0.2 } as never)).rejects.toThrow(/validationSplit/);
    await expect(imageDatasetFromShards(shardGlob, { shuffleBuffer: -1 })).rejects.toThrow(/shuffleBuffer/);
    await expect(imageDatasetFromShards(shardGlob, { rankRemainder: 'pad' } as never)).rejects.toThrow(/rankRemainder/);
    await expect(imageDatasetFromShards(path.join(out, 'nope-{0..1}.tar'), { index: path.join(out, 'missing.json') })).rejects.toThrow(
      /Shard index not found/,
    );
  });

  it('fits the shuffle buffer, staging arena, stream and ring in memoryBudget, or says which part does not fit', async () => {
    const loader = await imageDatasetFromShards(shardGlob, { ...common, shuffleBuffer: 30 });
    const { budget } = loader.config;
    expect(budget.shuffleBuffer + budget.staging + budget.streams + budget.pixels).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(budget.shuffleBuffer).toBeGreaterThanOrEqual(31 * Math.max(...(JSON.parse(readFileSync(path.join(out, 'shards.json'), 'utf8')).shardlist as { maxSampleBytes: number }[]).map((s) => s.maxSampleBytes)));
    await loader.close();
    const err = await imageDatasetFromShards(shardGlob, { imageSize: [128, 128], batchSize: 32, memoryBudget: '6MiB' }).catch((e: unknown) => e);
    expect((err as ImgstreamError).code).toBe('ERR_OPTION');
    expect((err as Error).message).toMatch(/shuffle buffer.*staging.*shard stream.*for memoryBudget but received '6MiB'/);
  });

  it('resumes mid-epoch with exactly the samples the interrupted epoch had left', async () => {
    const options = { ...common, workers: 2, seed: 5, shuffleBuffer: 12 } as const;
    const full = await imageDatasetFromShards(shardGlob, options);
    await epoch(full);
    const whole = (await epoch(full)).map((s) => s.key);
    await full.close();

    const first = await imageDatasetFromShards(shardGlob, options);
    await epoch(first);
    const taken: string[] = [];
    let progress = first.progress;
    for await (const b of first) {
      taken.push(...b.paths.map((p) => p.slice(p.indexOf('#') + 1)));
      progress = first.progress;
      if (taken.length >= 24) break;
    }
    await first.close();
    expect(progress.epoch).toBe(1);
    expect(progress.position).toBe(24);
    expect(progress.shards.current?.url).toMatch(/shard-\d{6}\.tar$/);
    // The in-flight shard is resumed at the first header of its first sample still due (Python's tarfile offsets).
    const current = progress.shards.current as NonNullable<typeof progress.shards.current>;
    const starts = firstHeaderOffsets(await runReference('tar_reference.py', null, ['members', current.url]));
    expect(current.resumeAt).not.toBeNull();
    expect(current.resumeAt?.sample).toBeLessThanOrEqual(current.samplesRead);
    expect(current.resumeAt?.byte).toBe(starts[current.resumeAt?.sample ?? -1]);

    const resumed = await imageDatasetFromShards(shardGlob, options);
    resumed.resumeFrom(JSON.parse(JSON.stringify(progress)));
    const rest = await epoch(resumed);
    await resumed.close();
    expect(taken).toEqual(whole.slice(0, 24));
    expect(rest.map((s) => s.key)).toEqual(whole.slice(24));
    for (const s of rest) expect(s.pixels.equals(reference.get(s.key)?.pixels as Buffer)).toBe(true);
  });
});
