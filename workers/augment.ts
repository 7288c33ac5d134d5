/**
 * Augmentation in the decode worker, in three parts any decoder can use:
 * - {@link drawAugmentation}: the sample's random draws as plain data, a pure function of
 *   (seed, epoch, index entry), independent of the worker that runs it;
 * - the decoder's part, geometry on the source: the crop region ({@link resolveCrop}, in source pixels of the
 *   EXIF-oriented image), the size to resize it to ({@link stageSize}) and the blur ({@link applySharpStage}
 *   does all three with sharp, in the same pipeline as the decode and resize);
 * - {@link writeAugmented}: one pass over the decoded 8-bit pixels that samples them through the flips, the
 *   rotation/shear/zoom/translation and the crop window, applies the colour ops and erasing, and writes the
 *   output dtype and normalization straight into the slot.
 */
import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import type { ResizeOptions, Sharp } from 'sharp';
import type { AugmentSpec, FillMode } from '../src/augment-options.js';
import type { DecodeSpec } from '../src/protocol.js';
import { ShiftedParam as P } from '../src/native/abi.js';
import { nativeAddon as jpegTurboAddon } from '../src/native/addon.js';
import { mixSeed } from '../src/sampler.js';

/** A region in pixels. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One sample's augmentation: plain data, identity values when an op is off. */
export interface AugmentDraw {
  /**
   * RandomResizedCrop trials, 4 numbers each (area share, log aspect ratio, left and top position in [0, 1)),
   * resolved against the source size by {@link resolveCrop}; `null`: the whole source.
   */
  cropTrials: number[] | null;
  /** Top-left corner of the output window in the stage image (negative inside the padding); 0, 0 without randomCrop. */
  window: { left: number; top: number };
  flipH: boolean;
  flipV: boolean;
  /** Degrees, counter-clockwise. */
  rotation: number;
  /** Degrees. */
  shear: number;
  zoom: number;
  /** Shares of the stage width and height. */
  translateX: number;
  translateY: number;
  /** Offset added to every channel before the colour jitter (0..255 scale). */
  channelShift: number;
  brightness: number;
  contrast: number;
  saturation: number;
  /** Turns, in [-0.5, 0.5]. */
  hue: number;
  grayscale: boolean;
  /** Gaussian blur sigma in output pixels; 0: none. */
  blurSigma: number;
  /** Rectangle of the output set to the erasing value, or `null`. */
  erase: Region | null;
}

/** Stream numbers, so that turning one op on or off never changes the draws of another. */
const STREAM = { crop: 1, window: 2, flip: 3, affine: 4, color: 5, blur: 6, erase: 7, shift: 8 } as const;
const CROP_TRIALS = 10;

function uniform(rng: RandomGenerator, min: number, max: number): number {
  return min + ((rng.unsafeNext() >>> 0) / 4294967296) * (max - min);
}

/** An integer in `[min, max]`. */
function integer(rng: RandomGenerator, min: number, max: number): number {
  return Math.min(max, min + Math.floor(((rng.unsafeNext() >>> 0) / 4294967296) * (max - min + 1)));
}

/**
 * The random draws of one sample: a pure function of the loader's seed, the epoch and the sample's index
 * entry (not its place in the epoch), so any worker count and any order give the same augmented pixels.
 *
 * @example
 * const draw = drawAugmentation(augmentSpec, { height: 224, width: 224 }, 1337, 0, 42);
 * draw.flipH; // true or false, the same on every run
 */
export function drawAugmentation(
  aug: AugmentSpec,
  out: { height: number; width: number },
  seed: number,
  epoch: number,
  entry: number,
): AugmentDraw {
  const rng = (stream: number) => xoroshiro128plus(mixSeed(seed, epoch, entry, stream));

  let cropTrials: number[] | null = null;
  if (aug.resizedCrop !== null) {
    const r = rng(STREAM.crop);
    const { scale, logRatio } = aug.resizedCrop;
    cropTrials = [];
    for (let t = 0; t < CROP_TRIALS; t++) {
      cropTrials.push(uniform(r, scale[0], scale[1]), uniform(r, logRatio[0], logRatio[1]), uniform(r, 0, 1), uniform(r, 0, 1));
    }
  }

  const window = { left: 0, top: 0 };
  if (aug.crop !== null) {
    const r = rng(STREAM.window);
    const { height, width, padding } = aug.crop;
    window.left = integer(r, -padding, width + padding - out.width);
    window.top = integer(r, -padding, height + padding - out.height);
  }

  const f = rng(STREAM.flip);
  const flipH = uniform(f, 0, 1) < aug.horizontalFlip;
  const flipV = uniform(f, 0, 1) < aug.verticalFlip;

  const a = rng(STREAM.affine);
  const rotation = aug.rotation === 0 ? 0 : uniform(a, -aug.rotation, aug.rotation);
  const shear = aug.shear === 0 ? 0 : uniform(a, -aug.shear, aug.shear);
  const zoom = aug.zoom[0] === 1 && aug.zoom[1] === 1 ? 1 : uniform(a, aug.zoom[0], aug.zoom[1]);
  const translateX = aug.translate[0] === 0 ? 0 : uniform(a, -aug.translate[0], aug.translate[0]);
  const translateY = aug.translate[1] === 0 ? 0 : uniform(a, -aug.translate[1], aug.translate[1]);

  const c = rng(STREAM.color);
  const brightness = aug.brightness === null ? 1 : uniform(c, aug.brightness[0], aug.brightness[1]);
  const channelShift = aug.channelShift === 0 ? 0 : uniform(rng(STREAM.shift), -aug.channelShift, aug.channelShift);
  const contrast = aug.contrast === null ? 1 : uniform(c, aug.contrast[0], aug.contrast[1]);
  const saturation = aug.saturation === null ? 1 : uniform(c, aug.saturation[0], aug.saturation[1]);
  const hue = aug.hue === null ? 0 : uniform(c, aug.hue[0], aug.hue[1]);
  const grayscale = aug.grayscale > 0 && uniform(c, 0, 1) < aug.grayscale;

  let blurSigma = 0;
  if (aug.blur !== null) {
    const b = rng(STREAM.blur);
    if (uniform(b, 0, 1) < aug.blur.probability) blurSigma = uniform(b, aug.blur.sigma[0], aug.blur.sigma[1]);
  }

  let erase: Region | null = null;
  if (aug.erasing !== null) {
    const e = rng(STREAM.erase);
    if (uniform(e, 0, 1) < aug.erasing.probability) {
      // torchvision's RandomErasing.get_params: up to 10 tries for a rectangle that fits.
      const area = out.height * out.width;
      for (let t = 0; t < 10 && erase === null; t++) {
        const target = area * uniform(e, aug.erasing.scale[0], aug.erasing.scale[1]);
        const ratio = Math.exp(uniform(e, aug.erasing.logRatio[0], aug.erasing.logRatio[1]));
        const h = Math.round(Math.sqrt(target * ratio));
        const w = Math.round(Math.sqrt(target / ratio));
        if (h < 1 || w < 1 || h >= out.height || w >= out.width) continue;
        erase = { top: integer(e, 0, out.height - h), left: integer(e, 0, out.width - w), height: h, width: w };
      }
    }
  }

  return {
    cropTrials,
    window,
    flipH,
    flipV,
    rotation,
    shear,
    zoom,
    translateX,
    translateY,
    channelShift,
    brightness,
    contrast,
    saturation,
    hue,
    grayscale,
    blurSigma,
    erase,
  };
}

/**
 * The crop of the (EXIF-oriented) source, as torchvision's `RandomResizedCrop.get_params`: the first trial
 * that fits, else the largest centred crop within the ratio range; `null` for the whole image.
 */
export function resolveCrop(draw: AugmentDraw, aug: AugmentSpec, width: number, height: number): Region | null {
  const trials = draw.cropTrials;
  if (trials === null || aug.resizedCrop === null) return null;
  const area = width * height;
  for (let t = 0; t < trials.length; t += 4) {
    const target = area * trials[t];
    const ratio = Math.exp(trials[t + 1]);
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const left = Math.min(width - w, Math.floor(trials[t + 2] * (width - w + 1)));
      const top = Math.min(height - h, Math.floor(trials[t + 3] * (height - h + 1)));
      return { left, top, width: w, height: h };
    }
  }
  const [minRatio, maxRatio] = [Math.exp(aug.resizedCrop.logRatio[0]), Math.exp(aug.resizedCrop.logRatio[1])];
  let w = width;
  let h = height;
  if (width / height < minRatio) h = Math.max(1, Math.round(w / minRatio));
  else if (width / height > maxRatio) w = Math.max(1, Math.round(h * maxRatio));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/**
 * The window of a `width` x `height` (oriented) source a decoder resizes: the drawn crop, or `null` when
 * there is none or it is the whole image (then the plain resize applies).
 */
export function cropWindow(draw: AugmentDraw, aug: AugmentSpec, width: number, height: number): Region | null {
  if (draw.cropTrials === null) return null;
  const region = resolveCrop(draw, aug, width, height);
  return region !== null && region.width === width && region.height === height ? null : region;
}

/** The size the decoder resizes the (cropped) source to: the random crop's stage size, else the output size. */
export function stageSize(aug: AugmentSpec, spec: DecodeSpec): { width: number; height: number } {
  return aug.crop === null ? { width: spec.width, height: spec.height } : { width: aug.crop.width, height: aug.crop.height };
}

/**
 * The decoder's share with sharp, in the decode pipeline of an auto-oriented `image`: crops the drawn region
 * and resizes it to the stage size with one resample, then blurs. Returns the stage size.
 *
 * A crop before the resize turns off libvips' shrink-on-load (JPEG, WebP), which decodes at 1/2, 1/4 or 1/8
 * size for a fraction of the cost. So when the crop is at least twice the stage size, the whole image is
 * resized instead so that the crop lands on the stage size, and the crop is taken after the resize: libvips
 * then shrinks on load and, being demand-driven, only resamples the cropped part.
 */
export async function applySharpStage(
  image: Sharp,
  draw: AugmentDraw,
  aug: AugmentSpec,
  spec: DecodeSpec,
  resize: ResizeOptions,
): Promise<{ width: number; height: number }> {
  const stage = stageSize(aug, spec);
  let region: Region | null = null;
  let source = { width: 0, height: 0 };
  if (draw.cropTrials !== null) {
    const meta = await image.metadata();
    source = meta.autoOrient;
    region = cropWindow(draw, aug, source.width, source.height);
  }
  if (region === null) {
    image.resize(stage.width, stage.height, resize);
  } else if (Math.min(region.width / stage.width, region.height / stage.height) < SHRINK_ON_LOAD_MIN) {
    image.extract(region).resize(stage.width, stage.height, { ...resize, fit: 'fill' });
  } else {
    const sx = stage.width / region.width;
    const sy = stage.height / region.height;
    const width = Math.max(stage.width, Math.round(source.width * sx));
    const height = Math.max(stage.height, Math.round(source.height * sy));
    image.resize(width, height, { ...resize, fit: 'fill' }).extract({
      left: Math.min(width - stage.width, Math.round(region.left * sx)),
      top: Math.min(height - stage.height, Math.round(region.top * sy)),
      width: stage.width,
      height: stage.height,
    });
  }
  // libvips refuses sigmas below 0.3; such a kernel is all but the identity.
  if (draw.blurSigma >= 0.3) image.blur(draw.blurSigma);
  return stage;
}

/** Smallest downscale at which libvips can shrink a JPEG on load. */
const SHRINK_ON_LOAD_MIN = 2;

/**
 * The inverse of the draw's affine about the stage centre: output-centred coordinates (after adding the crop
 * window and removing the translation) to stage-centred ones. Forward, stage to output, is
 * R(rotation) * Shear * zoom; counter-clockwise on screen (y down) is R = [[cos, sin], [-sin, cos]].
 */
function inverseAffine(draw: AugmentDraw, srcWidth: number, srcHeight: number) {
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
    cx: srcWidth / 2,
    cy: srcHeight / 2,
    tx: draw.translateX * srcWidth,
    ty: draw.translateY * srcHeight,
  };
}

/** Whether the draw moves pixels beyond a crop window and flips (then the pass interpolates). */
function needsWarp(d: AugmentDraw): boolean {
  return d.rotation !== 0 || d.shear !== 0 || d.zoom !== 1 || d.translateX !== 0 || d.translateY !== 0;
}

const FILL_CODE: Record<FillMode, number> = { constant: 0, nearest: 1, reflect: 2, wrap: 3 };

/** Maps an integer coordinate outside `[0, n)` into it as the fill mode says; -1 for constant fill. */
function mapIndex(i: number, n: number, mode: number): number {
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

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

const brightLut = new Float64Array(256);

/** Mean luminance (ITU-R 601 weights, as torchvision's grayscale) of the image after the shift and the brightness factor. */
function meanLuminance(src: Uint8Array, channels: number, shift: number, brightness: number, engine: PixelEngine): number {
  for (let v = 0; v < 256; v++) brightLut[v] = clamp255(clamp255(v + shift) * brightness);
  const addon = engine === 'auto' ? jpegTurboAddon() : null;
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
  return (0.299 * r + 0.587 * g + 0.114 * b) / (n / channels);
}

/**
 * Who runs the RGB crop/flip/colour pass: `'auto'` the native addon when it is loaded (same values as the
 * JavaScript, which a test checks), `'js'` always the JavaScript.
 */
export type PixelEngine = 'auto' | 'js';

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
  const W = spec.width;
  const H = spec.height;
  const color = C >= 3 ? 3 : 1;
  const mode = FILL_CODE[aug.fillMode];
  const fill = aug.fillValue;
  const toUint8 = out instanceof Uint8Array;
  const scale = spec.normalization?.scale ?? [1, 1, 1, 1];
  const offset = spec.normalization?.offset ?? [0, 0, 0, 0];

  const b = draw.brightness;
  const ct = draw.contrast;
  const twist = color === 3 && (draw.saturation !== 1 || draw.hue !== 0) ? colorTwist(draw.saturation, draw.hue) : null;
  const gray = color === 3 && draw.grayscale;
  // torchvision's adjust_contrast blends with the mean luminance of the (brightness-adjusted) image; it is
  // taken over the decoded stage image.
  const shift = draw.channelShift;
  const mean = ct === 1 ? 0 : meanLuminance(src, C, shift, b, engine);
  const colorOps = shift !== 0 || b !== 1 || ct !== 1 || twist !== null || gray;
  if (C === 3) {
    if (needsWarp(draw)) writeWarpedRgb(out, src, srcWidth, srcHeight, draw, aug, spec, mean, twist);
    else writeShiftedRgb(out, src, srcWidth, srcHeight, draw, aug, spec, mean, twist, engine);
    return;
  }

  const warp = needsWarp(draw);
  const { m00, m01, m10, m11, cx, cy, tx, ty } = inverseAffine(draw, srcWidth, srcHeight);

  const px = new Float64Array(4);
  const erase = draw.erase;
  const eraseValue = aug.erasing?.value ?? 0;
  let o = 0;
  for (let y = 0; y < H; y++) {
    const inEraseRow = erase !== null && y >= erase.top && y < erase.top + erase.height;
    for (let x = 0; x < W; x++, o += C) {
      const erased = inEraseRow && x >= erase.left && x < erase.left + erase.width;
      if (erased) {
        for (let c = 0; c < C; c++) px[c] = c === 3 ? 255 : eraseValue;
      } else if (!warp) {
        let sx = x + draw.window.left;
        let sy = y + draw.window.top;
        if (draw.flipH) sx = srcWidth - 1 - sx;
        if (draw.flipV) sy = srcHeight - 1 - sy;
        const ix = mapIndex(sx, srcWidth, mode);
        const iy = mapIndex(sy, srcHeight, mode);
        if (ix < 0 || iy < 0) {
          for (let c = 0; c < C; c++) px[c] = c === 3 ? 0 : fill;
        } else {
          const i = (iy * srcWidth + ix) * C;
          for (let c = 0; c < C; c++) px[c] = src[i + c];
        }
      } else {
        const ox = x + draw.window.left + 0.5 - cx - tx;
        const oy = y + draw.window.top + 0.5 - cy - ty;
        let sx = m00 * ox + m01 * oy + cx;
        let sy = m10 * ox + m11 * oy + cy;
        if (draw.flipH) sx = srcWidth - sx;
        if (draw.flipV) sy = srcHeight - sy;
        // Bilinear between the four pixel centres around (sx, sy).
        const u = sx - 0.5;
        const v = sy - 0.5;
        const x0 = Math.floor(u);
        const y0 = Math.floor(v);
        const fx = u - x0;
        const fy = v - y0;
        const xa = mapIndex(x0, srcWidth, mode);
        const xb = mapIndex(x0 + 1, srcWidth, mode);
        const ya = mapIndex(y0, srcHeight, mode);
        const yb = mapIndex(y0 + 1, srcHeight, mode);
        for (let c = 0; c < C; c++) {
          const f = c === 3 ? 0 : fill;
          const p00 = xa < 0 || ya < 0 ? f : src[(ya * srcWidth + xa) * C + c];
          const p01 = xb < 0 || ya < 0 ? f : src[(ya * srcWidth + xb) * C + c];
          const p10 = xa < 0 || yb < 0 ? f : src[(yb * srcWidth + xa) * C + c];
          const p11 = xb < 0 || yb < 0 ? f : src[(yb * srcWidth + xb) * C + c];
          const top = p00 + (p01 - p00) * fx;
          const bottom = p10 + (p11 - p10) * fx;
          px[c] = top + (bottom - top) * fy;
        }
      }
      if (colorOps && !erased) {
        for (let c = 0; c < color; c++) {
          let v = px[c];
          if (shift !== 0) v = clamp255(v + shift);
          if (b !== 1) v = clamp255(v * b);
          if (ct !== 1) v = clamp255(ct * v + (1 - ct) * mean);
          px[c] = v;
        }
        if (twist !== null) {
          const r = px[0];
          const g = px[1];
          const bl = px[2];
          px[0] = clamp255(twist[0] * r + twist[1] * g + twist[2] * bl);
          px[1] = clamp255(twist[3] * r + twist[4] * g + twist[5] * bl);
          px[2] = clamp255(twist[6] * r + twist[7] * g + twist[8] * bl);
        }
        if (gray) px[0] = px[1] = px[2] = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
      }
      if (toUint8) {
        for (let c = 0; c < C; c++) out[o + c] = Math.round(px[c]);
      } else {
        for (let c = 0; c < C; c++) out[o + c] = px[c] * scale[c] + offset[c];
      }
    }
  }
}

// Scratch reused across samples (a worker runs its samples one at a time between awaits).
let columnMap = new Int32Array(0);
const toneLut = new Float32Array(256);
const nativeParams = new Float64Array(30);

/** The native pass' parameters, in the order `augment_pass.c` reads them (its `P_*` indices). */
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
 * window and flips), brightness and contrast are a 256-entry table, saturation and hue one 3x3 matrix.
 */
function writeShiftedRgb(
  out: Float32Array | Uint8Array,
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  draw: AugmentDraw,
  aug: AugmentSpec,
  spec: DecodeSpec,
  mean: number,
  twist: number[] | null,
  engine: PixelEngine,
): void {
  const W = spec.width;
  const H = spec.height;
  const mode = FILL_CODE[aug.fillMode];
  const shift = draw.channelShift;
  const b = draw.brightness;
  const ct = draw.contrast;
  const tone = (v: number) => {
    if (shift !== 0) v = clamp255(v + shift);
    if (b !== 1) v = clamp255(v * b);
    return ct !== 1 ? clamp255(ct * v + (1 - ct) * mean) : v;
  };
  const lut = toneLut;
  for (let v = 0; v < 256; v++) lut[v] = tone(v);
  const fill = tone(aug.fillValue);
  const addon = engine === 'auto' ? jpegTurboAddon() : null;
  if (addon !== null) {
    addon.shiftedRgb(out, src, srcWidth, srcHeight, lut, shiftedParams(W, H, mode, fill, draw, aug, spec, twist));
    return;
  }
  if (columnMap.length < W) columnMap = new Int32Array(W);
  const columns = columnMap;
  for (let x = 0; x < W; x++) {
    let sx = x + draw.window.left;
    if (draw.flipH) sx = srcWidth - 1 - sx;
    const ix = mapIndex(sx, srcWidth, mode);
    columns[x] = ix < 0 ? -1 : ix * 3;
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7, t8] = twist ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const gray = draw.grayscale;
  const erase = draw.erase;
  const eraseValue = aug.erasing?.value ?? 0;
  const toUint8 = out instanceof Uint8Array;
  const [s0, s1, s2] = spec.normalization?.scale ?? [1, 1, 1];
  const [o0, o1, o2] = spec.normalization?.offset ?? [0, 0, 0];
  let o = 0;
  for (let y = 0; y < H; y++) {
    let sy = y + draw.window.top;
    if (draw.flipV) sy = srcHeight - 1 - sy;
    const iy = mapIndex(sy, srcHeight, mode);
    const rowBase = iy < 0 ? -1 : iy * srcWidth * 3;
    const eraseRow = erase !== null && y >= erase.top && y < erase.top + erase.height;
    for (let x = 0; x < W; x++, o += 3) {
      let r: number;
      let g: number;
      let bl: number;
      if (eraseRow && x >= erase.left && x < erase.left + erase.width) {
        r = g = bl = eraseValue;
      } else {
        const col = columns[x];
        if (rowBase < 0 || col < 0) {
          r = g = bl = fill;
        } else {
          const i = rowBase + col;
          r = lut[src[i]];
          g = lut[src[i + 1]];
          bl = lut[src[i + 2]];
        }
        if (twist !== null) {
          const r2 = t0 * r + t1 * g + t2 * bl;
          const g2 = t3 * r + t4 * g + t5 * bl;
          const b2 = t6 * r + t7 * g + t8 * bl;
          r = r2 < 0 ? 0 : r2 > 255 ? 255 : r2;
          g = g2 < 0 ? 0 : g2 > 255 ? 255 : g2;
          bl = b2 < 0 ? 0 : b2 > 255 ? 255 : b2;
        }
        if (gray) r = g = bl = 0.299 * r + 0.587 * g + 0.114 * bl;
      }
      if (toUint8) {
        out[o] = Math.round(r);
        out[o + 1] = Math.round(g);
        out[o + 2] = Math.round(bl);
      } else {
        out[o] = r * s0 + o0;
        out[o + 1] = g * s1 + o1;
        out[o + 2] = bl * s2 + o2;
      }
    }
  }
}

/** Bilinear interpolation of channel `c` between four pixel offsets, `fill` where an offset is -1 (outside). */
function bilinearAt(src: Uint8Array, i00: number, i01: number, i10: number, i11: number, c: number, fill: number, fx: number, fy: number): number {
  const p00 = i00 < 0 ? fill : src[i00 + c];
  const p01 = i01 < 0 ? fill : src[i01 + c];
  const p10 = i10 < 0 ? fill : src[i10 + c];
  const p11 = i11 < 0 ? fill : src[i11 + c];
  const top = p00 + (p01 - p00) * fx;
  const bottom = p10 + (p11 - p10) * fx;
  return top + (bottom - top) * fy;
}

/** Shift, brightness and contrast of one value, clipped after each as torchvision does. */
function toneOf(v: number, shift: number, brightness: number, contrast: number, mean: number): number {
  if (shift !== 0) v = clamp255(v + shift);
  if (brightness !== 1) v = clamp255(v * brightness);
  if (contrast !== 1) v = clamp255(contrast * v + (1 - contrast) * mean);
  return v;
}

/**
 * RGB with rotation, shear, zoom or translation: bilinear sampling of the stage image along the inverse map,
 * stepping incrementally along each row; pixels whose four neighbours are inside skip the fill-mode mapping.
 */
function writeWarpedRgb(
  out: Float32Array | Uint8Array,
  src: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  draw: AugmentDraw,
  aug: AugmentSpec,
  spec: DecodeSpec,
  mean: number,
  twist: number[] | null,
): void {
  const W = spec.width;
  const H = spec.height;
  const mode = FILL_CODE[aug.fillMode];
  const fill = aug.fillValue;
  const { m00, m01, m10, m11, cx, cy, tx, ty } = inverseAffine(draw, srcWidth, srcHeight);
  const shift = draw.channelShift;
  const b = draw.brightness;
  const ct = draw.contrast;
  const toned = shift !== 0 || b !== 1 || ct !== 1;
  const [t0, t1, t2, t3, t4, t5, t6, t7, t8] = twist ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const gray = draw.grayscale;
  const erase = draw.erase;
  const eraseValue = aug.erasing?.value ?? 0;
  const toUint8 = out instanceof Uint8Array;
  const [s0, s1, s2] = spec.normalization?.scale ?? [1, 1, 1];
  const [o0, o1, o2] = spec.normalization?.offset ?? [0, 0, 0];
  const stride = srcWidth * 3;
  const lastX = srcWidth - 1;
  const lastY = srcHeight - 1;
  // Along a row, the stage position moves by (m00, m10), mirrored by the flips.
  const du = draw.flipH ? -m00 : m00;
  const dv = draw.flipV ? -m10 : m10;
  let o = 0;
  for (let y = 0; y < H; y++) {
    const ox = draw.window.left + 0.5 - cx - tx;
    const oy = y + draw.window.top + 0.5 - cy - ty;
    let sx = m00 * ox + m01 * oy + cx;
    let sy = m10 * ox + m11 * oy + cy;
    if (draw.flipH) sx = srcWidth - sx;
    if (draw.flipV) sy = srcHeight - sy;
    let u = sx - 0.5;
    let v = sy - 0.5;
    const eraseRow = erase !== null && y >= erase.top && y < erase.top + erase.height;
    for (let x = 0; x < W; x++, o += 3, u += du, v += dv) {
      let r: number;
      let g: number;
      let bl: number;
      if (eraseRow && x >= erase.left && x < erase.left + erase.width) {
        r = g = bl = eraseValue;
      } else {
        const x0 = Math.floor(u);
        const y0 = Math.floor(v);
        const fx = u - x0;
        const fy = v - y0;
        if (x0 >= 0 && y0 >= 0 && x0 < lastX && y0 < lastY) {
          const i00 = y0 * stride + x0 * 3;
          const i10 = i00 + stride;
          let top = src[i00] + (src[i00 + 3] - src[i00]) * fx;
          let bottom = src[i10] + (src[i10 + 3] - src[i10]) * fx;
          r = top + (bottom - top) * fy;
          top = src[i00 + 1] + (src[i00 + 4] - src[i00 + 1]) * fx;
          bottom = src[i10 + 1] + (src[i10 + 4] - src[i10 + 1]) * fx;
          g = top + (bottom - top) * fy;
          top = src[i00 + 2] + (src[i00 + 5] - src[i00 + 2]) * fx;
          bottom = src[i10 + 2] + (src[i10 + 5] - src[i10 + 2]) * fx;
          bl = top + (bottom - top) * fy;
        } else {
          const xa = mapIndex(x0, srcWidth, mode);
          const xb = mapIndex(x0 + 1, srcWidth, mode);
          const ya = mapIndex(y0, srcHeight, mode);
          const yb = mapIndex(y0 + 1, srcHeight, mode);
          const i00 = xa < 0 || ya < 0 ? -1 : ya * stride + xa * 3;
          const i01 = xb < 0 || ya < 0 ? -1 : ya * stride + xb * 3;
          const i10 = xa < 0 || yb < 0 ? -1 : yb * stride + xa * 3;
          const i11 = xb < 0 || yb < 0 ? -1 : yb * stride + xb * 3;
          r = bilinearAt(src, i00, i01, i10, i11, 0, fill, fx, fy);
          g = bilinearAt(src, i00, i01, i10, i11, 1, fill, fx, fy);
          bl = bilinearAt(src, i00, i01, i10, i11, 2, fill, fx, fy);
        }
        if (toned) {
          r = toneOf(r, shift, b, ct, mean);
          g = toneOf(g, shift, b, ct, mean);
          bl = toneOf(bl, shift, b, ct, mean);
        }
        if (twist !== null) {
          const r2 = t0 * r + t1 * g + t2 * bl;
          const g2 = t3 * r + t4 * g + t5 * bl;
          const b2 = t6 * r + t7 * g + t8 * bl;
          r = r2 < 0 ? 0 : r2 > 255 ? 255 : r2;
          g = g2 < 0 ? 0 : g2 > 255 ? 255 : g2;
          bl = b2 < 0 ? 0 : b2 > 255 ? 255 : b2;
        }
        if (gray) r = g = bl = 0.299 * r + 0.587 * g + 0.114 * bl;
      }
      if (toUint8) {
        out[o] = Math.round(r);
        out[o + 1] = Math.round(g);
        out[o + 2] = Math.round(bl);
      } else {
        out[o] = r * s0 + o0;
        out[o + 1] = g * s1 + o1;
        out[o + 2] = bl * s2 + o2;
      }
    }
  }
}
