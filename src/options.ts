/**
 * Loader options: the user-facing interface with its defaults, and `resolveOptions`, which checks every
 * option once, up front, and returns a frozen, fully-resolved config. The hot path never re-checks.
 */
import os from 'node:os';
import bytes from 'bytes';
import { constants as bufferConstants } from 'node:buffer';
import { resolveAugment, type AugmentOptions, type AugmentSpec } from './augment-options.js';
import { Errors } from './errors.js';
import type { FileIndex } from './file-index.js';
import { resolveDecoder, type Decoder } from './native/addon.js';
import { COMPAT_PRESETS, COMPAT_VALUES, type Compat } from './compat.js';
import type { ColorChannels, DecodeSpec, Dtype, Interpolation, JpegDecoder, Normalization, ReferenceResize } from './protocol.js';
import { bytesPerSample, bytesPerSlot } from './protocol.js';
import type { Permutation, RankRemainder, Shard } from './sampler.js';
import { boolean, defined, integerBetween, integerIn, invalid, number, numberBetween, object, oneOf, positiveInteger, size2d } from './validate.js';

export type ColorMode = 'grayscale' | 'rgb' | 'rgba';
export type LabelMode = 'int' | 'categorical' | 'binary' | null;
export type Normalize = 'none' | 'unit' | 'symmetric' | { mean: number | number[]; std: number | number[] };
export type OnError = 'skip' | 'throw';

/** Options of {@link ImageLoader} (and of `imageDatasetFromDirectory`, which adds the split options). */
export interface LoaderOptions {
  /**
   * Output size, `[height, width]`: two integers between 1 and 16384. The default is Keras'.
   *
   * @default [256, 256]
   */
  imageSize?: readonly [number, number];
  /**
   * `'grayscale'` (1 channel), `'rgb'` (3; alpha flattened onto black) or `'rgba'` (4).
   *
   * @default 'rgb'
   */
  colorMode?: ColorMode;
  /**
   * `'int'` (Int32Array of class indices), `'categorical'` (one-hot Float32Array), `'binary'` (Int32Array of 0/1,
   * exactly two classes) or `null` (no labels; the only choice for an unlabeled index).
   *
   * @default 'int'
   */
  labelMode?: LabelMode;
  /**
   * Samples per batch, an integer between 1 and 1048576.
   *
   * @default 32
   */
  batchSize?: number;
  /**
   * A new permutation of the samples every epoch, a pure function of (`seed`, epoch); `false` keeps the
   * index's order.
   *
   * @default true
   */
  shuffle?: boolean;
  /**
   * Seed of the epoch order, of the validation split and of augmentation's draws: an integer between 0 and
   * 4294967295. Runs are deterministic unless it changes.
   *
   * @default 0
   */
  seed?: number;
  /**
   * Resampling kernel: `'nearest'`, `'bilinear'`, `'bicubic'` or `'lanczos3'`; with `antialias: false` (or
   * `compat: 'keras'`) also Keras' `'area'`, `'lanczos5'`, `'gaussian'` and `'mitchellcubic'`.
   *
   * @default 'bilinear'
   */
  interpolation?: Interpolation;
  /**
   * `false` stretches the image to `imageSize` (Keras' default); `true` center-crops it to that aspect ratio first.
   *
   * @default false
   */
  cropToAspectRatio?: boolean;
  /**
   * Keras' `pad_to_aspect_ratio`: fit the whole image inside `imageSize`, keeping its aspect ratio, and pad
   * with zeros (`tf.image.resize_with_pad`'s box). Takes the reference path (see `compat`); not with
   * `cropToAspectRatio`.
   *
   * @default false
   */
  padToAspectRatio?: boolean;
  /**
   * Reproduce a reference loader's observable behaviour. `'keras'`: `image_dataset_from_directory`'s file list
   * (bmp/gif/jpeg/jpg/png, hidden files kept, links to folders not followed), its split and seed rules (a
   * `seed` is required to shuffle with a split), its messages, `tf.image.resize` without antialiasing and
   * with half-pixel centres, its crop and pad boxes, unrounded float values, EXIF orientation and ICC profiles
   * ignored, int32 labels in `imgstream/tf`, the validation subset kept in its order. `'torchvision'`:
   * `ImageFolder`'s file list (every folder a class, links followed) and PIL's `Image.resize` filters, EXIF
   * orientation and ICC profiles ignored. The preset only fills in the switches below that are not given.
   * Pixels take the reference path: a full-size decode and a TypeScript resampler, slower than the default
   * path and exact (docs/compat.md). `null`: imgstream's own defaults.
   *
   * @default null
   */
  compat?: 'keras' | 'torchvision' | null;
  /**
   * `true`: downscaling widens the kernel so every source pixel counts (libvips' and PIL's resize);
   * `false`: the kernel at its own width, as `tf.image.resize(antialias=False)` and so Keras do (the reference
   * path). Under `compat` the preset's.
   *
   * @default true
   */
  antialias?: boolean;
  /**
   * Rotate and flip by the file's EXIF orientation. Keras (`tf.io.decode_image`) and torchvision (PIL) do
   * not; `false` reproduces them. Under `compat` the preset's (`false`).
   *
   * @default true
   */
  applyExifOrientation?: boolean;
  /**
   * Embedded ICC profiles: `'ignore'` uses the stored values, as PIL, TF and torchvision do, in both decoders
   * (the JPEG fast path and sharp); `'srgb'` converts them to sRGB (every file then goes to sharp).
   *
   * @default 'ignore'
   */
  iccProfile?: 'ignore' | 'srgb';
  /**
   * Print what was found and used, in Keras' words ("Found N files belonging to M classes.", "Using N files
   * for training."). Under `compat: 'keras'` the preset's (`true`).
   *
   * @default false
   */
  verbose?: boolean;
  /**
   * Pixel type of `batch.images`: `'float32'` or `'uint8'`.
   *
   * @default 'float32'
   */
  dtype?: Dtype;
  /**
   * float32 only: `'none'` keeps 0..255 (Keras' default), `'unit'` maps to [0, 1], `'symmetric'` to [-1, 1],
   * `{ mean, std }` computes `(x / 255 - mean) / std` per channel (a number or one per channel each).
   *
   * @default 'none'
   */
  normalize?: Normalize;
  /**
   * Decode worker threads: `'auto'` (one per core) or a count between 1 and 256.
   *
   * @default 'auto'
   */
  workers?: number | 'auto';
  /**
   * The most decoded pixels may take: the ring plus the batches whose memory the loader reuses, at least two
   * (the one being assembled and the one the consumer holds) and up to 8 when the budget has room past the
   * ring (`options.pooledBatches`). A batch's image memory is filled again once the consumer has dropped the
   * batch (the loader asks the garbage collector when all of them are out: the more pooled, the rarer) or
   * handed it back with `loader.recycle`; a batch the consumer keeps is never written again and is its memory,
   * outside the budget. Not counted: labels, paths, the index, the decoders' working memory. Bytes or a string
   * such as `'256MiB'` (KB/KiB = 1024 bytes); too small for three batches fails at construction.
   *
   * @default '256MiB'
   */
  memoryBudget?: number | string;
  /**
   * Batches decoded ahead of the consumer: the ring's depth, as PyTorch's `prefetch_factor` or FFCV's
   * `batches_ahead`. `'auto'` keeps 4 batches (and at least 8 samples per worker) ahead, enough to keep every
   * worker busy while the model takes a batch; a number asks for that many. `memoryBudget` caps it either way.
   *
   * @default 'auto'
   */
  prefetch?: number | 'auto';
  /**
   * `'skip'` records a file that cannot be loaded in `stats.skipped` and fills the batch with the next good
   * samples; `'throw'` stops the epoch with an error naming the file.
   *
   * @default 'skip'
   */
  onError?: OnError;
  /**
   * Drop the last batch of an epoch when it is short.
   *
   * @default false
   */
  dropRemainder?: boolean;
  /**
   * Files with more pixels (width × height) than this are refused as decompression bombs (PIL's limit).
   *
   * @default 89_478_485
   */
  maxPixels?: number;
  /**
   * Files larger than this are refused from their size (`ERR_FILE_TOO_LARGE`), before a byte is read: no single
   * file can take a worker's memory. Bytes or a string such as `'64MiB'`.
   *
   * @default '1GiB'
   */
  maxFileBytes?: number | string;
  /**
   * With `onError: 'skip'`, the largest share of an epoch's samples that may be skipped: past it the epoch
   * fails (`ERR_TOO_MANY_SKIPPED`, with the counts per code and an example), so a dataset that yields nothing,
   * or mostly errors, cannot train in silence. `1` never fails.
   *
   * @default 0.5
   */
  maxSkipShare?: number;
  /**
   * For data-parallel training, `{ count, index }`: this process takes every `count`-th sample of each epoch's
   * order, from `index` (the same seed on every process makes the shards disjoint), PyTorch's
   * `DistributedSampler` split. Every rank gets the same number of samples, and so of batches (see
   * `rankRemainder`); a file skipped under `onError: 'skip'` shortens its own rank's epoch. `null`: all samples.
   *
   * @default null
   */
  shard?: Shard | null;
  /**
   * With `shard`: how every rank gets the same number of samples each epoch, as `DistributedSampler` does.
   * `'repeat'` tops the smaller shares up with samples from the start of the epoch's order (of the rank's own
   * shards for tar shards), `ceil(n / count)` each, as `drop_last=False`; `'drop'` cuts every share to the
   * smallest, `floor(n / count)`, as `drop_last=True`. Under `compat: 'torchvision'` the shares are
   * `DistributedSampler`'s exactly, its shuffled order included (docs/compat.md).
   *
   * @default 'repeat'
   */
  rankRemainder?: RankRemainder;
  /**
   * Random augmentation in the decode workers, reproducible from (seed, epoch, sample); see
   * {@link AugmentOptions}. `null`: none.
   *
   * @default null
   */
  augment?: AugmentOptions | null;
  /**
   * JPEG decoder: `'auto'` uses the native libjpeg-turbo fast path when it is built (8-bit baseline and
   * progressive JPEGs; every other file still goes to sharp) and sharp otherwise; `'sharp'` always uses sharp;
   * `'jpeg-turbo'` requires the fast path and fails at construction without it.
   *
   * @default 'auto'
   */
  decoder?: Decoder;
}

/** The resolved, frozen configuration a loader runs with. */
export interface ResolvedOptions {
  readonly imageSize: readonly [number, number];
  readonly colorMode: ColorMode;
  readonly channels: ColorChannels;
  readonly labelMode: LabelMode;
  readonly numClasses: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly interpolation: Interpolation;
  readonly cropToAspectRatio: boolean;
  readonly dtype: Dtype;
  readonly normalize: Normalize;
  readonly workers: number;
  readonly memoryBudget: number;
  readonly prefetch: number | 'auto';
  /** Ring slots (samples decoded ahead): `prefetch` batches, capped by `memoryBudget`. */
  readonly capacity: number;
  /**
   * Batches whose image memory the loader keeps for reuse (`BatchPool`): the two the budget always counts
   * (the one assembled, the one the consumer holds), and as many more as the budget has room for past the
   * ring, up to {@link MAX_POOLED_BATCHES} in all. Dropped batches come back through a garbage collection,
   * one per `pooledBatches - 1` batches: the more pooled, the fewer collections.
   */
  readonly pooledBatches: number;
  /** Bytes of one sample in a batch. */
  readonly sampleBytes: number;
  /** Bytes of one ring slot: `sampleBytes`, or a quarter of it when the ring holds 8-bit levels (`spec.slotDtype`). */
  readonly slotBytes: number;
  readonly onError: OnError;
  readonly dropRemainder: boolean;
  readonly maxPixels: number;
  readonly maxFileBytes: number;
  readonly maxSkipShare: number;
  readonly shard: Shard | null;
  readonly rankRemainder: RankRemainder;
  /** How each epoch's permutation is drawn: imgstream's own, or `torch.randperm`'s under `compat: 'torchvision'`. */
  readonly permutation: Permutation;
  /** The JPEG decoder in use: `'jpeg-turbo'` (fast path, sharp for what it declines) or `'sharp'`. */
  readonly decoder: JpegDecoder;
  readonly spec: DecodeSpec;
  readonly augment: AugmentSpec | null;
  /** The reference loader reproduced, or `null`. */
  readonly compat: Compat | null;
  /** Print Keras' "Found ..." and "Using ..." lines. */
  readonly verbose: boolean;
  /** A validation subset is re-shuffled every epoch (`false` under `compat: 'keras'`, as Keras keeps its order). */
  readonly shuffleValidation: boolean;
}

export const DEFAULTS = Object.freeze({
  imageSize: [256, 256] as const,
  colorMode: 'rgb' as ColorMode,
  labelMode: 'int' as LabelMode,
  batchSize: 32,
  shuffle: true,
  seed: 0,
  interpolation: 'bilinear' as Interpolation,
  cropToAspectRatio: false,
  dtype: 'float32' as Dtype,
  normalize: 'none' as Normalize,
  workers: 'auto' as const,
  memoryBudget: '256MiB',
  prefetch: 'auto' as number | 'auto',
  onError: 'skip' as OnError,
  dropRemainder: false,
  maxPixels: 89_478_485,
  maxFileBytes: '1GiB' as number | string,
  maxSkipShare: 0.5,
  shard: null as Shard | null,
  rankRemainder: 'repeat' as RankRemainder,
  augment: null as AugmentOptions | null,
  decoder: 'auto' as Decoder,
  padToAspectRatio: false,
  compat: null as Compat | null,
  antialias: true,
  applyExifOrientation: true,
  iccProfile: 'ignore' as 'ignore' | 'srgb',
  verbose: false,
});

/** Batches counted in `memoryBudget` besides the ring: the one being assembled and the one the consumer holds. */
const BATCHES_IN_BUDGET = 2;

/**
 * The most batches pooled (`pooledBatches`) when the budget has room past the ring. A full garbage collection
 * (about 10 ms of CPU on the main thread, with its helper threads) returns the batches dropped since the last
 * one; with 8 pooled it runs once per 7 batches instead of once per batch.
 */
export const MAX_POOLED_BATCHES = 8;

/** The largest Buffer this Node makes: a file's bytes are read into one. */
const BUFFER_MAX_LENGTH = bufferConstants.MAX_LENGTH;

/** `workers: 'auto'`: one decode worker per core this process may use. */
export function defaultWorkerCount(): number {
  return Math.max(1, os.availableParallelism());
}

const CHANNELS: Record<ColorMode, ColorChannels> = { grayscale: 1, rgb: 3, rgba: 4 };

/** Parses a byte size: a number of bytes or a string such as `'256MiB'`, `'1.5 GB'`, `'64mb'`. */
export function parseByteSize(option: string, value: unknown): number {
  let parsed: number | null = null;
  if (typeof value === 'number') parsed = value;
  else if (typeof value === 'string') parsed = bytes.parse(value.trim().replace(/([kmgtp])ib$/i, '$1b'));
  if (!number(parsed) || parsed <= 0) {
    throw invalid(option, "a positive number of bytes or a size such as '256MiB'", value);
  }
  return Math.floor(parsed);
}

function channelList(option: string, value: unknown, channels: number): number[] {
  const list = typeof value === 'number' ? Array(channels).fill(value) : value;
  if (!Array.isArray(list) || list.length !== channels || !list.every(number)) {
    throw invalid(option, `a number or an array of ${channels} numbers (one per channel)`, value);
  }
  return list as number[];
}

function resolveNormalization(normalize: unknown, dtype: Dtype, channels: number): Normalization | null {
  if (normalize === 'none' || normalize === undefined) return null;
  if (dtype === 'uint8') {
    throw Errors.optionConflict(
      `Expected normalize 'none' with dtype 'uint8' (uint8 holds raw 0..255 values) but received ${JSON.stringify(normalize)}`,
    );
  }
  const fill = (v: number) => Array<number>(channels).fill(v);
  if (normalize === 'unit') return { scale: fill(1 / 255), offset: fill(0) };
  if (normalize === 'symmetric') return { scale: fill(2 / 255), offset: fill(-1) };
  if (typeof normalize === 'object' && normalize !== null && 'mean' in normalize && 'std' in normalize) {
    const n = normalize as { mean: unknown; std: unknown };
    const mean = channelList('normalize.mean', n.mean, channels);
    const std = channelList('normalize.std', n.std, channels);
    std.forEach((s, i) => {
      if (s <= 0) throw invalid(`normalize.std[${i}]`, 'a positive number', s);
    });
    return { scale: std.map((s) => 1 / (255 * s)), offset: mean.map((m, i) => -m / std[i]) };
  }
  throw invalid('normalize', "one of 'none', 'unit', 'symmetric' or { mean, std }", normalize);
}

function resolveShard(value: unknown): Shard | null {
  if (!defined(value)) return null;
  const shard = value as Shard;
  if (!object(value) || !integerIn(shard.count, 1, Infinity)) {
    throw invalid('shard', '{ count, index } with count a positive integer', value);
  }
  return Object.freeze({ count: shard.count, index: integerBetween('shard.index', shard.index, 0, shard.count - 1) });
}

const KNOWN = new Set([...Object.keys(DEFAULTS)]);

/**
 * Checks `options` against `index` and resolves every default. Throws an `ERR_OPTION` error naming the
 * option, what is allowed and the value received.
 */
export function resolveOptions(
  options: LoaderOptions,
  index: FileIndex,
  extraKnown: readonly string[] = [],
  sampleCount: number = index.size,
): ResolvedOptions {
  if (!object(options)) throw invalid('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key) && !extraKnown.includes(key)) {
      throw invalid('options', `only known options (${[...KNOWN, ...extraKnown].join(', ')})`, key);
    }
  }
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };

  const [height, width] = size2d('imageSize', o.imageSize);
  const imageSize = [height, width] as const;
  const colorMode = oneOf<ColorMode>('colorMode', o.colorMode, ['grayscale', 'rgb', 'rgba']);
  const channels = CHANNELS[colorMode];
  const labelMode = oneOf<LabelMode>('labelMode', o.labelMode, ['int', 'categorical', 'binary', null]);
  const numClasses = index.classNames.length;
  if (labelMode !== null && index.labels === null) {
    throw Errors.optionConflict(
      `Expected labelMode null for an index without labels (no class folders) but received '${labelMode}'`,
    );
  }
  if (labelMode === 'binary' && numClasses !== 2) {
    throw Errors.optionConflict(`Expected exactly 2 classes for labelMode 'binary' but found ${numClasses}`);
  }
  const batchSize = positiveInteger('batchSize', o.batchSize, 1 << 20);
  const shuffle = boolean('shuffle', o.shuffle);
  const seed = integerBetween('seed', o.seed, 0, 0xffffffff);
  const cropToAspectRatio = boolean('cropToAspectRatio', o.cropToAspectRatio);
  const compat = resolveCompat(o, options as Record<string, unknown>, cropToAspectRatio);
  const interpolation = compat.interpolation;
  const dtype = oneOf<Dtype>('dtype', o.dtype, ['float32', 'uint8']);
  const normalization = resolveNormalization(o.normalize, dtype, channels);
  const workers =
    o.workers === 'auto' ? defaultWorkerCount() : positiveInteger("workers (or 'auto')", o.workers, 256);
  const memoryBudget = parseByteSize('memoryBudget', o.memoryBudget);
  const prefetch = o.prefetch === 'auto' ? 'auto' : positiveInteger("prefetch (or 'auto')", o.prefetch);
  const onError = oneOf<OnError>('onError', o.onError, ['skip', 'throw']);
  const dropRemainder = boolean('dropRemainder', o.dropRemainder);
  const maxPixels = positiveInteger('maxPixels', o.maxPixels);
  const maxFileBytes = parseByteSize('maxFileBytes', o.maxFileBytes);
  if (maxFileBytes > BUFFER_MAX_LENGTH) {
    throw invalid('maxFileBytes', `at most ${BUFFER_MAX_LENGTH} bytes (the largest Buffer)`, o.maxFileBytes);
  }
  const maxSkipShare = numberBetween('maxSkipShare', o.maxSkipShare, 0, 1);
  const shard = resolveShard(o.shard);
  const rankRemainder = oneOf<RankRemainder>('rankRemainder', o.rankRemainder, ['repeat', 'drop']);
  const augment = resolveAugment(o.augment, imageSize);
  const decoder = resolveDecoder(oneOf<Decoder>('decoder', o.decoder, ['auto', 'sharp', 'jpeg-turbo']));

  const spec: DecodeSpec = Object.freeze({
    height: imageSize[0],
    width: imageSize[1],
    channels,
    dtype,
    slotDtype: dtype === 'float32' && augment === null && compat.reference === null ? 'uint8' : dtype,
    normalization,
    interpolation,
    cropToAspectRatio,
    maxPixels,
    maxFileBytes,
    decoder,
    reference: compat.reference,
    ignoreOrientation: !compat.applyExifOrientation,
    convertIcc: compat.iccProfile === 'srgb',
  });
  if (compat.reference !== null && augment !== null) {
    throw Errors.optionConflict(
      `Expected augment null with the reference resampler (${compat.compat === null ? 'antialias: false' : `compat: '${compat.compat}'`}) but received an augmentation`,
    );
  }
  const sampleBytes = bytesPerSample(spec);
  const slotBytes = bytesPerSlot(spec);
  // The budget holds the ring and at least the two batches the loader may fill or keep at once: the one it assembles
  // and the one the consumer holds meanwhile or has handed back. The ring needs at least a batch of slots so
  // that a batch can always be completed. Slots are counted at a batch sample's size: a slot of 8-bit levels
  // (float32 output, see `slotDtype`) takes a quarter of what the budget sets aside for it.
  const slots = Math.floor(memoryBudget / sampleBytes) - BATCHES_IN_BUDGET * batchSize;
  if (slots < batchSize) {
    throw invalid(
      'memoryBudget',
      `at least ${bytes.format((BATCHES_IN_BUDGET + 1) * batchSize * sampleBytes)} (${BATCHES_IN_BUDGET + 1} batches of ${batchSize} samples of ${sampleBytes} bytes: ` +
        'a ring of one batch, the batch being assembled and the one the consumer holds)',
      o.memoryBudget,
    );
  }
  // A deeper ring than a few batches buys no throughput (the bench's budget sweep shows it) and costs
  // memory; no more slots than the loader has samples either (one side of a split may be far smaller).
  const depth = prefetch === 'auto' ? Math.max(4 * batchSize, 8 * workers) : prefetch * batchSize;
  const capacity = Math.min(slots, Math.max(batchSize, depth), Math.max(batchSize, sampleCount));
  // What the ring leaves of the budget goes to more pooled batches, so that fewer collections are asked for.
  const pooledBatches = BATCHES_IN_BUDGET + Math.min(MAX_POOLED_BATCHES - BATCHES_IN_BUDGET, Math.floor((slots - capacity) / batchSize));

  return Object.freeze({
    imageSize,
    colorMode,
    channels,
    labelMode,
    numClasses,
    batchSize,
    shuffle,
    seed,
    interpolation,
    cropToAspectRatio,
    dtype,
    normalize: o.normalize as Normalize,
    workers,
    memoryBudget,
    prefetch,
    capacity,
    pooledBatches,
    sampleBytes,
    slotBytes,
    onError,
    dropRemainder,
    maxPixels,
    maxFileBytes,
    maxSkipShare,
    shard,
    rankRemainder,
    permutation: compat.compat === 'torchvision' ? 'torch' : 'imgstream',
    decoder,
    spec,
    augment,
    compat: compat.compat,
    verbose: compat.verbose,
    shuffleValidation: compat.shuffleValidation,
  });
}

const DEFAULT_INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'lanczos3'];
const KERAS_INTERPOLATIONS: readonly Interpolation[] = [...DEFAULT_INTERPOLATIONS, 'area', 'lanczos5', 'gaussian', 'mitchellcubic'];
const PIL_FILTER: Partial<Record<Interpolation, string>> = { nearest: 'nearest', bilinear: 'bilinear', bicubic: 'bicubic', lanczos3: 'lanczos' };

/** `compat` and the switches behind it: each given switch wins over the preset, the preset over the default. */
function resolveCompat(o: Record<string, unknown>, given: Record<string, unknown>, cropToAspectRatio: boolean) {
  const compat = oneOf<Compat | null>('compat', o.compat, [...COMPAT_VALUES, null]);
  const preset = compat === null ? null : COMPAT_PRESETS[compat];
  const value = (option: 'antialias' | 'applyExifOrientation' | 'verbose' | 'iccProfile') =>
    given[option] ?? (preset === null ? o[option] : preset[option]);
  const antialias = boolean('antialias', value('antialias'));
  const applyExifOrientation = boolean('applyExifOrientation', value('applyExifOrientation'));
  const verbose = boolean('verbose', value('verbose'));
  const iccProfile = oneOf<'ignore' | 'srgb'>('iccProfile', value('iccProfile'), ['ignore', 'srgb']);
  const padToAspectRatio = boolean('padToAspectRatio', o.padToAspectRatio);
  if (padToAspectRatio && cropToAspectRatio) {
    throw Errors.optionConflict('Expected at most one of cropToAspectRatio and padToAspectRatio but received both true');
  }
  const resampler = compat === 'torchvision' && antialias ? 'pil' : antialias ? null : 'tf';
  const allowed = resampler === 'tf' ? KERAS_INTERPOLATIONS : DEFAULT_INTERPOLATIONS;
  const interpolation = oneOf<Interpolation>(
    resampler === 'tf' ? 'interpolation' : "interpolation (Keras' area, lanczos5, gaussian and mitchellcubic need antialias: false)",
    o.interpolation,
    allowed,
  );
  if (padToAspectRatio && resampler !== 'tf') {
    throw Errors.optionConflict(
      "Expected antialias false (or compat: 'keras') with padToAspectRatio, Keras' resize_with_pad, but received antialias true",
    );
  }
  const reference: ReferenceResize | null =
    resampler === null
      ? null
      : Object.freeze({
          resampler,
          method: resampler === 'pil' ? (PIL_FILTER[interpolation] as string) : interpolation,
          fit: cropToAspectRatio ? 'crop' : padToAspectRatio ? 'pad' : 'stretch',
          applyExifOrientation,
          convertIcc: iccProfile === 'srgb',
        });
  const shuffleValidation = preset?.shuffleValidation ?? true;
  return { compat, interpolation, reference, applyExifOrientation, iccProfile, verbose, shuffleValidation };
}
