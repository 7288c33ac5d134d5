/**
 * Where Keras puts the picture inside `imageSize` when the aspect ratios differ: the centred crop of
 * `smart_resize` (`crop_to_aspect_ratio=True`) and the fitted, zero-padded box of `tf.image.resize_with_pad`
 * (`pad_to_aspect_ratio=True`). Both are computed with Keras' float32 casts and truncations, so the box is
 * Keras' to the pixel.
 */

const f32 = Math.fround;

/** A region of the source image, in whole pixels. */
export interface Box {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/** `smart_resize`'s crop of a `height` x `width` source for a `targetHeight` x `targetWidth` output. */
export function kerasCropBox(height: number, width: number, targetHeight: number, targetWidth: number): Box {
  const cropHeight = Math.max(1, Math.min(height, Math.trunc(f32(f32(width * targetHeight) / targetWidth))));
  const cropWidth = Math.max(1, Math.min(width, Math.trunc(f32(f32(height * targetWidth) / targetHeight))));
  return {
    top: Math.trunc(f32(height - cropHeight) / 2),
    left: Math.trunc(f32(width - cropWidth) / 2),
    height: cropHeight,
    width: cropWidth,
  };
}

/**
 * `resize_with_pad`'s layout: the source is resized to `height` x `width` of the returned box and placed at
 * (`top`, `left`) of the target, zeros elsewhere.
 */
export function kerasPadBox(height: number, width: number, targetHeight: number, targetWidth: number): Box {
  const ratio = Math.max(f32(width / targetWidth), f32(height / targetHeight));
  const resizedHeight = f32(height / ratio);
  const resizedWidth = f32(width / ratio);
  return {
    top: Math.max(0, Math.floor(f32(f32(targetHeight - resizedHeight) / 2))),
    left: Math.max(0, Math.floor(f32(f32(targetWidth - resizedWidth) / 2))),
    height: Math.floor(resizedHeight),
    width: Math.floor(resizedWidth),
  };
}
