/**
 * Augmentation's colour ops on the 0..255 scale, as torchvision's functional transforms compute them: the
 * tone of each value (channel shift, brightness, contrast, each clipped), saturation and hue as one 3x3
 * matrix, grayscale, and the mean luminance the contrast blends with. Every pixel pass takes them from here.
 */
import type { NativeAddon } from '../../src/native/addon.js';

export const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Luminance of an RGB value, with ITU-R 601 weights as torchvision's `rgb_to_grayscale`. */
export function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** Shift, brightness and contrast of one value, clipped after each as torchvision does; identities skipped. */
export function toneOf(v: number, shift: number, brightness: number, contrast: number, mean: number): number {
  if (shift !== 0) v = clamp255(v + shift);
  if (brightness !== 1) v = clamp255(v * brightness);
  if (contrast !== 1) v = clamp255(contrast * v + (1 - contrast) * mean);
  return v;
}

/** {@link toneOf} of every 8-bit value, into `lut` (256 entries). */
export function toneTable(lut: Float32Array | Float64Array, shift: number, brightness: number, contrast: number, mean: number): void {
  for (let v = 0; v < 256; v++) lut[v] = toneOf(v, shift, brightness, contrast, mean);
}

// RGB <-> YIQ: saturation scales the chroma (I, Q), hue rotates it (the fast "colour twist" form of a hue shift).
const RGB_TO_YIQ = [0.299, 0.587, 0.114, 0.595716, -0.274453, -0.321263, 0.211456, -0.522591, 0.311135];
const YIQ_TO_RGB = invert3(RGB_TO_YIQ);

function invert3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d), C, -(a * h - b * g), a * e - b * d].map((v) => v / det);
}

function multiply3(x: number[], y: number[]): number[] {
  const out = new Array<number>(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out[r * 3 + c] = x[r * 3] * y[c] + x[r * 3 + 1] * y[3 + c] + x[r * 3 + 2] * y[6 + c];
  return out;
}

/** The 3x3 matrix (row-major, acting on RGB) for a saturation factor and a hue shift in turns. */
export function colorTwist(saturation: number, hue: number): number[] {
  const cos = Math.cos(hue * 2 * Math.PI) * saturation;
  const sin = Math.sin(hue * 2 * Math.PI) * saturation;
  return multiply3(YIQ_TO_RGB, multiply3([1, 0, 0, 0, cos, -sin, 0, sin, cos], RGB_TO_YIQ));
}

/**
 * The colour twist (clipped) and then grayscale, in place on the RGB at `px[0..2]`; `twist` `null` and
 * `gray` false leave it as it is.
 */
export function mixColor(px: Float64Array, twist: readonly number[] | null, gray: boolean): void {
  let r = px[0];
  let g = px[1];
  let b = px[2];
  if (twist !== null) {
    const r2 = twist[0] * r + twist[1] * g + twist[2] * b;
    const g2 = twist[3] * r + twist[4] * g + twist[5] * b;
    const b2 = twist[6] * r + twist[7] * g + twist[8] * b;
    r = clamp255(r2);
    g = clamp255(g2);
    b = clamp255(b2);
  }
  if (gray) r = g = b = luma(r, g, b);
  px[0] = r;
  px[1] = g;
  px[2] = b;
}

const brightLut = new Float64Array(256);

/**
 * Mean luminance of the image after the shift and the brightness factor: the value torchvision's
 * `adjust_contrast` blends with (of the first channel when there are fewer than 3). Natively when `addon`
 * is given, with the same sums in the same order.
 */
export function meanLuminance(src: Uint8Array, channels: number, shift: number, brightness: number, addon: NativeAddon | null): number {
  toneTable(brightLut, shift, brightness, 1, 0);
  if (addon !== null) return addon.meanLuminance(src, channels, brightLut);
  const n = src.length;
  if (channels < 3) {
    let sum = 0;
    for (let i = 0; i < n; i += channels) sum += brightLut[src[i]];
    return sum / (n / channels);
  }
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = 0; i < n; i += channels) {
    r += brightLut[src[i]];
    g += brightLut[src[i + 1]];
    b += brightLut[src[i + 2]];
  }
  return luma(r, g, b) / (n / channels);
}
