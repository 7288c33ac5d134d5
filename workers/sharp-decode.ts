/**
 * The decode worker's sharp path: every file the JPEG fast path declines (other formats, JPEGs it does not
 * read as sharp would, a decoder of `'sharp'`), and the reference resamplers of `compat`. Loaded by
 * `decode.ts` on the first such file, with sharp and libvips behind it: a worker that only sees JPEGs the
 * fast path takes never loads them.
 */
import type SharpFactory from 'sharp';
import { SampleError, classifyDecodeError } from '../src/read-sample.js';
import { applySharpStage, writeAugmented, type AugmentDraw } from './augment.js';
import { writeConverted } from './convert.js';
import { referenceDecode } from './reference-decode.js';
import { sharpInput } from './bmp.js';
import { rec601Gray } from '../src/resize/gray.js';
import type { AugmentSpec } from '../src/augment-options.js';
import type { DecodeSpec } from '../src/protocol.js';

let sharpLib: typeof SharpFactory | null = null;

/** sharp, loaded once per worker. */
async function loadSharp(): Promise<typeof SharpFactory> {
  if (sharpLib === null) {
    const sharp = (await import('sharp')).default;
    // Parallelism comes from the worker threads; a libvips thread pool per call would oversubscribe the
    // cores, and its operation cache would only hold pixels we never ask for twice.
    sharp.concurrency(1);
    sharp.cache(false);
    sharpLib = sharp;
  }
  return sharpLib;
}

const KERNEL: Partial<Record<DecodeSpec['interpolation'], 'nearest' | 'linear' | 'cubic' | 'lanczos3'>> = {
  nearest: 'nearest',
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos3: 'lanczos3',
};

async function decode(
  data: Buffer,
  draw: AugmentDraw | null,
  augment: AugmentSpec | null,
  spec: DecodeSpec,
): Promise<{ pixels: Buffer; width: number; height: number }> {
  const sharp = await loadSharp();
  let image = sharpInput(sharp, data, { failOn: 'warning', limitInputPixels: spec.maxPixels, sequentialRead: true, ignoreIcc: !spec.convertIcc });
  if (!spec.ignoreOrientation) image = image.autoOrient();
  const resize = { fit: spec.cropToAspectRatio ? 'cover' : 'fill', position: 'centre', kernel: KERNEL[spec.interpolation] } as const;
  let size: { width: number; height: number } = spec;
  if (draw === null || augment === null) image = image.resize(spec.width, spec.height, resize);
  else size = await applySharpStage(image, draw, augment, spec, resize);
  // Grayscale is Rec.601 luma of the sRGB values (rec601Gray, after the resize), as PIL's convert('L') and
  // the JPEG fast path's Y plane give; libvips' b-w is linear-light Rec.709 luminance, a few levels brighter.
  if (spec.channels === 1 || spec.channels === 3) image = image.flatten({ background: '#000000' }).toColourspace('srgb');
  else image = image.ensureAlpha().toColourspace('srgb');
  const { data: decoded, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const channels = spec.channels === 1 ? 3 : spec.channels;
  if (info.width !== size.width || info.height !== size.height || info.channels !== channels) {
    throw new SampleError(
      'ERR_DECODE',
      `decoded to ${info.width}x${info.height}x${info.channels}, expected ${size.width}x${size.height}x${channels}`,
    );
  }
  const pixels =
    spec.channels === 1
      ? Buffer.from(rec601Gray({ data: decoded, width: info.width, height: info.height, channels: 3 }).data.buffer)
      : decoded;
  return { pixels, width: size.width, height: size.height };
}

/**
 * One sample's bytes into `out` with sharp (resize, orientation, colour mode, then the augmentation pass or the
 * dtype conversion); throws a `SampleError` when it cannot be decoded.
 */
export async function sharpDecodeInto(
  data: Buffer,
  out: Float32Array | Uint8Array,
  draw: AugmentDraw | null,
  augment: AugmentSpec | null,
  spec: DecodeSpec,
): Promise<void> {
  let decoded: Awaited<ReturnType<typeof decode>>;
  try {
    decoded = await decode(data, draw, augment, spec);
  } catch (err) {
    throw classifyDecodeError(err, spec.maxPixels, data);
  }
  if (draw === null || augment === null) writeConverted(out, decoded.pixels, spec);
  else writeAugmented(out, decoded.pixels, decoded.width, decoded.height, draw, augment, spec);
}

/** `compat`'s reference decode into `out`; throws a `SampleError` when it cannot be decoded. */
export async function referenceDecodeInto(data: Buffer, out: Float32Array | Uint8Array, spec: DecodeSpec): Promise<void> {
  if (spec.reference === null) throw new Error('referenceDecodeInto: the spec names no reference resampler');
  try {
    await referenceDecode(await loadSharp(), data, spec, spec.reference, out);
  } catch (err) {
    throw classifyDecodeError(err, spec.maxPixels, data);
  }
}
