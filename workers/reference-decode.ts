/**
 * The decode path of `compat` (a reference resampler): the whole image decoded at full size by sharp (BMPs by
 * `bmp.ts` first), without
 * shrink-on-load, orientation and colour as the reference sees them (EXIF orientation and the embedded ICC
 * profile ignored, as TF's `decode_image` and PIL's `open` do; alpha dropped, not composited, for RGB; Rec.601
 * luma for grayscale), then Keras' crop or pad box and `tf.image.resize`, or PIL's `Image.resize`, in
 * TypeScript. Slower than the default path (full-size pixels, resampling off libvips), exact instead.
 */
import type SharpFactory from 'sharp';
import { SampleError } from '../src/read-sample.js';
import { sharpInput } from './bmp.js';
import type { DecodeSpec, ReferenceResize } from '../src/protocol.js';
import { rec601Gray } from '../src/resize/gray.js';
import { kerasCropBox, kerasPadBox } from '../src/resize/keras-geometry.js';
import { pilResize } from '../src/resize/pil-resize.js';
import { cropImage, type Image8 } from '../src/resize/taps.js';
import { tfResize } from '../src/resize/tf-resize.js';

async function decodeFull(sharp: typeof SharpFactory, data: Buffer, spec: DecodeSpec, ref: ReferenceResize): Promise<Image8> {
  let image = sharpInput(sharp, data, {
    failOn: 'warning',
    limitInputPixels: spec.maxPixels,
    ignoreIcc: !ref.convertIcc,
  });
  if (ref.applyExifOrientation) image = image.autoOrient();
  // Three channels from anything: grey replicated, alpha dropped as libpng's strip_alpha and PIL's
  // convert('RGB') drop it; four for 'rgba', an opaque alpha added where there is none.
  image = spec.channels === 4 ? image.toColourspace('srgb').ensureAlpha() : image.toColourspace('srgb').removeAlpha();
  const { data: pixels, info } = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const wanted = spec.channels === 4 ? 4 : 3;
  if (info.channels !== wanted) throw new SampleError('ERR_DECODE', `decoded to ${info.channels} channels, expected ${wanted}`);
  const rgb: Image8 = { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length), width: info.width, height: info.height, channels: wanted };
  return spec.channels === 1 ? rec601Gray(rgb) : rgb;
}

/** `values` (0..255 scale) into the slot, with the spec's dtype and normalization. */
function writeValues(out: Float32Array | Uint8Array, values: ArrayLike<number>, spec: DecodeSpec): void {
  const n = out.length;
  if (out instanceof Uint8Array) {
    for (let i = 0; i < n; i++) out[i] = Math.min(255, Math.max(0, Math.round(values[i])));
    return;
  }
  const norm = spec.normalization;
  if (norm === null) {
    for (let i = 0; i < n; i++) out[i] = values[i];
    return;
  }
  const c = spec.channels;
  for (let i = 0; i < n; i++) out[i] = values[i] * norm.scale[i % c] + norm.offset[i % c];
}

/** Keras: crop (`smart_resize`) or pad (`resize_with_pad`) box, then `tf.image.resize`; float values kept. */
function kerasResize(src: Image8, spec: DecodeSpec, ref: ReferenceResize): Float32Array {
  const method = ref.method as Parameters<typeof tfResize>[3];
  if (ref.fit === 'crop') {
    const box = kerasCropBox(src.height, src.width, spec.height, spec.width);
    return tfResize(cropImage(src, box.top, box.left, box.height, box.width), spec.height, spec.width, method);
  }
  if (ref.fit === 'pad') {
    const box = kerasPadBox(src.height, src.width, spec.height, spec.width);
    const inner = tfResize(src, box.height, box.width, method);
    const out = new Float32Array(spec.height * spec.width * src.channels);
    const row = box.width * src.channels;
    for (let y = 0; y < box.height; y++) {
      out.set(inner.subarray(y * row, (y + 1) * row), ((box.top + y) * spec.width + box.left) * src.channels);
    }
    return out;
  }
  return tfResize(src, spec.height, spec.width, method);
}

/** torchvision: PIL's `Image.resize` to the target size (centre-cropped first with `cropToAspectRatio`). */
function pilPath(src: Image8, spec: DecodeSpec, ref: ReferenceResize): Uint8Array {
  let image = src;
  if (ref.fit === 'crop') {
    const box = kerasCropBox(src.height, src.width, spec.height, spec.width);
    image = cropImage(src, box.top, box.left, box.height, box.width);
  }
  return pilResize(image, spec.width, spec.height, ref.method as Parameters<typeof pilResize>[3]).data;
}

/** Decodes `data` the reference's way straight into the slot `out`. */
export async function referenceDecode(
  sharp: typeof SharpFactory,
  data: Buffer,
  spec: DecodeSpec,
  ref: ReferenceResize,
  out: Float32Array | Uint8Array,
): Promise<void> {
  const src = await decodeFull(sharp, data, spec, ref);
  writeValues(out, ref.resampler === 'tf' ? kerasResize(src, spec, ref) : pilPath(src, spec, ref), spec);
}
