/**
 * The native addon's ABI, stated once: the packed parameter blocks its functions take and the statuses they
 * return. `abi.h` mirrors every value for the C side; `test/native-abi.test.ts` holds the two (and the built
 * addon's own copy) to the same numbers. Group `Name`'s key `KEY` is `NAME_KEY` in C (`DecodeParam.WIDTH` is
 * `DECODE_PARAM_WIDTH`).
 */

/**
 * `decode(jpeg, out, params, scale, offset)`'s `params`, an `Int32Array` of `DecodeParam.COUNT`.
 * `scale`/`offset` (`Float32Array` of at least `CHANNELS` values, or `null`): float32 output is
 * `level * scale[c] + offset[c]`.
 */
export const DecodeParam = {
  /** Output width in pixels. */
  WIDTH: 0,
  /** Output height in pixels. */
  HEIGHT: 1,
  /** Output channels: 1, 3 or 4. */
  CHANNELS: 2,
  /** EXIF orientation 1-8 (anything else reads as 1). */
  ORIENTATION: 3,
  /** 1: cover the output and cut its centre (sharp's fit 'cover'); 0: stretch. Ignored with a region. */
  CROP: 4,
  /** An {@link Interpolation} value. */
  INTERPOLATION: 5,
  /**
   * The window of the oriented, full-size image to resize to the output (augmentation's random crops,
   * enlarging included), in pixels; a negative left or a zero size: the whole image.
   */
  REGION_LEFT: 6,
  REGION_TOP: 7,
  REGION_WIDTH: 8,
  REGION_HEIGHT: 9,
  COUNT: 10,
} as const;

/** The resampling kernels `DecodeParam.INTERPOLATION` names. */
export const Interpolation = {
  NEAREST: 0,
  /** libvips' linear kernel: bilinear when enlarging, antialiased (triangle of the shrink's radius) when shrinking. */
  BILINEAR: 1,
} as const;

/** What `decode` returns: `OK`, or why the file is left to sharp (`out` is then unspecified). */
export const DecodeStatus = {
  OK: 0,
  /** Arguments that do not fit together (sizes, types, a region outside the image). */
  ERR_ARGS: 1,
  /** libjpeg-turbo cannot read the header. */
  ERR_HEADER: 2,
  /** CMYK or YCCK: sharp converts those through its colour management. */
  ERR_COLORSPACE: 3,
  /** A decode error or warning (libjpeg-turbo's TJFLAG_STOPONWARNING). */
  ERR_DECODE: 4,
  ERR_MEMORY: 5,
  /** Enlarging without a region: libvips upsamples with an interpolator this pass does not reproduce. */
  ERR_ENLARGE: 6,
  /** A residual shrink past 4 after the DCT scaling, where libvips box-shrinks in a way this filter does not match. */
  ERR_RESIDUAL: 7,
  /** No libjpeg-turbo is loaded in this process. */
  ERR_NO_LIBRARY: 8,
} as const;

/**
 * `shiftedRgb(out, src, srcWidth, srcHeight, tone, params)`'s `params` (augmentation's RGB crop/flip/colour
 * pass, `writeShiftedRgb` in workers/augment.ts), a `Float64Array` of `ShiftedParam.COUNT`.
 */
export const ShiftedParam = {
  /** Output width and height. */
  WIDTH: 0,
  HEIGHT: 1,
  /** The crop window's top-left corner in the stage image. */
  WINDOW_LEFT: 2,
  WINDOW_TOP: 3,
  /** 0 or 1. */
  FLIP_H: 4,
  FLIP_V: 5,
  /** The fill mode's code (0 constant, 1 nearest, 2 reflect, 3 wrap). */
  FILL_MODE: 6,
  /** The constant fill's value, through the tone curve. */
  FILL: 7,
  /** 0 or 1: grey (0.299 R + 0.587 G + 0.114 B) in all three channels. */
  GRAY: 8,
  /** The erased rectangle (zero height or width: none) and its value. */
  ERASE_TOP: 9,
  ERASE_LEFT: 10,
  ERASE_HEIGHT: 11,
  ERASE_WIDTH: 12,
  ERASE_VALUE: 13,
  /** 0 or 1: whether the 3x3 colour matrix at `TWIST` applies. */
  HAS_TWIST: 14,
  /** 9 values, row-major: saturation and hue as one matrix on (R, G, B). */
  TWIST: 15,
  /** 3 values each: float32 output is `value * scale[c] + offset[c]`. */
  SCALE: 24,
  OFFSET: 27,
  COUNT: 30,
} as const;

/** Every group, by its name, for the test that holds `abi.h` and the built addon to these values. */
export const ABI = { DecodeParam, Interpolation, DecodeStatus, ShiftedParam } as const;

/** `decode`'s request by name, as {@link packDecodeParams} lays it out. */
export interface DecodeRequest {
  width: number;
  height: number;
  channels: number;
  orientation: number;
  /** 1: centre crop (sharp's fit 'cover'); 0: stretch. */
  crop: number;
  interpolation: number;
  /** A window of the oriented full-size image to resize to the output; `null`: the whole image. */
  region: { left: number; top: number; width: number; height: number } | null;
}

/** `request` laid out as {@link DecodeParam}, in `into` when given (reused on the hot path). */
export function packDecodeParams(request: DecodeRequest, into = new Int32Array(DecodeParam.COUNT)): Int32Array {
  into[DecodeParam.WIDTH] = request.width;
  into[DecodeParam.HEIGHT] = request.height;
  into[DecodeParam.CHANNELS] = request.channels;
  into[DecodeParam.ORIENTATION] = request.orientation;
  into[DecodeParam.CROP] = request.crop;
  into[DecodeParam.INTERPOLATION] = request.interpolation;
  const r = request.region;
  into[DecodeParam.REGION_LEFT] = r === null ? -1 : r.left;
  into[DecodeParam.REGION_TOP] = r === null ? -1 : r.top;
  into[DecodeParam.REGION_WIDTH] = r === null ? 0 : r.width;
  into[DecodeParam.REGION_HEIGHT] = r === null ? 0 : r.height;
  return into;
}
