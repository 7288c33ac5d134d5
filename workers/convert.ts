/**
 * The last step of every decode path: 8-bit interleaved pixels into the slot's typed array, converting to
 * the output dtype and normalization in the same pass.
 */
import type { DecodeSpec } from '../src/protocol.js';

export function writeConverted(out: Float32Array | Uint8Array, pixels: Uint8Array, spec: DecodeSpec): void {
  const n = out.length;
  if (out instanceof Uint8Array) {
    out.set(pixels.subarray(0, n));
    return;
  }
  const norm = spec.normalization;
  if (norm === null) {
    for (let i = 0; i < n; i++) out[i] = pixels[i];
    return;
  }
  const c = spec.channels;
  const { scale, offset } = norm;
  for (let ch = 0; ch < c; ch++) {
    const s = scale[ch];
    const o = offset[ch];
    for (let i = ch; i < n; i += c) out[i] = pixels[i] * s + o;
  }
}
