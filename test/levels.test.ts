/**
 * float32 batches from 8-bit levels (`src/levels.ts`): every value is numpy's float32 `level * scale + offset`
 * of the same loader's uint8 batch, bit for bit, on both decode paths (the native conversion with the addon,
 * the JavaScript one without it) and for 1, 3 and 4 channels; and the ring holds levels, a quarter of the bytes.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ImageLoader, fromList, type ImageDatasetOptions } from '../src/index.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';
import { collect, describeBothPaths } from './fixtures/pipeline.js';
import { runReference } from './fixtures/python.js';
import { nativeAddon } from '../src/native/addon.js';

let root: string;
let files: string[];

beforeAll(async () => {
  root = tempDir();
  ({ files } = await makeClassFolders(path.join(root, 'data'), { a: 4, b: 3 }));
});
afterAll(() => removeDir(root));

type Normalize = ImageDatasetOptions['normalize'];

async function reference(levels: Uint8Array, channels: number, normalize: Normalize): Promise<Uint32Array> {
  const out = await runReference('levels_reference.py', { levels: Array.from(levels), channels, normalize: normalize ?? 'none' });
  return Uint32Array.from(JSON.parse(out) as number[]);
}

describeBothPaths('float32 from levels', () => {
  const cases: { colorMode: 'rgb' | 'grayscale' | 'rgba'; normalize: Normalize }[] = [
    { colorMode: 'rgb', normalize: 'none' },
    { colorMode: 'rgb', normalize: 'unit' },
    { colorMode: 'rgb', normalize: 'symmetric' },
    { colorMode: 'rgb', normalize: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
    { colorMode: 'grayscale', normalize: 'unit' },
    { colorMode: 'rgba', normalize: { mean: 0.5, std: 0.25 } },
  ];
  for (const { colorMode, normalize } of cases) {
    it(`${colorMode}, normalize ${JSON.stringify(normalize)}: numpy's float32 values of the uint8 batch, bit for bit`, async () => {
      const list = fromList(files);
      // 13x11: a row's values are not a whole number of vectors, so the conversion's tails run too.
      const opts = { imageSize: [13, 11] as [number, number], colorMode, labelMode: null, shuffle: false, batchSize: 4, workers: 2 } as const;
      const raw = await collect(new ImageLoader(list, { ...opts, dtype: 'uint8' }), { close: true });
      const floats = new ImageLoader(list, { ...opts, dtype: 'float32', normalize });
      expect(floats.options.spec.slotDtype).toBe('uint8');
      expect(floats.options.slotBytes * 4).toBe(floats.options.sampleBytes);
      const out = await collect(floats, { close: true });
      expect(floats.stats.ring.bytes).toBe(floats.options.capacity * floats.options.slotBytes);
      expect(out.map((b) => b.paths)).toEqual(raw.map((b) => b.paths));
      const channels = colorMode === 'rgb' ? 3 : colorMode === 'grayscale' ? 1 : 4;
      for (let i = 0; i < out.length; i++) {
        const images = out[i].images;
        expect(images).toBeInstanceOf(Float32Array);
        const expected = await reference(raw[i].images as Uint8Array, channels, normalize);
        const bits = new Uint32Array(images.buffer, images.byteOffset, images.length);
        expect(bits.length).toBe(expected.length);
        expect(Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).equals(Buffer.from(expected.buffer))).toBe(true);
      }
    });
  }

  it('keeps float32 slots where the values are not the levels alone (augmentation)', () => {
    const loader = new ImageLoader(fromList(files), { imageSize: [13, 11], labelMode: null, augment: { horizontalFlip: 0.5 } });
    expect(loader.options.spec.slotDtype).toBe('float32');
    expect(loader.options.slotBytes).toBe(loader.options.sampleBytes);
  });
});

const addon = nativeAddon();
it.skipIf(addon === null)('native expandLevels: any alignment and length, nothing outside its range, refuses what does not fit', async () => {
  const levels = Uint8Array.from({ length: 3 * 61 }, (_, i) => (i * 37 + 11) & 255);
  const scale = Float32Array.of(1 / (255 * 0.229), 1 / (255 * 0.224), 1 / (255 * 0.225));
  const offset = Float32Array.of(-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225);
  const expected = await reference(levels, 3, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  for (let at = 0; at < 9; at++) {
    const out = new Float32Array(levels.length + 20).fill(-7);
    expect(addon!.expandLevels(levels, out, at, scale, offset)).toBe(true);
    expect(Buffer.from(out.buffer, at * 4, levels.length * 4).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(out.subarray(0, at).every((v) => v === -7) && out.subarray(at + levels.length).every((v) => v === -7)).toBe(true);
  }
  const small = new Float32Array(levels.length);
  expect(addon!.expandLevels(levels, small, 1, scale, offset)).toBe(false);
  expect(addon!.expandLevels(levels.subarray(1), small, 0, scale, offset)).toBe(false);
  expect(addon!.expandLevels(levels, small, 0, scale, offset.subarray(1))).toBe(false);
  expect(small.every((v) => v === 0)).toBe(true);
});
