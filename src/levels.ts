/**
 * Float32 output from 8-bit levels, the one definition of it: value = `fround(fround(level * scale[c]) +
 * offset[c])`, the product rounded to float32, then the sum (float32 arithmetic, no fused multiply-add; numpy's
 * `levels.astype(np.float32) * scale + offset` in float32 gives the same). A float32 loader whose ring holds
 * levels (`DecodeSpec.slotDtype`) converts each sample here as the consumer writes it into the batch: the
 * workers write a quarter of the bytes, and each batch value is written once.
 */
import { nativeAddon, type NativeAddon } from './native/addon.js';
import type { Normalization } from './protocol.js';

export class LevelsToFloat {
  private readonly scale: Float32Array;
  private readonly offset: Float32Array;
  private readonly addon: NativeAddon | null;
  /** `table[level * channels + c]`: the JavaScript version's values, the same as the native one's. */
  private table: Float32Array | null = null;

  constructor(normalization: Normalization | null, private readonly channels: number) {
    this.scale = Float32Array.from({ length: channels }, (_, c) => normalization?.scale[c] ?? 1);
    this.offset = Float32Array.from({ length: channels }, (_, c) => normalization?.offset[c] ?? 0);
    this.addon = nativeAddon();
  }

  /** `levels` (whole pixels) as values into `out[at, at + levels.length)`. */
  convert(levels: Uint8Array, out: Float32Array, at: number): void {
    if (this.addon?.expandLevels(levels, out, at, this.scale, this.offset)) return;
    const c = this.channels;
    const table = (this.table ??= this.makeTable());
    for (let i = 0, n = levels.length; i < n; i += c) {
      for (let k = 0; k < c; k++) out[at + i + k] = table[levels[i + k] * c + k];
    }
  }

  private makeTable(): Float32Array {
    const c = this.channels;
    const table = new Float32Array(256 * c);
    for (let level = 0; level < 256; level++) {
      for (let k = 0; k < c; k++) table[level * c + k] = Math.fround(Math.fround(level * this.scale[k]) + this.offset[k]);
    }
    return table;
  }
}
