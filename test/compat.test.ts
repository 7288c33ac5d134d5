import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { imageDatasetFromDirectory, type ImageLoader } from '../src/index.js';
import { toTfDataset } from '../src/tf/index.js';
import { removeDir, tempDir, texturedRaw, writeImage } from './fixtures/images.js';
import { collect } from './fixtures/pipeline.js';
import { runReference } from './fixtures/python.js';

let base: string;
let root: string;
/** Every image of the tree by its path relative to the root. */
const images: string[] = [];

/**
 * Class folders of PNGs and JPEGs of varied sizes and aspect ratios, with what the listing rules decide about:
 * a hidden file, a linked folder, a webp (not one of Keras' formats), a nested folder.
 */
beforeAll(async () => {
  base = tempDir('imgstream-compat-');
  root = path.join(base, 'data');
  let seed = 1;
  const add = async (rel: string, width: number, height: number) => {
    images.push(rel);
    await writeImage(path.join(root, rel), { width, height, seed: seed++ });
  };
  for (let i = 0; i < 12; i++) await add(`cat/${i}.png`, 40 + 7 * i, 30 + 5 * (i % 4));
  for (let i = 0; i < 9; i++) await add(`dog/${i}.jpg`, 33 + 3 * i, 61 - 2 * i);
  await add('cat/.hidden.png', 50, 40);
  await add('cat/inner/deep.png', 45, 45);
  await add('dog/photo.webp', 30, 30);
  await add('outside/linked.png', 30, 50);
  symlinkSync(path.join(root, 'outside'), path.join(root, 'dog', 'link'));
});
afterAll(() => removeDir(base));

interface Listing {
  paths: string[];
  labels: number[];
  classNames: string[];
  messages: string[];
}

async function kerasListing(c: object): Promise<Listing> {
  const [ref] = JSON.parse(await runReference('listing_reference.py', [{ loader: 'keras', dir: root, ...c }]));
  return ref;
}

const relative = (paths: readonly string[]) => paths.map((p) => path.relative(root, p));

describe("compat: 'keras'", () => {
  it("serves Keras' file lists for the training and validation subsets, and prints Keras' lines", async () => {
    for (const [seed, validationSplit] of [
      [1337, 0.2],
      [7, 0.5],
    ] as const) {
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      let train: ImageLoader;
      let val: ImageLoader;
      let printed: string[];
      try {
        [train, val] = await imageDatasetFromDirectory(root, {
          compat: 'keras',
          imageSize: [16, 16],
          validationSplit,
          subset: 'both',
          seed,
        });
      } finally {
        printed = log.mock.calls.map((c) => c.join(' '));
        log.mockRestore();
      }
      for (const subset of ['training', 'validation'] as const) {
        const ref = await kerasListing({ seed, validationSplit, subset, shuffle: true });
        const loader = subset === 'training' ? train : val;
        expect(relative(loader.filePaths)).toEqual(ref.paths);
        expect(loader.classNames).toEqual(ref.classNames);
        expect(printed).toEqual(expect.arrayContaining(ref.messages));
      }
      // the validation subset keeps Keras' order, epoch after epoch
      const epochs = [await collect(val), await collect(val)].map((e) => relative(e.flatMap((b) => b.paths)));
      expect(epochs[0]).toEqual(relative(val.filePaths));
      expect(epochs[1]).toEqual(epochs[0]);
      await Promise.all([train.close(), val.close()]);
    }
  });

  it('requires a seed to shuffle with a split, as Keras does', async () => {
    await expect(imageDatasetFromDirectory(root, { compat: 'keras', validationSplit: 0.2, subset: 'training', verbose: false })).rejects.toThrow(
      /seed/,
    );
  });

  for (const method of ['bilinear', 'nearest', 'bicubic', 'area', 'lanczos3', 'lanczos5', 'gaussian', 'mitchellcubic'] as const) {
    for (const fit of ['stretch', 'crop', 'pad'] as const) {
      it(`gives tf.image.resize's values (${method}, ${fit}) within 0.5 levels MAD`, async () => {
        const [height, width] = [24, 20];
        const loader = await imageDatasetFromDirectory(root, {
          compat: 'keras',
          verbose: false,
          imageSize: [height, width],
          interpolation: method,
          cropToAspectRatio: fit === 'crop',
          padToAspectRatio: fit === 'pad',
          shuffle: false,
          batchSize: 64,
          workers: 1,
        });
        const [batch] = await collect(loader);
        await loader.close();
        const per = height * width * 3;
        const jobs = batch.paths.map((file, i) => ({ kind: 'tf', file, height, width, method, fit, out: path.join(base, `k${i}.f32`) }));
        await runReference('resize_reference.py', jobs);
        let sum = 0;
        batch.paths.forEach((_, i) => {
          const b = readFileSync(jobs[i].out);
          const ref = new Float32Array(b.buffer, b.byteOffset, per);
          for (let k = 0; k < per; k++) sum += Math.abs(batch.images[i * per + k] - ref[k]);
        });
        expect(sum / (per * batch.paths.length)).toBeLessThan(0.5);
      });
    }
  }

  it('ignores EXIF orientation and gives int32 labels in imgstream/tf', async () => {
    const dir = path.join(base, 'oriented');
    await writeImage(path.join(dir, 'a', 'rot.jpg'), { width: 40, height: 24, seed: 3, orientation: 6 });
    await writeImage(path.join(dir, 'b', 'plain.png'), { width: 40, height: 24, seed: 4 });
    const loader = await imageDatasetFromDirectory(dir, { compat: 'keras', verbose: false, imageSize: [24, 40], shuffle: false, dtype: 'uint8' });
    const [batch] = await collect(loader);
    // unrotated: the stored 40x24 picture fills the 24x40 target without distortion, as PIL sees it
    const stored = await sharp(path.join(dir, 'a', 'rot.jpg')).raw().toBuffer();
    let diff = 0;
    for (let k = 0; k < stored.length; k++) diff += Math.abs(batch.images[k] - stored[k]);
    expect(diff / stored.length).toBeLessThan(0.5);
    const ds = toTfDataset(loader);
    const it = await ds.iterator();
    const { value } = await it.next();
    expect(value.ys.dtype).toBe('int32');
    expect(Array.from(await value.ys.data())).toEqual([0, 1]);
    value.xs.dispose();
    value.ys.dispose();
    await loader.close();
  });
});

describe("compat: 'torchvision'", () => {
  it("lists as ImageFolder and resizes as PIL (each filter) within 0.2 levels MAD", async () => {
    const [ref] = JSON.parse(await runReference('listing_reference.py', [{ loader: 'torchvision', dir: root }]));
    for (const [interpolation, filter] of [
      ['bilinear', 'bilinear'],
      ['nearest', 'nearest'],
      ['bicubic', 'bicubic'],
      ['lanczos3', 'lanczos'],
    ] as const) {
      const [height, width] = [22, 26];
      const loader = await imageDatasetFromDirectory(root, {
        compat: 'torchvision',
        imageSize: [height, width],
        interpolation,
        shuffle: false,
        dtype: 'uint8',
        batchSize: 64,
        workers: 1,
      });
      const [batch] = await collect(loader);
      await loader.close();
      expect(relative(batch.paths)).toEqual(ref.paths);
      expect(Array.from(batch.labels as Int32Array)).toEqual(ref.labels);
      const jobs = batch.paths.map((file, i) => ({ kind: 'pil', file, height, width, method: filter, out: path.join(base, `t${i}.u8`) }));
      await runReference('resize_reference.py', jobs);
      const per = height * width * 3;
      let sum = 0;
      let exact = 0;
      batch.paths.forEach((_, i) => {
        const b = readFileSync(jobs[i].out);
        for (let k = 0; k < per; k++) {
          const d = Math.abs(batch.images[i * per + k] - b[k]);
          sum += d;
          if (d === 0) exact++;
        }
      });
      const total = per * batch.paths.length;
      expect(sum / total, filter).toBeLessThan(0.2);
      expect(exact / total, filter).toBeGreaterThan(0.95);
    }
  });
});

describe('one colour policy for both decoders', () => {
  it('ignores an embedded ICC profile in the JPEG fast path and in sharp alike (iccProfile: ignore)', async () => {
    const dir = path.join(base, 'icc');
    mkdirSync(path.join(dir, 'x'), { recursive: true });
    const file = path.join(dir, 'x', 'p3.jpg');
    await sharp(texturedRaw(64, 48, 11), { raw: { width: 64, height: 48, channels: 3 } })
      .withIccProfile('p3')
      .jpeg({ quality: 95 })
      .toFile(file);
    const decodeWith = async (decoder: 'auto' | 'sharp', iccProfile: 'ignore' | 'srgb') => {
      const loader = await imageDatasetFromDirectory(dir, { imageSize: [24, 32], dtype: 'uint8', decoder, iccProfile });
      const [batch] = await collect(loader);
      await loader.close();
      return batch.images;
    };
    const mad = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let s = 0;
      for (let k = 0; k < a.length; k++) s += Math.abs(a[k] - b[k]);
      return s / a.length;
    };
    const fast = await decodeWith('auto', 'ignore');
    const slow = await decodeWith('sharp', 'ignore');
    const converted = await decodeWith('auto', 'srgb');
    expect(mad(fast, slow)).toBeLessThan(2);
    expect(mad(converted, slow)).toBeGreaterThan(mad(fast, slow));
  });
});
