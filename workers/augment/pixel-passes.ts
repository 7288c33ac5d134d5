/**
 * Augmentation's pixel pass: one pass over the decoded 8-bit stage image that samples it through the flips,
 * the rotation/shear/zoom/translation and the crop window, applies the colour ops and erasing, and writes
 * the output dtype and normalization straight into the slot. No allocation per pixel.
 *
 * Three passes, all built on `sample.ts` (where a pixel reads the stage image) and `tone.ts` (the colour ops):
 * - `writeShiftedRgb`, the common case (RGB, no warp): one stage pixel per output pixel, the tone a table; the
 *   native addon runs the same pass when it is loaded;
 * - `writeWarpedRgb`, RGB with a warp: bilinear along the inverse map, stepped along each row;
 * - `writeGeneral`, every other case (grayscale, RGBA), one pixel at a time.
 *
 * NOTE [ Specialised RGB loops ]: the two RGB passes keep their colour twist, grayscale and output conversion
 * inline, in locals, rather than in a helper shared with `writeGeneral` (`mixColor`). Both shared forms tried
 * cost throughput, in CPU time per 224x224 image of the JavaScript passes (old and new code interleaved in one
 * process, on a loaded 2-core machine, so to within about 10%): finishing each output row in one shared
 * function after the sampling, about +30% on both RGB passes; one shared per-pixel function taking the twist
 * as an array, about +30-45% on `writeShiftedRgb`. So these ~20 lines stand twice, once per RGB pass; their
 * arithmetic is `mixColor`'s, which the tests check (`the RGB fast paths agree with the general one`).
 */
import type { AugmentSpec } from '../../src/augment-options.js';
import { ShiftedParam as P } from '../../src/native/abi.js';
import { nativeAddon, type NativeAddon } from '../../src/native/addon.js';
import type { DecodeSpec } from '../../src/protocol.js';
import type { AugmentDraw } from './draws.js';
import { FILL_CODE, bilinearInto, lerp2, needsWarp, stageMap, stageX, stageY, windowIndex, type StageMap } from './sample.js';
import { clamp255, colorTwist, luma, meanLuminance, mixColor, toneOf, toneTable } from './tone.js';

/**
 * Who runs the RGB crop/flip/colour pass: `'auto'` the native addon when it is loaded (same values as the
 * JavaScript, which a test checks), `'js'` always the JavaScript.
 */
export type PixelEngine = 'auto' | 'js';

/** One sample's colour ops, resolved once for its pass. */
interface Tone {
  shift: number;
  brightness: number;
  contrast: number;
  /** The contrast's mean luminance (0 when the contrast is off). */
  mean: number;
  /** Whether shift, brightness or contrast change anything. */
  toned: boolean;
  /** Saturation and hue as one matrix, or `null`. */
  twist: number[] | null;
  gray: boolean;
}

// Scratch reused across samples (a worker runs its samples one at a time between awaits).
let columnMap = new Int32Array(0);
const pixel = new Float64Array(4);
const toneLut = new Float32Array(256);
const nativeParams = new Float64Array(P.COUNT);

/**
 * Writes the decoded stage image (`src`, `srcWidth` x `srcHeight` x `spec.channels`, 8-bit interleaved) into
 * the slot `out` through the draw's geometry and colour ops, converting to the output dtype and normalization
 * in the same pass. No allocation per pixel.
 */
export function writeAugmented(
  out: Float32Array | Uint8Array,
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  draw: AugmentDraw,
  aug: AugmentSpec,
  spec: DecodeSpec,
  engine: PixelEngine = 'auto',
): void {
  const C = spec.channels;
  const color = C >= 3 ? 3 : 1;
  const addon = engine === 'auto' ? nativeAddon() : null;
  const shift = draw.channelShift;
  const brightness = draw.brightness;
  const contrast = draw.contrast;
  const tone: Tone = {
    shift,
    brightness,
    contrast,
    // torchvision's adjust_contrast blends with the mean luminance of the (brightness-adjusted) image; it is
    // taken over the decoded stage image.
    mean: contrast === 1 ? 0 : meanLuminance(src, C, shift, brightness, addon),
    toned: shift !== 0 || brightness !== 1 || contrast !== 1,
    twist: color === 3 && (draw.saturation !== 1 || draw.hue !== 0) ? colorTwist(draw.saturation, draw.hue) : null,
    gray: color === 3 && draw.grayscale,
  };
  const warp = needsWarp(draw);
  if (C === 3 && !warp) writeShiftedRgb(out, src, srcWidth, srcHeight, draw, aug, spec, tone, addon);
  else if (C === 3) writeWarpedRgb(out, src, stageMap(draw, srcWidth, srcHeight), aug, spec, tone, draw);
  else writeGeneral(out, src, srcWidth, srcHeight, draw, warp ? stageMap(draw, srcWidth, srcHeight) : null, aug, spec, tone);
}

/** The native pass' parameters, laid out as `ShiftedParam` (src/native/abi.ts) says. */
function shiftedParams(W: number, H: number, mode: number, fill: number, draw: AugmentDraw, aug: AugmentSpec, spec: DecodeSpec, twist: number[] | null): Float64Array {
  const p = nativeParams;
  const erase = draw.erase;
  p[P.WIDTH] = W;
  p[P.HEIGHT] = H;
  p[P.WINDOW_LEFT] = draw.window.left;
  p[P.WINDOW_TOP] = draw.window.top;
  p[P.FLIP_H] = +draw.flipH;
  p[P.FLIP_V] = +draw.flipV;
  p[P.FILL_MODE] = mode;
  p[P.FILL] = fill;
  p[P.GRAY] = +draw.grayscale;
  p[P.ERASE_TOP] = erase?.top ?? 0;
  p[P.ERASE_LEFT] = erase?.left ?? 0;
  p[P.ERASE_HEIGHT] = erase?.height ?? 0;
  p[P.ERASE_WIDTH] = erase?.width ?? 0;
  p[P.ERASE_VALUE] = aug.erasing?.value ?? 0;
  p[P.HAS_TWIST] = twist === null ? 0 : 1;
  p.set(twist ?? [1, 0, 0, 0, 1, 0, 0, 0, 1], P.TWIST);
  p.set(spec.normalization?.scale.slice(0, 3) ?? [1, 1, 1], P.SCALE);
  p.set(spec.normalization?.offset.slice(0, 3) ?? [0, 0, 0], P.OFFSET);
  return p;
}

/**
 * The common case, RGB without rotation/shear/zoom/translation: every output pixel is one stage pixel (crop
 * window and flips), brightness and contrast are a 256-entry table, saturation and hue one 3x3 matrix. Its
 * loop stays specialised: NOTE [ Specialised RGB loops ].
 */
function writeShiftedRgb(
  out: Float32Array | Uint8Array,
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  draw: AugmentDraw,
  aug: AugmentSpec,
  spec: DecodeSpec,
  tone: Tone,
  addon: NativeAddon | null,
): void {
  const W = spec.width;
  const H = spec.height;
  const mode = FILL_CODE[aug.fillMode];
  const { shift, brightness, contrast, mean, twist, gray } = tone;
  const lut = toneLut;
  toneTable(lut, shift, brightness, contrast, mean);
  const fill = toneOf(aug.fillValue, shift, brightness, contrast, mean);
  if (addon !== null) {
    addon.shiftedRgb(out, src, srcWidth, srcHeight, lut, shiftedParams(W, H, mode, fill, draw, aug, spec, twist));
    return;
  }
  if (columnMap.length < W) columnMap = new Int32Array(W);
  const columns = columnMap;
  for (let x = 0; x < W; x++) {
    const ix = windowIndex(x, draw.window.left, draw.flipH, srcWidth, mode);
    columns[x] = ix < 0 ? -1 : ix * 3;
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7, t8] = twist ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const erase = draw.erase;
  const eraseValue = aug.erasing?.value ?? 0;
  const toUint8 = out instanceof Uint8Array;
  const [s0, s1, s2] = spec.normalization?.scale ?? [1, 1, 1];
  const [o0, o1, o2] = spec.normalization?.offset ?? [0, 0, 0];
  let o = 0;
  for (let y = 0; y < H; y++) {
    const iy = windowIndex(y, draw.window.top, draw.flipV, srcHeight, mode);
    const rowBase = iy < 0 ? -1 : iy * srcWidth * 3;
    const eraseRow = erase !== null && y >= erase.top && y < erase.top + erase.height;
    for (let x = 0; x < W; x++, o += 3) {
      let r: number;
      let g: number;
      let b: number;
      if (eraseRow && x >= erase.left && x < erase.left + erase.width) {
        r = g = b = eraseValue;
      } else {
        const col = columns[x];
        if (rowBase < 0 || col < 0) {
          r = g = b = fill;
        } else {
          const i = rowBase + col;
          r = lut[src[i]];
          g = lut[src[i + 1]];
          b = lut[src[i + 2]];
        }
        if (twist !== null) {
          const r2 = t0 * r + t1 * g + t2 * b;
          const g2 = t3 * r + t4 * g + t5 * b;
          const b2 = t6 * r + t7 * g + t8 * b;
          r = clamp255(r2);
          g = clamp255(g2);
          b = clamp255(b2);
        }
        if (gray) r = g = b = luma(r, g, b);
      }
      if (toUint8) {
        out[o] = Math.round(r);
        out[o + 1] = Math.round(g);
        out[o + 2] = Math.round(b);
      } else {
        out[o] = r * s0 + o0;
        out[o + 1] = g * s1 + o1;
        out[o + 2] = b * s2 + o2;
      }
    }
  }
}

/**
 * RGB with rotation, shear, zoom or translation: bilinear sampling of the stage image along the inverse map,
 * stepping incrementally along each row; pixels whose four neighbours are inside skip the fill-mode mapping.
 * Its loop stays specialised: NOTE [ Specialised RGB loops ].
 */
function writeWarpedRgb(out: Float32Array | Uint8Array, src: Uint8Array, map: StageMap, aug: AugmentSpec, spec: DecodeSpec, tone: Tone, draw: AugmentDraw): void {
  const W = spec.width;
  const H = spec.height;
  const { width: srcWidth, height: srcHeight } = map;
  const mode = FILL_CODE[aug.fillMode];
  const fill = aug.fillValue;
  const { shift, brightness, contrast, mean, toned, twist, gray } = tone;
  const [t0, t1, t2, t3, t4, t5, t6, t7, t8] = twist ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const erase = draw.erase;
  const eraseValue = aug.erasing?.value ?? 0;
  const toUint8 = out instanceof Uint8Array;
  const [s0, s1, s2] = spec.normalization?.scale ?? [1, 1, 1];
  const [o0, o1, o2] = spec.normalization?.offset ?? [0, 0, 0];
  const stride = srcWidth * 3;
  const lastX = srcWidth - 1;
  const lastY = srcHeight - 1;
  const px = pixel;
  // Along a row, the stage position moves by (m00, m10), mirrored by the flips.
  const du = map.flipH ? -map.m00 : map.m00;
  const dv = map.flipV ? -map.m10 : map.m10;
  let o = 0;
  for (let y = 0; y < H; y++) {
    let u = stageX(map, 0, y) - 0.5;
    let v = stageY(map, 0, y) - 0.5;
    const eraseRow = erase !== null && y >= erase.top && y < erase.top + erase.height;
    for (let x = 0; x < W; x++, o += 3, u += du, v += dv) {
      let r: number;
      let g: number;
      let b: number;
      if (eraseRow && x >= erase.left && x < erase.left + erase.width) {
        r = g = b = eraseValue;
      } else {
        const x0 = Math.floor(u);
        const y0 = Math.floor(v);
        const fx = u - x0;
        const fy = v - y0;
        if (x0 >= 0 && y0 >= 0 && x0 < lastX && y0 < lastY) {
          const i00 = y0 * stride + x0 * 3;
          const i10 = i00 + stride;
          r = lerp2(src[i00], src[i00 + 3], src[i10], src[i10 + 3], fx, fy);
          g = lerp2(src[i00 + 1], src[i00 + 4], src[i10 + 1], src[i10 + 4], fx, fy);
          b = lerp2(src[i00 + 2], src[i00 + 5], src[i10 + 2], src[i10 + 5], fx, fy);
        } else {
          bilinearInto(px, 0, src, x0, y0, fx, fy, srcWidth, srcHeight, 3, mode, fill);
          r = px[0];
          g = px[1];
          b = px[2];
        }
        if (toned) {
          r = toneOf(r, shift, brightness, contrast, mean);
          g = toneOf(g, shift, brightness, contrast, mean);
          b = toneOf(b, shift, brightness, contrast, mean);
        }
        if (twist !== null) {
          const r2 = t0 * r + t1 * g + t2 * b;
          const g2 = t3 * r + t4 * g + t5 * b;
          const b2 = t6 * r + t7 * g + t8 * b;
          r = clamp255(r2);
          g = clamp255(g2);
          b = clamp255(b2);
        }
        if (gray) r = g = b = luma(r, g, b);
      }
      if (toUint8) {
        out[o] = Math.round(r);
        out[o + 1] = Math.round(g);
        out[o + 2] = Math.round(b);
      } else {
        out[o] = r * s0 + o0;
        out[o + 1] = g * s1 + o1;
        out[o + 2] = b * s2 + o2;
      }
    }
  }
}

/**
 * Every other case (grayscale, RGBA): one pixel at a time, through the crop window and flips or, with a
 * `map`, bilinearly along it. Alpha is 0 where filled, 255 where erased, and untouched by the colour ops.
 */
function writeGeneral(
  out: Float32Array | Uint8Array,
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  draw: AugmentDraw,
  map: StageMap | null,
  aug: AugmentSpec,
  spec: DecodeSpec,
  tone: Tone,
): void {
  const C = spec.channels;
  const W = spec.width;
  const H = spec.height;
  const color = C >= 3 ? 3 : 1;
  const mode = FILL_CODE[aug.fillMode];
  const fill = aug.fillValue;
  const { shift, brightness, contrast, mean, toned, twist, gray } = tone;
  const mix = twist !== null || gray;
  const erase = draw.erase;
  const eraseValue = aug.erasing?.value ?? 0;
  const toUint8 = out instanceof Uint8Array;
  const scale = spec.normalization?.scale ?? [1, 1, 1, 1];
  const offset = spec.normalization?.offset ?? [0, 0, 0, 0];
  const px = pixel;
  let o = 0;
  for (let y = 0; y < H; y++) {
    const eraseRow = erase !== null && y >= erase.top && y < erase.top + erase.height;
    for (let x = 0; x < W; x++, o += C) {
      const erased = eraseRow && x >= erase.left && x < erase.left + erase.width;
      if (erased) {
        for (let c = 0; c < C; c++) px[c] = c === 3 ? 255 : eraseValue;
      } else if (map === null) {
        const ix = windowIndex(x, draw.window.left, draw.flipH, srcWidth, mode);
        const iy = windowIndex(y, draw.window.top, draw.flipV, srcHeight, mode);
        if (ix < 0 || iy < 0) {
          for (let c = 0; c < C; c++) px[c] = c === 3 ? 0 : fill;
        } else {
          const i = (iy * srcWidth + ix) * C;
          for (let c = 0; c < C; c++) px[c] = src[i + c];
        }
      } else {
        const u = stageX(map, x, y) - 0.5;
        const v = stageY(map, x, y) - 0.5;
        const x0 = Math.floor(u);
        const y0 = Math.floor(v);
        bilinearInto(px, 0, src, x0, y0, u - x0, v - y0, srcWidth, srcHeight, C, mode, fill);
      }
      if (!erased) {
        if (toned) for (let c = 0; c < color; c++) px[c] = toneOf(px[c], shift, brightness, contrast, mean);
        if (mix) mixColor(px, twist, gray);
      }
      if (toUint8) {
        for (let c = 0; c < C; c++) out[o + c] = Math.round(px[c]);
      } else {
        for (let c = 0; c < C; c++) out[o + c] = px[c] * scale[c] + offset[c];
      }
    }
  }
}
