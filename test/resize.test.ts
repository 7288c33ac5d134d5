import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kerasCropBox, kerasPadBox } from '../src/resize/keras-geometry.js';
import { rec601Gray } from '../src/resize/gray.js';
import { PIL_FILTERS, pilResize } from '../src/resize/pil-resize.js';
import { TF_INTERPOLATIONS, tfResize, type TfInterpolation } from '../src/resize/tf-resize.js';
import type { Image8 } from '../src/resize/taps.js';
import { removeDir, tempDir, texturedRaw } from './fixtures/images.js';
import { runReference } from './fixtures/python.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('imgstream-resize-');
});
afterAll(() => removeDir(dir));

let jobs = 0;
function image(data: ArrayLike<number>, height: number, width: number, channels: number): Image8 {
  return { data: Uint8Array.from(data), width, height, channels };
}

interface Job {
  kind: 'tf' | 'pil' | 'gray';
  src: Image8;
  height?: number;
  width?: number;
  method?: string;
}

/** Runs the jobs through the Python reference; returns each job's output bytes. */
async function reference(list: Job[]): Promise<Buffer[]> {
  const files = list.map((job) => {
    const id = jobs++;
    const input = path.join(dir, `in-${id}.raw`);
    writeFileSync(input, job.src.data);
    return {
      kind: job.kind,
      in: input,
      inHeight: job.src.height,
      inWidth: job.src.width,
      channels: job.src.channels,
      height: job.height,
      width: job.width,
      method: job.method,
      out: path.join(dir, `out-${id}.raw`),
    };
  });
  await runReference('resize_reference.py', files);
  return files.map((f) => readFileSync(f.out));
}

const asFloat = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { mad: number; max: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mad: sum / a.length, max };
}

const photo = image(texturedRaw(131, 97, 5), 97, 131, 3);
/** Down by uneven factors, up, one axis only, and a strong shrink (wide antialiasing support in PIL). */
const TARGETS: Array<[number, number]> = [
  [40, 56],
  [150, 170],
  [97, 60],
  [13, 131],
  [9, 11],
];

describe('the numpy reference of tf.image.resize', () => {
  it('matches hand-computed values for each kind of tap', async () => {
    const ramp = image([0, 100], 1, 2, 1);
    const spike = image([0, 0, 90, 0, 0], 1, 5, 1);
    const cases: Array<[Image8, number, TfInterpolation]> = [
      [ramp, 4, 'bilinear'],
      [image([10, 20, 30, 40], 1, 4, 1), 2, 'nearest'],
      [image([10, 20, 30], 1, 3, 1), 2, 'area'],
      [ramp, 4, 'bicubic'],
      [spike, 5, 'mitchellcubic'],
      [spike, 5, 'gaussian'],
      [spike, 5, 'lanczos3'],
    ];
    const outputs = await reference(cases.map(([src, width, method]) => ({ kind: 'tf', src, height: 1, width, method })));
    const [bilinear, nearest, area, bicubic, mitchell, gaussian, lanczos3] = outputs.map((o) => Array.from(asFloat(o)));
    // bilinear 2 -> 4: half-pixel centres at -0.25, 0.25, 0.75, 1.25, clamped at the borders
    expect(bilinear).toEqual([0, 25, 75, 100]);
    // nearest 4 -> 2 picks floor((o + 0.5) * 2) = 1, 3
    expect(nearest).toEqual([20, 40]);
    // area 3 -> 2: [0, 1.5) and [1.5, 3) covered
    expect(area[0]).toBeCloseTo((10 + 20 * 0.5) / 1.5, 4);
    expect(area[1]).toBeCloseTo((20 * 0.5 + 30) / 1.5, 4);
    // bicubic 2 -> 4, output 1 at 0.25: Keys weights 0.8671875 (index 0) and 0.2265625 (index 1), the
    // out-of-image taps dropped and the two renormalised
    expect(bicubic[1]).toBeCloseTo((100 * 0.2265625) / 1.09375, 4);
    // same size: Mitchell weighs the neighbours 1/18 and the centre 8/9; Gaussian (sigma 0.5) e^-2 and 1;
    // Lanczos is the identity at integer offsets
    expect(mitchell[2]).toBeCloseTo(80, 4);
    expect(mitchell[1]).toBeCloseTo(5, 4);
    expect(gaussian[2]).toBeCloseTo(90 / (1 + 2 * Math.exp(-2)), 4);
    lanczos3.forEach((v, i) => expect(v).toBeCloseTo(spike.data[i], 4));
  });
});

describe('tfResize (Keras)', () => {
  it('gives the hand-computed values too', () => {
    expect(Array.from(tfResize(image([0, 100], 1, 2, 1), 1, 4, 'bilinear'))).toEqual([0, 25, 75, 100]);
    expect(tfResize(image([0, 100], 1, 2, 1), 1, 4, 'bicubic')[1]).toBeCloseTo((100 * 0.2265625) / 1.09375, 2);
    expect(tfResize(image([0, 0, 90, 0, 0], 1, 5, 1), 1, 5, 'mitchellcubic')[2]).toBeCloseTo(80, 4);
  });

  it.each(TF_INTERPOLATIONS)('%s: within 0.5 levels MAD of the reference on every target size', async (method) => {
    const jobsFor = TARGETS.map(([height, width]) => ({ kind: 'tf' as const, src: photo, height, width, method }));
    const outputs = await reference(jobsFor);
    TARGETS.forEach(([height, width], i) => {
      const { mad, max } = meanAbsDiff(tfResize(photo, height, width, method), asFloat(outputs[i]));
      expect(mad, `${method} ${height}x${width}`).toBeLessThan(0.5);
      // Coordinates are TF's float32 ones: away from the table-quantised bicubic, values agree to float error.
      if (method !== 'bicubic') expect(max, `${method} ${height}x${width}`).toBeLessThan(0.01);
    });
  });
});

describe("pilResize (torchvision's PIL)", () => {
  it.each(PIL_FILTERS)('%s: equal to PIL on every target size', async (filter) => {
    for (const src of [photo, image(texturedRaw(131, 97, 9, 1), 97, 131, 1)]) {
      const outputs = await reference(TARGETS.map(([height, width]) => ({ kind: 'pil', src, height, width, method: filter })));
      TARGETS.forEach(([height, width], i) => {
        const ours = pilResize(src, width, height, filter);
        expect([ours.height, ours.width]).toEqual([height, width]);
        const { mad, max } = meanAbsDiff(ours.data, outputs[i]);
        expect(mad, `${filter} ${height}x${width}x${src.channels}`).toBeLessThan(0.2);
        expect(max, `${filter} ${height}x${width}x${src.channels}`).toBe(0);
      });
    }
  });
});

describe('rec601Gray', () => {
  it("equals PIL's convert('L')", async () => {
    const [ref] = await reference([{ kind: 'gray', src: photo }]);
    expect(Buffer.from(rec601Gray(photo).data).equals(ref)).toBe(true);
  });
});

describe('Keras crop and pad boxes', () => {
  const sizes: Array<[number, number, number, number]> = [];
  for (const [h, w] of [
    [480, 640],
    [640, 480],
    [333, 501],
    [1, 999],
    [97, 131],
    [224, 224],
    [1080, 1920],
  ]) {
    for (const [th, tw] of [
      [224, 224],
      [180, 320],
      [299, 150],
      [7, 3],
    ]) {
      sizes.push([h, w, th, tw]);
    }
  }
  const boxes = async (kind: 'crop' | 'pad') => {
    const out = path.join(dir, `${kind}.json`);
    await runReference('resize_reference.py', [{ kind, sizes, out }]);
    return JSON.parse(readFileSync(out, 'utf8'));
  };

  it("smart_resize's crop box", async () => {
    expect(sizes.map((s) => kerasCropBox(...s))).toEqual(await boxes('crop'));
  });

  it("resize_with_pad's box", async () => {
    expect(sizes.map((s) => kerasPadBox(...s))).toEqual(await boxes('pad'));
  });
});
