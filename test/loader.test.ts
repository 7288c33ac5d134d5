import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoader, fromDirectory, fromList, imageDatasetFromDirectory } from '../src/index.js';
import { makeClassFolders, rec601Luma, removeDir, tempDir, writeImage } from './fixtures/images.js';
import { collect, describeBothPaths } from './fixtures/pipeline.js';
import { runReference } from './fixtures/python.js';

let root: string;
let files: string[];
let labels: number[];

beforeAll(async () => {
  root = tempDir();
  ({ files, labels } = await makeClassFolders(path.join(root, 'data'), { cat: 23, dog: 17, eel: 13 }));
});
afterAll(() => removeDir(root));

/** An independent sharp decode of the same file with the same settings. */
async function referenceDecode(
  file: string,
  h: number,
  w: number,
  mode: 'rgb' | 'grayscale' | 'rgba',
  fit: 'fill' | 'cover' = 'fill',
): Promise<Buffer> {
  let img = sharp(file).autoOrient().resize(w, h, { fit, kernel: 'linear' });
  if (mode === 'rgba') img = img.ensureAlpha().toColourspace('srgb');
  else img = img.flatten().toColourspace('srgb');
  const raw = await img.raw().toBuffer();
  return mode === 'grayscale' ? rec601Luma(raw) : raw;
}

describeBothPaths('pixels', () => {
  for (const colorMode of ['rgb', 'grayscale', 'rgba'] as const) {
    it(`equal a reference sharp decode (${colorMode}, uint8)`, async () => {
      const loader = await imageDatasetFromDirectory(path.join(root, 'data'), {
        imageSize: [24, 20],
        colorMode,
        dtype: 'uint8',
        // Bit-exact against sharp: the sharp path (the JPEG fast path is held to MAD <= 2 in jpeg-turbo.test).
        decoder: 'sharp',
        shuffle: false,
        batchSize: 8,
        workers: 2,
      });
      const batches = await collect(loader);
      const c = { rgb: 3, grayscale: 1, rgba: 4 }[colorMode];
      let row = 0;
      for (const b of batches) {
        expect(b.shape.slice(1)).toEqual([24, 20, c]);
        for (let i = 0; i < b.shape[0]; i++, row++) {
          expect(b.paths[i]).toBe(files[row]);
          const ref = await referenceDecode(files[row], 24, 20, colorMode);
          const got = b.images.subarray(i * ref.length, (i + 1) * ref.length);
          expect(Buffer.from(got).equals(ref)).toBe(true);
        }
      }
      expect(row).toBe(files.length);
    });
  }

  it('crops to the aspect ratio when asked', async () => {
    const loader = new ImageLoader(fromList(files.slice(0, 5)), {
      imageSize: [16, 16],
      cropToAspectRatio: true,
      decoder: 'sharp',
      labelMode: null,
      dtype: 'uint8',
      shuffle: false,
    });
    const [b] = await collect(loader);
    for (let i = 0; i < 5; i++) {
      const ref = await referenceDecode(files[i], 16, 16, 'rgb', 'cover');
      expect(Buffer.from(b.images.subarray(i * ref.length, (i + 1) * ref.length)).equals(ref)).toBe(true);
    }
  });

  it('maps float32 output through normalize', async () => {
    const list = fromList(files.slice(0, 3));
    const opts = { imageSize: [10, 12] as const, labelMode: null, shuffle: false, batchSize: 3 };
    const [raw] = await collect(new ImageLoader(list, { ...opts, dtype: 'uint8' }));
    const [none] = await collect(new ImageLoader(list, { ...opts, dtype: 'float32' }));
    const [unit] = await collect(new ImageLoader(list, { ...opts, normalize: 'unit' }));
    const [sym] = await collect(new ImageLoader(list, { ...opts, normalize: 'symmetric' }));
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const [ms] = await collect(new ImageLoader(list, { ...opts, normalize: { mean, std } }));
    expect(none.images).toBeInstanceOf(Float32Array);
    for (let i = 0; i < raw.images.length; i++) {
      const v = raw.images[i];
      expect(none.images[i]).toBe(v);
      expect(unit.images[i]).toBeCloseTo(v / 255, 6);
      expect(sym.images[i]).toBeCloseTo((v / 255) * 2 - 1, 6);
      expect(ms.images[i]).toBeCloseTo((v / 255 - mean[i % 3]) / std[i % 3], 5);
    }
  });

  it('applies EXIF orientation and keeps left/right', async () => {
    // A 40x20 image, left half red, right half blue; stored with orientation 3 (rotated 180 degrees).
    const dir = path.join(root, 'orient');
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) raw.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
    const plain = path.join(dir, 'plain.png');
    const rotated = path.join(dir, 'rotated.jpg');
    mkdirSync(dir, { recursive: true });
    await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).png().toFile(plain);
    await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 3 }).toFile(rotated);
    const [b] = await collect(new ImageLoader(fromList([plain, rotated]), { imageSize: [4, 8], labelMode: null, shuffle: false, dtype: 'uint8' }));
    const px = (img: number, x: number) => Array.from(b.images.subarray(img * 96 + (1 * 8 + x) * 3, img * 96 + (1 * 8 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([255, 0, 0]);
    expect(px(0, 7)).toEqual([0, 0, 255]);
    // Orientation 3 shows the stored pixels turned by 180 degrees: blue on the left.
    expect(px(1, 0)[2]).toBeGreaterThan(200);
    expect(px(1, 7)[0]).toBeGreaterThan(200);
  });
});

describeBothPaths('epochs', () => {
  async function epochPaths(workers: number, epochs: number): Promise<string[][]> {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), {
      imageSize: [8, 8],
      batchSize: 5,
      workers,
      seed: 7,
      dtype: 'uint8',
    });
    const out: string[][] = [];
    for (let e = 0; e < epochs; e++) out.push((await collect(loader)).flatMap((b) => b.paths));
    await loader.close();
    return out;
  }

  it('deliver every sample exactly once per epoch, in the same order for 1 and 4 workers', async () => {
    const one = await epochPaths(1, 3);
    const four = await epochPaths(4, 3);
    expect(four).toEqual(one);
    for (const epoch of one) {
      expect(epoch).toHaveLength(files.length);
      expect([...epoch].sort()).toEqual([...files].sort());
    }
    expect(one[0]).not.toEqual(one[1]);
    expect(one[1]).not.toEqual(one[2]);
  });

  it('keep index order without shuffle, and a short last batch unless dropRemainder', async () => {
    const keep = await collect(new ImageLoader(fromList(files), { imageSize: [8, 8], batchSize: 10, shuffle: false, labelMode: null }));
    expect(keep.flatMap((b) => b.paths)).toEqual(files);
    expect(keep.map((b) => b.shape[0])).toEqual([10, 10, 10, 10, 10, 3]);
    expect(keep[5].images.length).toBe(3 * 8 * 8 * 3);
    const drop = new ImageLoader(fromList(files), { imageSize: [8, 8], batchSize: 10, dropRemainder: true, labelMode: null });
    expect(drop.batchesPerEpoch).toBe(5);
    expect((await collect(drop)).map((b) => b.shape[0])).toEqual([10, 10, 10, 10, 10]);
  });
});

describeBothPaths('epoch lifecycle', () => {
  it('starting a new epoch stops the open one, and the new one is complete', async () => {
    const loader = new ImageLoader(fromList(files), { imageSize: [8, 8], batchSize: 4, labelMode: null, workers: 2 });
    const first = loader[Symbol.asyncIterator]();
    expect((await first.next()).value.shape[0]).toBe(4);
    const second = (await collect(loader)).flatMap((b) => b.paths);
    expect([...second].sort()).toEqual([...files].sort());
    await expect(first.next()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(loader.stats.epochs).toBe(2);
    await loader.close();
  });
});

describeBothPaths('sharding and resuming', () => {
  it("shards cover every epoch with equal shares: DistributedSampler's padding (repeat) or cut (drop)", async () => {
    const opts = { imageSize: [8, 8] as const, batchSize: 4, labelMode: null, seed: 5, dtype: 'uint8' as const };
    for (const rankRemainder of ['repeat', 'drop'] as const) {
      const shards = [0, 1, 2].map((index) => new ImageLoader(fromList(files), { ...opts, shard: { count: 3, index }, rankRemainder }));
      // 53 files on 3 ranks: ceil(53 / 3) = 18 each, one file served twice; floor(53 / 3) = 17, two left out.
      const share = rankRemainder === 'repeat' ? 18 : 17;
      expect(shards.map((s) => s.size)).toEqual([share, share, share]);
      expect(shards.map((s) => s.batchesPerEpoch)).toEqual([5, 5, 5]);
      for (let epoch = 0; epoch < 2; epoch++) {
        const batches = await Promise.all(shards.map((s) => collect(s)));
        expect(batches.map((b) => b.length)).toEqual([5, 5, 5]);
        const parts = batches.map((b) => b.flatMap((x) => x.paths));
        expect(parts.map((p) => p.length)).toEqual([share, share, share]);
        const seen = new Set(parts.flat());
        if (rankRemainder === 'repeat') {
          expect([...seen].sort()).toEqual([...files].sort());
        } else {
          expect(seen.size).toBe(51);
          expect(parts.flat().every((p) => files.includes(p))).toBe(true);
        }
      }
      await Promise.all(shards.map((s) => s.close()));
    }
  });

  it("under compat: 'torchvision', each rank serves exactly DistributedSampler's share of ImageFolder, epoch by epoch", async () => {
    const dir = path.join(root, 'data');
    const count = 3;
    const variants = [
      { shuffle: true, seed: 5, rankRemainder: 'repeat' as const },
      { shuffle: false, seed: 0, rankRemainder: 'drop' as const },
    ];
    for (const v of variants) {
      const epochs = [0, 1];
      const cases = epochs.map((epoch) => ({ dir, count, shuffle: v.shuffle, seed: v.seed, epoch, dropLast: v.rankRemainder === 'drop' }));
      const reference = JSON.parse(await runReference('distributed_sampler_reference.py', cases)) as string[][][];
      const ranks = await Promise.all(
        Array.from({ length: count }, (_, index) =>
          imageDatasetFromDirectory(dir, { compat: 'torchvision', imageSize: [8, 8], batchSize: 5, workers: 1, ...v, shard: { count, index } }),
        ),
      );
      for (const epoch of epochs) {
        const batches = await Promise.all(ranks.map((r) => collect(r)));
        const got = batches.map((b) => b.flatMap((x) => x.paths.map((p) => path.relative(dir, p))));
        expect(got, `${JSON.stringify(v)}, epoch ${epoch}`).toEqual(reference[epoch]);
        expect(new Set(batches.map((b) => b.length)).size).toBe(1);
      }
      await Promise.all(ranks.map((r) => r.close()));
    }
  });

  it('resumes an interrupted epoch where it stopped, in the same order', async () => {
    const opts = { imageSize: [8, 8] as const, batchSize: 4, labelMode: null, seed: 9, dtype: 'uint8' as const };
    const reference = new ImageLoader(fromList(files), opts);
    const epoch0 = (await collect(reference)).flatMap((b) => b.paths);
    const epoch1 = (await collect(reference)).flatMap((b) => b.paths);
    await reference.close();

    const first = new ImageLoader(fromList(files), opts);
    let batches = 0;
    for await (const _ of first) if (++batches === 3) break;
    const saved = first.progress;
    expect(saved).toEqual({ epoch: 0, position: 12 });
    await first.close();

    const second = new ImageLoader(fromList(files), opts);
    second.resumeFrom(saved);
    expect((await collect(second)).flatMap((b) => b.paths)).toEqual(epoch0.slice(12));
    expect(second.progress).toEqual({ epoch: 1, position: 0 });
    expect((await collect(second)).flatMap((b) => b.paths)).toEqual(epoch1);
    expect(() => second.resumeFrom({ epoch: 0, position: 999 })).toThrow(/progress.position/);
    await second.close();
  });
});

describeBothPaths('labels', () => {
  it('follow the class folders, sorted as Keras does', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { imageSize: [8, 8], batchSize: 7 });
    expect(loader.classNames).toEqual(['cat', 'dog', 'eel']);
    expect(loader.size).toBe(files.length);
    const byPath = new Map(files.map((f, i) => [f, labels[i]]));
    for (const b of await collect(loader)) {
      b.paths.forEach((p, i) => expect(b.labels?.[i]).toBe(byPath.get(p)));
      expect(b.labels).toBeInstanceOf(Int32Array);
    }
  });

  it('are one-hot for categorical and 0/1 for binary', async () => {
    const cat = await imageDatasetFromDirectory(path.join(root, 'data'), { imageSize: [8, 8], batchSize: 6, labelMode: 'categorical' });
    const byPath = new Map(files.map((f, i) => [f, labels[i]]));
    for (const b of await collect(cat)) {
      expect(b.labels).toBeInstanceOf(Float32Array);
      expect(b.labels).toHaveLength(b.shape[0] * 3);
      b.paths.forEach((p, i) => {
        const row = Array.from((b.labels as Float32Array).subarray(i * 3, i * 3 + 3));
        expect(row).toEqual([0, 1, 2].map((k) => (k === byPath.get(p) ? 1 : 0)));
      });
    }
    const bin = await imageDatasetFromDirectory(path.join(root, 'data'), {
      imageSize: [8, 8],
      labelMode: 'binary',
      classNames: ['dog', 'eel'],
    });
    expect(bin.classNames).toEqual(['dog', 'eel']);
    const seen = (await collect(bin)).flatMap((b) => b.paths.map((p, i) => [p, b.labels?.[i]] as const));
    expect(seen).toHaveLength(17 + 13);
    for (const [p, l] of seen) expect(l).toBe(p.includes(`${path.sep}dog${path.sep}`) ? 0 : 1);
  });

  it('are absent with labelMode null', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { imageSize: [8, 8], labelMode: null });
    for (const b of await collect(loader)) expect(b.labels).toBeNull();
  });
});

describeBothPaths('validation split', () => {
  it('gives disjoint, reproducible subsets that cover the folder, like Keras', async () => {
    const opts = { imageSize: [8, 8] as const, validationSplit: 0.25, seed: 1337, dtype: 'uint8' as const };
    const [train, val] = await imageDatasetFromDirectory(path.join(root, 'data'), { ...opts, subset: 'both' });
    const val2 = await imageDatasetFromDirectory(path.join(root, 'data'), { ...opts, subset: 'validation' });
    expect(val.size).toBe(Math.floor(0.25 * files.length));
    expect(train.size + val.size).toBe(files.length);
    const t = new Set((await collect(train)).flatMap((b) => b.paths));
    const v = (await collect(val)).flatMap((b) => b.paths);
    expect(new Set([...(await collect(val2)).flatMap((b) => b.paths)])).toEqual(new Set(v));
    for (const p of v) expect(t.has(p)).toBe(false);
    expect(new Set([...t, ...v])).toEqual(new Set(files));
    const other = await imageDatasetFromDirectory(path.join(root, 'data'), { ...opts, seed: 1, subset: 'validation' });
    expect(new Set((await collect(other)).flatMap((b) => b.paths))).not.toEqual(new Set(v));
  });

  it("sizes each side's ring by that side, not by the whole folder", async () => {
    const opts = { imageSize: [8, 8] as const, validationSplit: 0.25, seed: 1337, batchSize: 2, memoryBudget: '64MiB', prefetch: 1000 };
    const [train, val] = await imageDatasetFromDirectory(path.join(root, 'data'), { ...opts, subset: 'both' });
    expect(val.options.capacity).toBe(val.size);
    expect(train.options.capacity).toBe(train.size);
    expect(val.size).toBeLessThan(train.size);
  });
});

describeBothPaths('memory', () => {
  it('never holds more than the ring capacity, however large the dataset', async () => {
    const list = fromList(Array.from({ length: 200 }, (_, i) => files[i % files.length]));
    const sampleBytes = 16 * 16 * 3;
    const batchSize = 4;
    // Budget = ring of 8 slots + two batches (the one assembled, the one the consumer holds).
    const loader = new ImageLoader(list, {
      imageSize: [16, 16],
      dtype: 'uint8',
      batchSize,
      labelMode: null,
      workers: 3,
      memoryBudget: (8 + 2 * batchSize) * sampleBytes,
    });
    expect(loader.options.capacity).toBe(8);
    let seen = 0;
    for await (const b of loader) {
      seen += b.shape[0];
      expect(loader.stats.ring.highWater).toBeLessThanOrEqual(8);
    }
    expect(seen).toBe(200);
    expect(loader.stats.ring.capacity).toBe(8);
    expect(loader.stats.ring.bytes).toBe(8 * sampleBytes);
    expect(loader.stats.ring.highWater).toBe(8);
    expect(loader.stats.decoded).toBe(200);
  });
});

describeBothPaths('stats', () => {
  it('count what the epoch did', async () => {
    const loader = new ImageLoader(fromList(files), { imageSize: [8, 8], batchSize: 10, labelMode: null });
    await collect(loader);
    const s = loader.stats;
    expect(s.epochs).toBe(1);
    expect(s.decoded).toBe(files.length);
    expect(s.batches).toBe(6);
    expect(s.skipped).toEqual([]);
    expect(s.imagesPerSecond).toBeGreaterThan(0);
    expect(s.timeToFirstBatchMs).toBeGreaterThan(0);
    expect(s.workerBusyMs).toBeGreaterThan(0);
    expect(s.ring.meanFill).toBeGreaterThan(0);
    expect(s.ring.meanFill).toBeLessThanOrEqual(1);
  });
});

describeBothPaths('odd images', () => {
  it('decodes png with alpha, webp and grayscale jpeg into the asked colour mode', async () => {
    const dir = path.join(root, 'odd');
    const a = await writeImage(path.join(dir, 'alpha.png'), { width: 30, height: 20, seed: 3, channels: 4 });
    const g = await writeImage(path.join(dir, 'gray.jpg'), { width: 30, height: 20, seed: 4, channels: 1 });
    const w = await writeImage(path.join(dir, 'pic.webp'), { width: 30, height: 20, seed: 5 });
    for (const colorMode of ['rgb', 'grayscale', 'rgba'] as const) {
      const [b] = await collect(new ImageLoader(fromList([a, g, w]), { imageSize: [6, 9], colorMode, labelMode: null, dtype: 'uint8', shuffle: false, decoder: 'sharp' }));
      const per = 6 * 9 * b.shape[3];
      for (const [i, f] of [a, g, w].entries()) {
        const ref = await referenceDecode(f, 6, 9, colorMode);
        expect(Buffer.from(b.images.subarray(i * per, (i + 1) * per)).equals(ref)).toBe(true);
      }
    }
  });

  it('indexes only what fromDirectory finds', async () => {
    const index = await fromDirectory(path.join(root, 'data'));
    expect(index.size).toBe(files.length);
  });
});

describeBothPaths('recycled batches', () => {
  it('fill again the arrays handed back, with the same pixels and labels as fresh ones', async () => {
    const opts = { imageSize: [12, 10] as const, batchSize: 4, shuffle: true, seed: 3, labelMode: 'categorical' as const, workers: 2 };
    const fresh = new ImageLoader(await fromDirectory(path.join(root, 'data')), opts);
    const reused = new ImageLoader(await fromDirectory(path.join(root, 'data')), opts);
    const expected = await collect(fresh);
    const seen: { images: Float32Array | Uint8Array; labels: Float32Array; paths: string[] }[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const batch of reused) {
      buffers.add(batch.images.buffer);
      seen.push({ images: batch.images.slice(), labels: (batch.labels as Float32Array).slice(), paths: batch.paths });
      reused.recycle(batch);
      reused.recycle(batch); // a second hand-back of the same batch is ignored
    }
    await Promise.all([fresh.close(), reused.close()]);
    expect(seen.map((b) => b.paths)).toEqual(expected.map((b) => b.paths));
    seen.forEach((b, i) => {
      expect(Array.from(b.images)).toEqual(Array.from(expected[i].images));
      // one-hot rows are cleared before a reused label array is filled again
      expect(Array.from(b.labels)).toEqual(Array.from(expected[i].labels as Float32Array));
    });
    // Full batches reuse one pair of arrays; the short last batch is a view on their start.
    const full = expected.filter((b) => b.shape[0] === 4).length;
    expect(full).toBeGreaterThan(2);
    expect(full).toBeLessThan(expected.length);
    expect(buffers.size).toBe(1);
    const last = expected[expected.length - 1];
    expect(last.images.length).toBe(last.shape[0] * 12 * 10 * 3);
    expect(() => reused.recycle({} as Batch)).toThrow(/Expected a batch yielded by this loader for batch/);
  });
});
