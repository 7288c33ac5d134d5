/**
 * Augmentation's random draws: one sample's choices as plain data, a pure function of (seed, epoch, index
 * entry), independent of the worker that runs it. Each op draws from its own stream, so turning one op on or
 * off never changes the draws of another.
 */
import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import type { AugmentSpec } from '../../src/augment-options.js';
import { mixSeed } from '../../src/sampler.js';

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
   * resolved against the source size by `resolveCrop` (`stage.ts`); `null`: the whole source.
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
  /** Gaussian blur sigma in pixels of the stage image; 0 (or below `BLUR_SIGMA_MIN`): none. */
  blurSigma: number;
  /** Rectangle of the output set to the erasing value, or `null`. */
  erase: Region | null;
}

/** Stream numbers, so that turning one op on or off never changes the draws of another. */
const STREAM = { crop: 1, window: 2, flip: 3, affine: 4, color: 5, blur: 6, erase: 7, shift: 8 } as const;
/** RandomResizedCrop trials drawn per sample; the first that fits the source wins (torchvision's 10). */
const CROP_TRIALS = 10;
/** RandomErasing's tries for a rectangle that fits the output (torchvision's 10). */
const ERASE_TRIALS = 10;

/** A number in `[0, 1)` from the generator's next 32 bits. */
function unit(rng: RandomGenerator): number {
  return (rng.unsafeNext() >>> 0) / 4294967296;
}

function uniform(rng: RandomGenerator, min: number, max: number): number {
  return min + unit(rng) * (max - min);
}

/** An integer in `[min, max]`. */
function integer(rng: RandomGenerator, min: number, max: number): number {
  return Math.min(max, min + Math.floor(unit(rng) * (max - min + 1)));
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
      // torchvision's RandomErasing.get_params.
      const area = out.height * out.width;
      for (let t = 0; t < ERASE_TRIALS && erase === null; t++) {
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
