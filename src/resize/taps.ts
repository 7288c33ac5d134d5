/**
 * Separable resampling on a full-size 8-bit image: each output coordinate of an axis is a short list of
 * (source index, weight) taps, and the image is resampled rows first, then columns. The reference resamplers
 * (`tf-resize.ts`, `pil-resize.ts`) differ only in how they place taps and in how they round; this module
 * holds the part they share.
 */

/** An interleaved 8-bit image, `height` rows of `width` pixels of `channels` values. */
export interface Image8 {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** The `height` x `width` region of `src` at (`top`, `left`), copied out. */
export function cropImage(src: Image8, top: number, left: number, height: number, width: number): Image8 {
  const { channels } = src;
  const out = new Uint8Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * src.width + left) * channels;
    out.set(src.data.subarray(from, from + width * channels), y * width * channels);
  }
  return { data: out, width, height, channels };
}

/**
 * The taps of one axis: output coordinate `o` reads `index[k]` with `weight[k]` for
 * `start[o] <= k < start[o + 1]`. An index may repeat (a clamped border) and a weight may be zero.
 */
export interface AxisTaps {
  readonly size: number;
  readonly start: Int32Array;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

/** Builds an axis from one tap list per output coordinate. */
export function axisTaps(lists: ReadonlyArray<ReadonlyArray<readonly [number, number]>>): AxisTaps {
  const size = lists.length;
  const start = new Int32Array(size + 1);
  let total = 0;
  for (let o = 0; o < size; o++) {
    start[o] = total;
    total += lists[o].length;
  }
  start[size] = total;
  const index = new Int32Array(total);
  const weight = new Float64Array(total);
  let k = 0;
  for (const list of lists) {
    for (const [i, w] of list) {
      index[k] = i;
      weight[k] = w;
      k++;
    }
  }
  return { size, start, index, weight };
}

/**
 * Resamples `src` with `rows` (taps along x) then `cols` (taps along y) in float64, without rounding:
 * `tf.image.resize` returns float32 values and keeps every fraction.
 */
export function resampleFloat(src: Image8, columns: AxisTaps, rows: AxisTaps): Float32Array {
  const { width, height, channels, data } = src;
  const outWidth = columns.size;
  const outHeight = rows.size;
  const across = new Float64Array(height * outWidth * channels);
  for (let y = 0; y < height; y++) {
    const rowIn = y * width * channels;
    const rowOut = y * outWidth * channels;
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = columns.start[x]; k < columns.start[x + 1]; k++) {
          sum += data[rowIn + columns.index[k] * channels + c] * columns.weight[k];
        }
        across[rowOut + x * channels + c] = sum;
      }
    }
  }
  const out = new Float32Array(outHeight * outWidth * channels);
  const stride = outWidth * channels;
  for (let y = 0; y < outHeight; y++) {
    for (let i = 0; i < stride; i++) {
      let sum = 0;
      for (let k = rows.start[y]; k < rows.start[y + 1]; k++) sum += across[rows.index[k] * stride + i] * rows.weight[k];
      out[y * stride + i] = sum;
    }
  }
  return out;
}
