/**
 * Augmentation options: what users coming from Keras (`ImageDataGenerator`, the preprocessing layers) and
 * torchvision (`RandomResizedCrop`, `ColorJitter`, `RandomErasing`) expect, checked once at construction into a
 * frozen {@link AugmentSpec}, plain data that the decode workers receive with their start-up data.
 */
import { inArray, integerBetween, invalid, numberBetween, oneOf, plainObject as isPlainObject, number, size2d } from './validate.js';

export type FillMode = 'constant' | 'nearest' | 'reflect' | 'wrap';

/** A range `[min, max]`. */
export type Range = readonly [number, number];

/**
 * Random augmentation applied in the decode workers, per sample, on the way from the file to the ring slot.
 * Every draw is a pure function of (seed, epoch, index entry): the same seed gives the same pixels whatever the
 * worker count, and each epoch draws anew. Every op is off unless given.
 *
 * The ops run in this order. With the decode: the random resized crop of the (EXIF-oriented) source, the
 * resize to the stage size (`imageSize`, or `randomCrop.size`), the Gaussian blur. Then one pass over the stage
 * image: the flips; zoom, shear and rotation about the centre, then the translation; the random crop window
 * (padding filled as `fillMode` says); channel shift, brightness, contrast, saturation and hue, grayscale;
 * erasing; last the output dtype and normalization.
 *
 * @example
 * const train = await imageDatasetFromDirectory('data/train', {
 *   imageSize: [224, 224],
 *   augment: { randomResizedCrop: { scale: [0.08, 1] }, horizontalFlip: 0.5, colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 } },
 * });
 */
export interface AugmentOptions {
  /**
   * torchvision's `RandomResizedCrop`: a region of the source with a random share of its area (`scale`, in
   * (0, 1]) and a random aspect ratio (`ratio`, drawn log-uniformly), resized to the stage size. `true` takes
   * `{ scale: [0.08, 1], ratio: [3/4, 4/3] }`.
   *
   * @default null
   */
  randomResizedCrop?: boolean | { scale?: Range; ratio?: Range } | null;
  /**
   * torchvision's `RandomCrop(padding)`, Keras' `RandomCrop`: the image is resized to `size` (`[height, width]`,
   * default `imageSize`), padded by `padding` pixels on each side (0..4096, default 0; filled as `fillMode`
   * says), and an `imageSize` window is taken at a random place. `true` takes the defaults.
   *
   * @default null
   */
  randomCrop?: boolean | { size?: readonly [number, number]; padding?: number } | null;
  /**
   * Probability of a left/right mirror, in [0, 1] (`true` = 0.5).
   *
   * @default 0
   */
  horizontalFlip?: number | boolean;
  /**
   * Probability of an upside-down mirror, in [0, 1] (`true` = 0.5).
   *
   * @default 0
   */
  verticalFlip?: number | boolean;
  /**
   * Rotation by an angle drawn in `[-degrees, degrees]` (counter-clockwise positive), 0..180.
   *
   * @default 0
   */
  rotation?: number;
  /**
   * Shift by a share of the width and height drawn in `[-x, x]` and `[-y, y]`, 0..1: `[x, y]`, or one number
   * for both (Keras' `width_shift_range`, `height_shift_range`).
   *
   * @default 0
   */
  translate?: number | Range;
  /**
   * Scale factor of the content drawn in `[min, max]` (above 1 enlarges, below 1 shrinks), both above 0; a
   * number `z` in [0, 0.99] means `[1 - z, 1 + z]`, as Keras' `zoom_range`.
   *
   * @default [1, 1]
   */
  zoom?: number | Range;
  /**
   * Horizontal shear by an angle drawn in `[-degrees, degrees]`, 0..80.
   *
   * @default 0
   */
  shear?: number;
  /**
   * How pixels from outside the image are filled (rotation, shear, zoom out, translation, crop padding):
   * `'constant'` (`fillValue`), `'nearest'` (edge pixel), `'reflect'` (mirror, edge repeated: d c b a | a b c d),
   * `'wrap'` (tile). The default is that of Keras' preprocessing layers.
   *
   * @default 'reflect'
   */
  fillMode?: FillMode;
  /**
   * Value of `'constant'` fill on the 0..255 scale (alpha is 0 there).
   *
   * @default 0
   */
  fillValue?: number;
  /**
   * torchvision's `ColorJitter`, applied in this order: `brightness` (multiply), `contrast` (blend with the mean
   * luminance), `saturation` (blend with the luminance), `hue` (rotation of the chroma, in turns). A number
   * `b` ≥ 0 draws a factor in `[max(0, 1 - b), 1 + b]` (hue: `h` ≤ 0.5 draws in `[-h, h]`); or give `[min, max]`
   * (hue within [-0.5, 0.5]).
   *
   * @default null
   */
  colorJitter?: {
    brightness?: number | Range;
    contrast?: number | Range;
    saturation?: number | Range;
    hue?: number | Range;
  } | null;
  /**
   * Keras' `channel_shift_range`: one offset drawn in `[-s, s]` (0..255 scale) added to every channel, clipped
   * to 0..255; applied before the colour jitter.
   *
   * @default 0
   */
  channelShift?: number;
  /**
   * Probability of turning the image gray (luminance in every channel, channels kept).
   *
   * @default 0
   */
  grayscale?: number;
  /**
   * Gaussian blur with a sigma drawn in `sigma` (pixels of the stage image; below 0.3 no blur), with
   * probability `probability`. `true` takes `{ sigma: [0.1, 2], probability: 0.5 }`.
   *
   * @default null
   */
  gaussianBlur?: boolean | { sigma?: Range; probability?: number } | null;
  /**
   * torchvision's `RandomErasing` (cutout): with probability `probability`, a rectangle with a share `scale` of
   * the area and aspect ratio in `ratio` is set to `value` (0..255, before normalization). `true` takes
   * `{ probability: 0.5, scale: [0.02, 0.33], ratio: [0.3, 3.3], value: 0 }`.
   *
   * @default null
   */
  randomErasing?: boolean | { probability?: number; scale?: Range; ratio?: Range; value?: number } | null;
}

/** The resolved augmentation: plain numbers, frozen, handed to every worker. */
export interface AugmentSpec {
  readonly resizedCrop: { readonly scale: Range; readonly logRatio: Range } | null;
  /** Stage size the decoder resizes to (`[height, width]`, `imageSize` unless `randomCrop.size`) and the padding. */
  readonly crop: { readonly height: number; readonly width: number; readonly padding: number } | null;
  readonly horizontalFlip: number;
  readonly verticalFlip: number;
  readonly rotation: number;
  readonly translate: Range;
  readonly zoom: Range;
  readonly shear: number;
  readonly fillMode: FillMode;
  readonly fillValue: number;
  readonly brightness: Range | null;
  readonly contrast: Range | null;
  readonly saturation: Range | null;
  readonly hue: Range | null;
  readonly channelShift: number;
  readonly grayscale: number;
  readonly blur: { readonly sigma: Range; readonly probability: number } | null;
  readonly erasing: { readonly probability: number; readonly scale: Range; readonly logRatio: Range; readonly value: number } | null;
}

/**
 * A typical training recipe (torchvision's ImageNet one): random resized crop, horizontal flip and colour
 * jitter. The benchmark's "augmented" row uses it.
 */
export const TYPICAL_AUGMENT: Readonly<AugmentOptions> = Object.freeze({
  randomResizedCrop: { scale: [0.08, 1] as const, ratio: [3 / 4, 4 / 3] as const },
  horizontalFlip: 0.5,
  colorJitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
});

const KNOWN = [
  'randomResizedCrop',
  'randomCrop',
  'horizontalFlip',
  'verticalFlip',
  'rotation',
  'translate',
  'zoom',
  'shear',
  'fillMode',
  'fillValue',
  'colorJitter',
  'channelShift',
  'grayscale',
  'gaussianBlur',
  'randomErasing',
] as const;

function plainObject(option: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalid(option, `an object with ${known.join(', ')}`, value);
  for (const key of Object.keys(value)) {
    if (!inArray(key, known)) throw invalid(option, `only known fields (${known.join(', ')})`, key);
  }
  return value;
}

/** `true`/`false`/`null`/`undefined` or an object of sub-options; returns the object (`{}` for `true`) or `null`. */
function toggle(option: string, value: unknown, known: readonly string[]): Record<string, unknown> | null {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return {};
  return plainObject(option, value, known);
}

function probability(option: string, value: unknown): number {
  if (value === true) return 0.5;
  if (value === false || value === undefined) return 0;
  return numberBetween(option, value, 0, 1, 'a probability');
}

/** A `[min, max]` range with `lo <= min <= max <= hi`. */
function range(option: string, value: unknown, lo: number, hi: number, exclusiveLo = false): Range {
  const ok =
    Array.isArray(value) &&
    value.length === 2 &&
    value.every(number) &&
    value[0] <= value[1] &&
    (exclusiveLo ? value[0] > lo : value[0] >= lo) &&
    value[1] <= hi;
  if (!ok) {
    const bound = hi === Infinity ? `${exclusiveLo ? 'above' : 'at least'} ${lo}` : `between ${lo} and ${hi}`;
    throw invalid(option, `[min, max] with min <= max, both ${bound}`, value);
  }
  return Object.freeze([value[0], value[1]] as const);
}

/** ColorJitter's factor: a number `b` means `[max(0, 1 - b), 1 + b]`. Identity ranges resolve to `null`. */
function jitterFactor(option: string, value: unknown): Range | null {
  if (value === undefined || value === null) return null;
  let r: Range;
  if (typeof value === 'number') {
    if (!number(value) || value < 0) throw invalid(option, 'a non-negative number or [min, max]', value);
    r = [Math.max(0, 1 - value), 1 + value];
  } else {
    r = range(option, value, 0, Infinity);
  }
  return r[0] === 1 && r[1] === 1 ? null : Object.freeze(r);
}

function hueRange(option: string, value: unknown): Range | null {
  if (value === undefined || value === null) return null;
  const r: Range = typeof value === 'number' ? [-numberBetween(option, value, 0, 0.5), value] : range(option, value, -0.5, 0.5);
  return r[0] === 0 && r[1] === 0 ? null : Object.freeze(r);
}

function logRange(r: Range): Range {
  return Object.freeze([Math.log(r[0]), Math.log(r[1])] as const);
}

/**
 * Checks `value` (the `augment` option) against the output size and resolves every default; `null` when no
 * augmentation is asked. Throws an `ERR_OPTION` error naming the field, what is allowed and the value received.
 *
 * @example
 * resolveAugment({ horizontalFlip: true, zoom: 0.2 }, [224, 224]); // { horizontalFlip: 0.5, zoom: [0.8, 1.2], ... }
 * resolveAugment({ rotation: -5 }, [224, 224]); // throws: Expected a number of degrees between 0 and 180 for augment.rotation ...
 */
export function resolveAugment(value: unknown, imageSize: readonly [number, number], option = 'augment'): AugmentSpec | null {
  if (value === undefined || value === null || value === false) return null;
  const o = plainObject(option, value, KNOWN);
  const name = (field: string) => `${option}.${field}`;

  let resizedCrop: AugmentSpec['resizedCrop'] = null;
  const rrc = toggle(name('randomResizedCrop'), o.randomResizedCrop, ['scale', 'ratio']);
  if (rrc !== null) {
    const scale = range(name('randomResizedCrop.scale'), rrc.scale ?? [0.08, 1], 0, 1, true);
    const ratio = range(name('randomResizedCrop.ratio'), rrc.ratio ?? [3 / 4, 4 / 3], 0, Infinity, true);
    resizedCrop = Object.freeze({ scale, logRatio: logRange(ratio) });
  }

  let crop: AugmentSpec['crop'] = null;
  const rc = toggle(name('randomCrop'), o.randomCrop, ['size', 'padding']);
  if (rc !== null) {
    const size = size2d(name('randomCrop.size'), rc.size ?? imageSize);
    const pad = integerBetween(name('randomCrop.padding'), rc.padding ?? 0, 0, 4096);
    if (size[0] + 2 * pad < imageSize[0] || size[1] + 2 * pad < imageSize[1]) {
      throw invalid(
        name('randomCrop.size'),
        `a size that, padded by ${pad} on each side, holds the imageSize [${imageSize[0]}, ${imageSize[1]}] crop ` +
          `(the crop is larger than the image; add padding or enlarge size)`,
        size,
      );
    }
    crop = Object.freeze({ height: size[0], width: size[1], padding: pad });
  }

  const horizontalFlip = probability(name('horizontalFlip'), o.horizontalFlip);
  const verticalFlip = probability(name('verticalFlip'), o.verticalFlip);
  const rotation = o.rotation === undefined ? 0 : numberBetween(name('rotation'), o.rotation, 0, 180, 'a number of degrees');
  const shear = o.shear === undefined ? 0 : numberBetween(name('shear'), o.shear, 0, 80, 'a number of degrees');
  let translate: Range = [0, 0];
  if (o.translate !== undefined) {
    if (typeof o.translate === 'number') {
      const t = numberBetween(name('translate'), o.translate, 0, 1, 'a share of the size');
      translate = [t, t];
    } else {
      translate = range(name('translate'), o.translate, 0, 1);
    }
  }
  let zoom: Range = [1, 1];
  if (o.zoom !== undefined) {
    if (typeof o.zoom === 'number') {
      const z = numberBetween(name('zoom'), o.zoom, 0, 0.99);
      zoom = [1 - z, 1 + z];
    } else {
      zoom = range(name('zoom'), o.zoom, 0, 100, true);
    }
  }
  const fillMode = oneOf<FillMode>(name('fillMode'), o.fillMode ?? 'reflect', ['constant', 'nearest', 'reflect', 'wrap']);
  const fillValue = o.fillValue === undefined ? 0 : numberBetween(name('fillValue'), o.fillValue, 0, 255);

  const jitter = toggle(name('colorJitter'), o.colorJitter, ['brightness', 'contrast', 'saturation', 'hue']) ?? {};
  const brightness = jitterFactor(name('colorJitter.brightness'), jitter.brightness);
  const contrast = jitterFactor(name('colorJitter.contrast'), jitter.contrast);
  const saturation = jitterFactor(name('colorJitter.saturation'), jitter.saturation);
  const hue = hueRange(name('colorJitter.hue'), jitter.hue);
  const channelShift = o.channelShift === undefined ? 0 : numberBetween(name('channelShift'), o.channelShift, 0, 255);
  const grayscale = probability(name('grayscale'), o.grayscale);

  let blur: AugmentSpec['blur'] = null;
  const gb = toggle(name('gaussianBlur'), o.gaussianBlur, ['sigma', 'probability']);
  if (gb !== null) {
    const sigma = range(name('gaussianBlur.sigma'), gb.sigma ?? [0.1, 2], 0, 1000);
    blur = Object.freeze({ sigma, probability: probability(name('gaussianBlur.probability'), gb.probability ?? 0.5) });
  }

  let erasing: AugmentSpec['erasing'] = null;
  const re = toggle(name('randomErasing'), o.randomErasing, ['probability', 'scale', 'ratio', 'value']);
  if (re !== null) {
    erasing = Object.freeze({
      probability: probability(name('randomErasing.probability'), re.probability ?? 0.5),
      scale: range(name('randomErasing.scale'), re.scale ?? [0.02, 0.33], 0, 1, true),
      logRatio: logRange(range(name('randomErasing.ratio'), re.ratio ?? [0.3, 3.3], 0, Infinity, true)),
      value: re.value === undefined ? 0 : numberBetween(name('randomErasing.value'), re.value, 0, 255),
    });
  }

  return Object.freeze({
    resizedCrop,
    crop,
    horizontalFlip,
    verticalFlip,
    rotation,
    translate: Object.freeze(translate),
    zoom: Object.freeze(zoom),
    shear,
    fillMode,
    fillValue,
    brightness,
    contrast,
    saturation,
    hue,
    channelShift,
    grayscale,
    blur,
    erasing,
  });
}
