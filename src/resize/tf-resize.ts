/**
 * TensorFlow 2's `tf.image.resize(images, size, method, antialias=False)`, which Keras'
 * `image_dataset_from_directory` calls on the full-size decoded image: half-pixel centres for `bilinear`,
 * `nearest` and `bicubic` (Keys, a = -0.5, weights from TF's 1024-entry table, taps outside the image
 * dropped and the rest renormalised), `area` as TF's `resize_area` (box coverage, no half-pixel offset), and
 * `lanczos3`, `lanczos5`, `gaussian`, `mitchellcubic` as TF's `scale_and_translate` kernels. Coordinates are
 * computed in float32 as TF computes them, so that floors and table offsets land where TF's do.
 */
import { axisTaps, resampleFloat, type AxisTaps, type Image8 } from './taps.js';

/** Keras' `interpolation` values, the methods of `tf.image.resize`. */
export const TF_INTERPOLATIONS = [
  'bilinear',
  'nearest',
  'bicubic',
  'area',
  'lanczos3',
  'lanczos5',
  'gaussian',
  'mitchellcubic',
] as const;
export type TfInterpolation = (typeof TF_INTERPOLATIONS)[number];

const f32 = Math.fround;
const clamp = (v: number, size: number) => Math.min(size - 1, Math.max(0, v));

function bilinearAxis(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const lists: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const at = f32(f32(f32(o + 0.5) * scale) - 0.5);
    const floor = Math.floor(at);
    const lerp = f32(at - floor);
    lists.push([
      [Math.max(floor, 0), 1 - lerp],
      [Math.min(Math.ceil(at), inSize - 1), lerp],
    ]);
  }
  return axisTaps(lists);
}

function nearestAxis(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const lists: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) lists.push([[clamp(Math.floor(f32(f32(o + 0.5) * scale)), inSize), 1]]);
  return axisTaps(lists);
}

const CUBIC_TABLE_SIZE = 1024;
/** TF's Keys cubic table (a = -0.5): entry 2i is the weight at distance i/1024, 2i+1 at 1 + i/1024. */
const CUBIC_TABLE = (() => {
  const a = -0.5;
  const table = new Float32Array((CUBIC_TABLE_SIZE + 1) * 2);
  for (let i = 0; i <= CUBIC_TABLE_SIZE; i++) {
    let x = f32(i / CUBIC_TABLE_SIZE);
    table[i * 2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = f32(x + 1);
    table[i * 2 + 1] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  }
  return table;
})();

/** C's `lrintf` in the default rounding mode: to nearest, ties to even. */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function bicubicAxis(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const lists: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const at = f32(f32(f32(o + 0.5) * scale) - 0.5);
    const base = Math.floor(at);
    const offset = roundHalfEven(f32(f32(at - base) * CUBIC_TABLE_SIZE));
    const raw = [
      CUBIC_TABLE[offset * 2 + 1],
      CUBIC_TABLE[offset * 2],
      CUBIC_TABLE[(CUBIC_TABLE_SIZE - offset) * 2],
      CUBIC_TABLE[(CUBIC_TABLE_SIZE - offset) * 2 + 1],
    ];
    const taps: Array<[number, number]> = raw.map((w, k) => {
      const wanted = base - 1 + k;
      const index = clamp(wanted, inSize);
      return [index, index === wanted ? w : 0];
    });
    const sum = taps.reduce((s, [, w]) => s + w, 0);
    if (Math.abs(sum) > 0) for (const tap of taps) tap[1] /= sum;
    lists.push(taps);
  }
  return axisTaps(lists);
}

function areaAxis(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const lists: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const from = f32(o * scale);
    const to = f32((o + 1) * scale);
    const taps: Array<[number, number]> = [];
    for (let i = Math.floor(from); i < Math.ceil(to); i++) {
      const cover = i < from ? (i + 1 > to ? scale : i + 1 - from) : i + 1 > to ? to - i : 1;
      taps.push([clamp(i, inSize), cover / scale]);
    }
    lists.push(taps);
  }
  return axisTaps(lists);
}

interface Kernel {
  readonly radius: number;
  weight(x: number): number;
}

const lanczos = (radius: number): Kernel => ({
  radius,
  weight(x) {
    const pi = 3.14159265359;
    x = Math.abs(x);
    if (x > radius) return 0;
    if (x <= 1e-3) return 1;
    return (radius * Math.sin(pi * x) * Math.sin((pi * x) / radius)) / (pi * pi * x * x);
  },
});

const KERNELS: Record<'lanczos3' | 'lanczos5' | 'gaussian' | 'mitchellcubic', Kernel> = {
  lanczos3: lanczos(3),
  lanczos5: lanczos(5),
  // TF's Gaussian: radius 1.5, sigma = radius / 3.
  gaussian: {
    radius: 1.5,
    weight(x) {
      x = Math.abs(x);
      if (x >= 1.5) return 0;
      return Math.exp((-x * x) / (2 * 0.5 * 0.5));
    },
  },
  // Mitchell-Netravali, B = C = 1/3.
  mitchellcubic: {
    radius: 2,
    weight(x) {
      x = Math.abs(x);
      if (x >= 2) return 0;
      if (x >= 1) return (((-7 / 18) * x + 2) * x - 10 / 3) * x + 16 / 9;
      return ((7 / 6) * x - 2) * x * x + 8 / 9;
    },
  },
};

/** `scale_and_translate` with zero translation and no antialiasing: the kernel at its own width. */
function kernelAxis(inSize: number, outSize: number, kernel: Kernel): AxisTaps {
  const invScale = f32(1 / f32(outSize / inSize));
  const lists: Array<Array<[number, number]>> = [];
  for (let o = 0; o < outSize; o++) {
    const at = f32(f32(o + 0.5) * invScale);
    const first = clamp(Math.ceil(at - kernel.radius - 0.5), inSize);
    const last = clamp(Math.floor(at + kernel.radius - 0.5), inSize);
    const taps: Array<[number, number]> = [];
    let sum = 0;
    for (let i = first; i <= last; i++) {
      const w = kernel.weight(i + 0.5 - at);
      taps.push([i, w]);
      sum += w;
    }
    if (Math.abs(sum) > 0) for (const tap of taps) tap[1] /= sum;
    lists.push(taps);
  }
  return axisTaps(lists);
}

function axis(method: TfInterpolation, inSize: number, outSize: number): AxisTaps {
  switch (method) {
    case 'bilinear':
      return bilinearAxis(inSize, outSize);
    case 'nearest':
      return nearestAxis(inSize, outSize);
    case 'bicubic':
      return bicubicAxis(inSize, outSize);
    case 'area':
      return areaAxis(inSize, outSize);
    default:
      return kernelAxis(inSize, outSize, KERNELS[method]);
  }
}

/** `tf.image.resize(src, [height, width], method)` with `antialias=False`: float32 values, unrounded. */
export function tfResize(src: Image8, height: number, width: number, method: TfInterpolation): Float32Array {
  return resampleFloat(src, axis(method, src.width, width), axis(method, src.height, height));
}
