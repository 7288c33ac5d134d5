/**
 * What crosses the thread boundary, declared once: the worker's start-up data, the task and result shapes,
 * and the ring's layout and slot states. Both the main thread (`coordinator`, `ring`) and the decode
 * worker (`workers/decode`) import this module; neither side invents its own numbers.
 */
import type { AugmentSpec } from './augment-options.js';
import type { ErrorCode } from './errors.js';

/** Slot states, stored in `Int32Array` cells and changed with `Atomics`. */
export const SlotState = {
  /** Free: the coordinator may hand it to a task. */
  EMPTY: 0,
  /** Handed to a task; a worker is (or will be) decoding into it. */
  PENDING: 1,
  /** Pixels written; the consumer may copy them out. */
  READY: 2,
  /** The sample could not be decoded; details come back in the task result. */
  FAILED: 3,
} as const;

/** Int32 cells per slot in the ring's state array. */
export const SLOT_FIELDS = 2;
/** Offset of the slot's {@link SlotState}. Waited on with `Atomics.waitAsync`. */
export const FIELD_STATE = 0;
/** Offset of the epoch position the slot holds (checked by the consumer). */
export const FIELD_POSITION = 1;

/**
 * The ring's shared memory, as a worker receives it: slot `s`'s pixels are bytes
 * `[s * sampleBytes, (s + 1) * sampleBytes)` of `pixels`; its cells are `states[s * SLOT_FIELDS + FIELD_*]`.
 */
export interface RingBuffers {
  capacity: number;
  sampleBytes: number;
  /** `capacity * sampleBytes` bytes. */
  pixels: SharedArrayBuffer;
  /** `Int32Array` of `capacity * SLOT_FIELDS` cells. */
  states: SharedArrayBuffer;
}

export type ColorChannels = 1 | 3 | 4;
export type Dtype = 'float32' | 'uint8';
export type Interpolation =
  | 'nearest'
  | 'bilinear'
  | 'bicubic'
  | 'lanczos3'
  | 'area'
  | 'lanczos5'
  | 'gaussian'
  | 'mitchellcubic';

/**
 * The reference decode path (`workers/reference-decode.ts`): full-size decode, then a reference resampler.
 * `null` in a spec: the default path (shrink-on-load, libvips or the JPEG fast path).
 */
export interface ReferenceResize {
  /** `'tf'`: `tf.image.resize` without antialiasing (Keras); `'pil'`: PIL's `Image.resize` (torchvision). */
  resampler: 'tf' | 'pil';
  /** The resampler's method: a Keras interpolation, or a PIL filter (`'lanczos'` for `lanczos3`). */
  method: string;
  /** `'stretch'` to the target, Keras' `'crop'` (`smart_resize`) or `'pad'` (`resize_with_pad`) box. */
  fit: 'stretch' | 'crop' | 'pad';
  applyExifOrientation: boolean;
  /** Convert with the embedded ICC profile to sRGB (else the stored values are used). */
  convertIcc: boolean;
}
/** The decoder a worker uses for JPEGs: the libjpeg-turbo fast path (falling back to sharp per file) or sharp. */
export type JpegDecoder = 'jpeg-turbo' | 'sharp';

/** Per-channel affine map applied on the way to float32: `value * scale[c] + offset[c]`. */
export interface Normalization {
  scale: number[];
  offset: number[];
}

/** Everything a worker needs to turn a file into a slot's pixels; fixed for the worker's life. */
export interface DecodeSpec {
  height: number;
  width: number;
  channels: ColorChannels;
  dtype: Dtype;
  /**
   * What a ring slot holds: `dtype`, or `'uint8'` levels for a float32 output that is a function of the 8-bit
   * levels alone (no augmentation, no reference resampler), which the consumer converts as it fills the batch
   * (`src/levels.ts`). The workers write slots of this type and never convert.
   */
  slotDtype: Dtype;
  /** `null` for uint8 output or `normalize: 'none'` on float32 (raw 0..255 values). */
  normalization: Normalization | null;
  interpolation: Interpolation;
  cropToAspectRatio: boolean;
  maxPixels: number;
  /** Files larger than this many bytes are refused from their size (the reader's default when absent). */
  maxFileBytes?: number;
  decoder: JpegDecoder;
  /** The reference decode path, or `null` for the default one. */
  reference: ReferenceResize | null;
  /** EXIF orientation left unapplied (`applyExifOrientation: false`): pixels as stored. */
  ignoreOrientation: boolean;
  /** Embedded ICC profiles converted to sRGB (`iccProfile: 'srgb'`); `false`: ignored, by both decoders. */
  convertIcc: boolean;
}

/**
 * Where a worker finds a sample's encoded bytes: a file path packed in shared memory, read by the worker
 * ({@link FileSource}), or bytes the main thread staged in shared memory ({@link StagedSource}, the shard
 * stream's). Told apart by `kind`; a pool serves one kind for its life.
 */
export interface FileSource {
  kind: 'files';
  /** UTF-8 bytes of all paths, back to back. */
  pathBytes: SharedArrayBuffer;
  /** `Float64Array` of `size + 1` byte offsets into `pathBytes`. */
  pathOffsets: SharedArrayBuffer;
}
/** A stream source's staging arena: each task names its samples' bytes in it or beside it (`DecodeTask.staged`). */
export interface StagedSource {
  kind: 'staged';
  arena: SharedArrayBuffer;
}
export type SampleSource = FileSource | StagedSource;

/** `workerData` of every decode worker. Shared buffers are shared, not copied. */
export interface WorkerInit {
  spec: DecodeSpec;
  /** The samples' encoded bytes, by index-entry number. */
  source: SampleSource;
  /** The ring the worker decodes into. */
  ring: RingBuffers;
  /** The loader's seed. */
  seed: number;
  /** Random augmentation, drawn per sample from (seed, epoch, index entry); `null` for none. */
  augment: AugmentSpec | null;
}

/** A slice of consecutive epoch positions; only small integers cross the boundary. */
export interface DecodeTask {
  /** Epoch number (0-based): with the seed and the sample, it fixes the sample's random augmentation. */
  epoch: number;
  /** Epoch position of the first sample; position `p` lives in slot `p % capacity`. */
  firstPosition: number;
  /**
   * One number per position: for a file source, the index entry (into the packed paths); for a stream source,
   * the sample's number in the dataset. Either way it fixes the sample's augmentation draw.
   */
  samples: number[];
  /** A staged source's task: where the samples' encoded bytes are, instead of files. Absent for a file source. */
  staged?: StagedBytes;
}

/**
 * Sample `i`'s encoded bytes are `[offsets[i], offsets[i] + lengths[i])` of `buffers[i]`, or of the staging
 * arena where that is `null`: a shard stream receives an image's bytes into a shared buffer of its own, which
 * is handed over as it is (no copy), and the main thread writes it again only after the sample's position
 * is released; other bytes are copied or read into the arena.
 */
export interface StagedBytes {
  offsets: number[];
  lengths: number[];
  buffers: (SharedArrayBuffer | null)[];
}

export interface SampleFailure {
  position: number;
  code: ErrorCode;
  message: string;
}

export interface DecodeResult {
  failures: SampleFailure[];
  /** Wall time the worker spent on the slice, in milliseconds. */
  busyMs: number;
}

/** Bytes of one sample in a batch (`dtype` values). */
export function bytesPerSample(spec: DecodeSpec): number {
  return spec.height * spec.width * spec.channels * (spec.dtype === 'float32' ? 4 : 1);
}

/** Bytes of one ring slot (`slotDtype` values). */
export function bytesPerSlot(spec: DecodeSpec): number {
  return spec.height * spec.width * spec.channels * (spec.slotDtype === 'float32' ? 4 : 1);
}
