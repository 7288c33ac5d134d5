/**
 * Rec. 601 luma on gamma-encoded values, in PIL's integer form (`convert('L')`):
 * `L = (19595 R + 38470 G + 7471 B + 32768) >> 16`, i.e. 0.299 R + 0.587 G + 0.114 B rounded. It is also
 * what a JPEG's Y plane holds, so it is what libjpeg, TF's `decode_jpeg(channels=1)` and PIL all give.
 */
import type { Image8 } from './taps.js';

/** The grayscale image of an RGB (3 channels) or RGBA (4, alpha dropped) image. */
export function rec601Gray(src: Image8): Image8 {
  const { data, width, height, channels } = src;
  if (channels === 1) return src;
  const out = new Uint8Array(width * height);
  for (let p = 0, i = 0; p < out.length; p++, i += channels) {
    out[p] = (data[i] * 19595 + data[i + 1] * 38470 + data[i + 2] * 7471 + 0x8000) >>> 16;
  }
  return { data: out, width, height, channels: 1 };
}
