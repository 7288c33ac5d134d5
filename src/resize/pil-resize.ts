/**
 * PIL's `Image.resize(size, resample)` on an 8-bit image, which torchvision's `Resize` calls on the
 * `pil_loader`'s RGB image. The convolution filters follow PIL's `Resample.c`: support widened by the
 * downscale factor (antialiasing), weights normalised in double and rounded to 22-bit fixed point,
 * a horizontal pass into an 8-bit image, then a vertical pass, each rounding half up and clamping.
 * `nearest` is PIL's affine scaling: source index `floor((o + 0.5) * in / out)`, the position accumulated
 * step by step as PIL accumulates it.
 */
import type { Image8 } from './taps.js';

/** torchvision's `InterpolationMode` values that map to PIL filters. */
export const PIL_FILTERS = ['nearest', 'bilinear', 'bicubic', 'lanczos'] as const;
export type PilFilter = (typeof PIL_FILTERS)[number];

interface Filter {
  readonly support: number;
  weight(x: number): number;
}

const sinc = (x: number) => {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
};

const FILTERS: Record<Exclude<PilFilter, 'nearest'>, Filter> = {
  bilinear: {
    support: 1,
    weight(x) {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  bicubic: {
    support: 2,
    weight(x) {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: {
    support: 3,
    weight(x) {
      return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** One axis's fixed-point taps: output `o` reads `count[o]` sources from `first[o]` with `ksize` slots each. */
interface FixedTaps {
  readonly ksize: number;
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly weight: Int32Array;
}

function fixedTaps(inSize: number, outSize: number, filter: Filter): FixedTaps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weight = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const ss = 1 / filterScale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.weight((x + xmin - center + 0.5) * ss);
      total += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x] / total : k[x];
      weight[o * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[o] = xmin;
    count[o] = xmax;
  }
  return { ksize, first, count, weight };
}

const clip8 = (sum: number) => Math.min(255, Math.max(0, Math.floor(sum / ONE)));

function horizontal(src: Image8, taps: FixedTaps, outWidth: number): Image8 {
  const { width, height, channels, data } = src;
  const out = new Uint8Array(height * outWidth * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      const base = x * taps.ksize;
      const from = taps.first[x];
      for (let c = 0; c < channels; c++) {
        let sum = ONE / 2;
        for (let i = 0; i < taps.count[x]; i++) sum += data[rowIn + (from + i) * channels + c] * taps.weight[base + i];
        out[rowOut + x * channels + c] = clip8(sum);
      }
    }
  }
  return { data: out, width: outWidth, height, channels };
}

function vertical(src: Image8, taps: FixedTaps, outHeight: number): Image8 {
  const { width, channels, data } = src;
  const stride = width * channels;
  const out = new Uint8Array(outHeight * stride);
  for (let y = 0; y < outHeight; y++) {
    const base = y * taps.ksize;
    const from = taps.first[y];
    for (let i = 0; i < stride; i++) {
      let sum = ONE / 2;
      for (let t = 0; t < taps.count[y]; t++) sum += data[(from + t) * stride + i] * taps.weight[base + t];
      out[y * stride + i] = clip8(sum);
    }
  }
  return { data: out, width, height: outHeight, channels };
}

function nearest(src: Image8, width: number, height: number): Image8 {
  const { channels, data } = src;
  const positions = (inSize: number, outSize: number) => {
    const step = inSize / outSize;
    const at = new Int32Array(outSize);
    let position = step * 0.5;
    for (let o = 0; o < outSize; o++) {
      at[o] = Math.min(inSize - 1, Math.trunc(position));
      position += step;
    }
    return at;
  };
  const xs = positions(src.width, width);
  const ys = positions(src.height, height);
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = ys[y] * src.width * channels;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = data[rowIn + xs[x] * channels + c];
    }
  }
  return { data: out, width, height, channels };
}

/** `image.resize((width, height), filter)` as PIL computes it, 8-bit in and out. */
export function pilResize(src: Image8, width: number, height: number, filter: PilFilter): Image8 {
  if (width === src.width && height === src.height) return { ...src, data: src.data.slice() };
  if (filter === 'nearest') return nearest(src, width, height);
  let image = src;
  if (width !== src.width) image = horizontal(image, fixedTaps(src.width, width, FILTERS[filter]), width);
  if (height !== src.height) image = vertical(image, fixedTaps(src.height, height, FILTERS[filter]), height);
  return image;
}
