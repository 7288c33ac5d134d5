/**
 * Augmentation's share of the decoder, geometry on the source before the pixel pass: the crop region
 * ({@link resolveCrop}, in source pixels of the EXIF-oriented image), the size to resize it to
 * ({@link stageSize}) and the blur. {@link applySharpStage} does all three with sharp, in the same pipeline as
 * the decode and resize; the JPEG fast path takes {@link cropWindow} and {@link stageSize} and leaves blurred
 * draws to sharp.
 */
import type { ResizeOptions, Sharp } from 'sharp';
import type { AugmentSpec } from '../../src/augment-options.js';
import type { DecodeSpec } from '../../src/protocol.js';
import type { AugmentDraw, Region } from './draws.js';

/** Smallest blur sigma that is applied: libvips refuses sigmas below 0.3, and such a kernel is all but the identity. */
export const BLUR_SIGMA_MIN = 0.3;

/** Smallest downscale at which libvips can shrink a JPEG on load. */
const SHRINK_ON_LOAD_MIN = 2;

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
  if (draw.blurSigma >= BLUR_SIGMA_MIN) image.blur(draw.blurSigma);
  return stage;
}
