/**
 * Where an output pixel of augmentation's pixel pass reads the stage image: through the crop window and the
 * flips (one stage pixel), or, with rotation/shear/zoom/translation, along the draw's inverse affine
 * (bilinear between four); outside the stage image as the fill mode says.
 */
import type { FillMode } from '../../src/augment-options.js';
import type { AugmentDraw } from './draws.js';

/** The fill modes as the passes (and the native pass' `P_FILL_MODE`) number them. */
export const FILL_CODE: Record<FillMode, number> = { constant: 0, nearest: 1, reflect: 2, wrap: 3 };

/** Maps an integer coordinate outside `[0, n)` into it as the fill mode says; -1 for constant fill. */
export function mapIndex(i: number, n: number, mode: number): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 1:
      return i < 0 ? 0 : n - 1;
    case 2: {
      const period = 2 * n;
      const m = ((i % period) + period) % period;
      return m < n ? m : period - 1 - m;
    }
    case 3:
      return ((i % n) + n) % n;
    default:
      return -1;
  }
}

/**
 * The stage index (column or row, of `n`) that output index `i` reads without a warp: offset by the crop
 * window, mirrored by the flip, mapped by the fill mode; -1 for constant fill.
 */
export function windowIndex(i: number, windowOffset: number, flip: boolean, n: number, mode: number): number {
  let s = i + windowOffset;
  if (flip) s = n - 1 - s;
  return mapIndex(s, n, mode);
}

/** Whether the draw moves pixels beyond a crop window and flips (then the pass interpolates). */
export function needsWarp(d: AugmentDraw): boolean {
  return d.rotation !== 0 || d.shear !== 0 || d.zoom !== 1 || d.translateX !== 0 || d.translateY !== 0;
}

/**
 * The inverse of the draw's geometry on a `width` x `height` stage image, output pixel to stage position:
 * add the crop window, remove the translation, undo the affine about the stage centre, undo the flips.
 * Forward, stage to output, the affine is R(rotation) * Shear * zoom; counter-clockwise on screen (y down) is
 * R = [[cos, sin], [-sin, cos]].
 */
export interface StageMap {
  m00: number;
  m01: number;
  m10: number;
  m11: number;
  /** The stage centre. */
  cx: number;
  cy: number;
  /** The translation in stage pixels. */
  tx: number;
  ty: number;
  left: number;
  top: number;
  flipH: boolean;
  flipV: boolean;
  width: number;
  height: number;
}

export function stageMap(draw: AugmentDraw, width: number, height: number): StageMap {
  const theta = (draw.rotation * Math.PI) / 180;
  const shear = Math.tan((draw.shear * Math.PI) / 180);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const z = 1 / draw.zoom;
  // zoom^-1 * Shear^-1 * R^-1, with R^-1 = [[cos, -sin], [sin, cos]] and Shear^-1 = [[1, -shear], [0, 1]].
  return {
    m00: z * (cos - shear * sin),
    m01: z * (-sin - shear * cos),
    m10: z * sin,
    m11: z * cos,
    cx: width / 2,
    cy: height / 2,
    tx: draw.translateX * width,
    ty: draw.translateY * height,
    left: draw.window.left,
    top: draw.window.top,
    flipH: draw.flipH,
    flipV: draw.flipV,
    width,
    height,
  };
}

/** The stage x of the centre of output pixel (x, y), in pixels from the stage's left edge. */
export function stageX(m: StageMap, x: number, y: number): number {
  const ox = x + m.left + 0.5 - m.cx - m.tx;
  const oy = y + m.top + 0.5 - m.cy - m.ty;
  const sx = m.m00 * ox + m.m01 * oy + m.cx;
  return m.flipH ? m.width - sx : sx;
}

/** The stage y of the centre of output pixel (x, y), in pixels from the stage's top edge. */
export function stageY(m: StageMap, x: number, y: number): number {
  const ox = x + m.left + 0.5 - m.cx - m.tx;
  const oy = y + m.top + 0.5 - m.cy - m.ty;
  const sy = m.m10 * ox + m.m11 * oy + m.cy;
  return m.flipV ? m.height - sy : sy;
}

/** Bilinear interpolation between four values at fractions `fx` (along a row) and `fy`. */
export function lerp2(p00: number, p01: number, p10: number, p11: number, fx: number, fy: number): number {
  const top = p00 + (p01 - p00) * fx;
  const bottom = p10 + (p11 - p10) * fx;
  return top + (bottom - top) * fy;
}

/**
 * Bilinear sampling at stage position (x0 + fx, y0 + fy) in pixel-centre units, into `row[j..j + channels - 1]`:
 * the four pixels around it mapped by the fill mode, `fill` where constant fill (alpha 0). Out of line on
 * purpose: it is the edge case of the warped passes, and writing into `row` returns no number to box.
 */
export function bilinearInto(
  row: Float64Array,
  j: number,
  src: Uint8Array,
  x0: number,
  y0: number,
  fx: number,
  fy: number,
  width: number,
  height: number,
  channels: number,
  mode: number,
  fill: number,
): void {
  const xa = mapIndex(x0, width, mode);
  const xb = mapIndex(x0 + 1, width, mode);
  const ya = mapIndex(y0, height, mode);
  const yb = mapIndex(y0 + 1, height, mode);
  const stride = width * channels;
  const i00 = xa < 0 || ya < 0 ? -1 : ya * stride + xa * channels;
  const i01 = xb < 0 || ya < 0 ? -1 : ya * stride + xb * channels;
  const i10 = xa < 0 || yb < 0 ? -1 : yb * stride + xa * channels;
  const i11 = xb < 0 || yb < 0 ? -1 : yb * stride + xb * channels;
  for (let c = 0; c < channels; c++) {
    const f = c === 3 ? 0 : fill;
    row[j + c] = lerp2(i00 < 0 ? f : src[i00 + c], i01 < 0 ? f : src[i01 + c], i10 < 0 ? f : src[i10 + c], i11 < 0 ? f : src[i11 + c], fx, fy);
  }
}
