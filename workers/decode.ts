/**
 * The decode worker: for each epoch position of a slice, read the file, decode it (JPEGs through the
 * libjpeg-turbo fast path of `jpeg-turbo.ts` when it takes them, BMPs through `bmp.ts`, everything else with sharp, shrink-on-load
 * resize, EXIF orientation, colour mode), convert to the output dtype and write it straight into the
 * position's ring slot, then flip the slot's state with `Atomics` so the consumer can take it.
 * Only the slice's integers come in; only failures (rare) go back as text.
 */
// piscina hands its `workerData` option to each thread as the thread's own: importing it from 'piscina' would
// load the whole pool (its main-thread side) into every decode worker.
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import { readPackedFileName } from '../src/file-index.js';
import { SampleError, SampleReader } from '../src/read-sample.js';
import type { AugmentDraw } from './augment.js';
import { jpegFastPath } from './jpeg-turbo.js';
import { nativeAddon } from '../src/native/addon.js';
import { Ring } from '../src/ring.js';
import {
  SlotState,
  type DecodeResult,
  type DecodeSpec,
  type DecodeTask,
  type StagedBytes,
  type SampleFailure,
  type WorkerInit,
} from '../src/protocol.js';

const init = workerData as WorkerInit;
const spec: DecodeSpec = init.spec;
const source = init.source;
const offsets = source.kind === 'files' ? new Float64Array(source.pathOffsets) : new Float64Array(0);
const pathText = source.kind === 'files' ? Buffer.from(source.pathBytes) : Buffer.alloc(0);
const ring = new Ring(init.ring);

const fastPath = jpegFastPath(spec);
const augment = init.augment;

/**
 * The modules only some loaders need, loaded on first use: augmentation's (when `augment` is set: with the
 * worker), and the sharp path's (sharp, libvips, the BMP codec, the reference resamplers: on the first
 * file the fast path declines). A JPEG-only loader's worker loads neither.
 */
type AugmentModule = typeof import('./augment.js');
type SharpModule = typeof import('./sharp-decode.js');
// Required (ES modules without top-level await load synchronously so) by file name, as the pool names this
// module: `.ts` when the sources run directly (tests, tsx), `.js` once built.
const requireHere = createRequire(import.meta.url);
const sibling = <T>(name: string) => requireHere(`./${name}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`) as T;
const aug = augment === null ? null : sibling<AugmentModule>('augment');
let sharpModule: SharpModule | null = null;
const sharpPath = () => (sharpModule ??= sibling<SharpModule>('sharp-decode'));
/** The fast path's 8-bit stage image for augmentation's pass; reused, and only used between two awaits. */
let stagePixels = new Uint8Array(0);

/**
 * The JPEG fast path, when it takes the file: straight into the slot, or with augmentation, the drawn crop
 * resized to the stage size into a scratch image, then augmentation's pixel pass into the slot. Blur is
 * sharp's, so a blurred draw stays with sharp.
 */
function decodeFast(data: Buffer, out: Float32Array | Uint8Array, draw: AugmentDraw | null): boolean {
  if (fastPath === null) return false;
  if (draw === null || augment === null || aug === null) return fastPath(data, out);
  if (draw.blurSigma >= aug.BLUR_SIGMA_MIN) return false;
  const stage = aug.stageSize(augment, spec);
  const length = stage.width * stage.height * spec.channels;
  if (stagePixels.length < length) stagePixels = new Uint8Array(length);
  const pixels = stagePixels.subarray(0, length);
  const region = (source: { width: number; height: number }) => aug.cropWindow(draw, augment, source.width, source.height);
  if (!fastPath(data, pixels, { ...stage, region })) return false;
  aug.writeAugmented(out, pixels, stage.width, stage.height, draw, augment, spec);
  return true;
}

/**
 * Readers whose buffers no file holds any more. A file's reader goes back here once its pixels are written;
 * with two slices at once, each reading one file ahead, a worker keeps about four.
 */
const idleReaders: SampleReader[] = [];
/** Files up to this size are read without a reader's buffer ever growing; untouched pages cost no memory. */
const READER_RESERVE = 4 * 1024 * 1024;

/**
 * Every few hundred samples, the allocator's free pages go back to the system. glibc keeps one arena per
 * thread that allocates (these workers' decodes, libvips on libuv's pool for the files sharp takes), and each
 * keeps the pages of its busiest moment: left alone, their sum creeps up over a long epoch until every thread
 * has had its worst file, and peak RSS grows with the dataset. One `malloc_trim` costs well under a millisecond.
 */
const TRIM_EVERY = 256;
const addon = nativeAddon();
let sinceTrim = 0;
function trimNow(samples: number): void {
  sinceTrim += samples;
  if (sinceTrim < TRIM_EVERY) return;
  sinceTrim = 0;
  addon?.trimMemory();
}

/** The decode of one sample's bytes into its slot; throws a `SampleError` when it cannot be decoded. */
async function decodeInto(data: Buffer, slot: number, epoch: number, sample: number): Promise<void> {
  const out = ring.pixelsOf(slot, spec.slotDtype);
  if (spec.reference !== null) return sharpPath().referenceDecodeInto(data, out, spec);
  const draw = aug === null || augment === null ? null : aug.drawAugmentation(augment, spec, init.seed, epoch, sample);
  if (decodeFast(data, out, draw)) return;
  await sharpPath().sharpDecodeInto(data, out, draw, augment, spec);
}

/** A staged source's slice: the bytes are views on shared memory (the arena or their own), no file to read. */
async function decodeStaged(task: DecodeTask, arena: SharedArrayBuffer, staged: StagedBytes): Promise<DecodeResult> {
  const started = performance.now();
  const failures: SampleFailure[] = [];
  for (let i = 0; i < task.samples.length; i++) {
    const position = task.firstPosition + i;
    const slot = ring.slotOf(position);
    try {
      await decodeInto(Buffer.from(staged.buffers[i] ?? arena, staged.offsets[i], staged.lengths[i]), slot, task.epoch, task.samples[i]);
      ring.publish(slot, position, SlotState.READY);
    } catch (err) {
      const e = err instanceof SampleError ? err : new SampleError('ERR_DECODE', String(err));
      failures.push({ position, code: e.code, message: e.message });
      ring.publish(slot, position, SlotState.FAILED);
    }
  }
  trimNow(task.samples.length);
  return { failures, busyMs: performance.now() - started };
}

export default async function decodeSlice(task: DecodeTask): Promise<DecodeResult> {
  if (source.kind === 'staged' && task.staged !== undefined) return decodeStaged(task, source.arena, task.staged);
  const started = performance.now();
  const failures: SampleFailure[] = [];
  const count = task.samples.length;
  // Read the next file while this one decodes.
  const readers = new Array<SampleReader | null>(count).fill(null);
  const reads = new Array<Promise<Buffer> | null>(count).fill(null);
  const readAt = (i: number) => {
    if (reads[i] === null) {
      const reader = idleReaders.pop() ?? new SampleReader(READER_RESERVE, spec.maxFileBytes);
      readers[i] = reader;
      reads[i] = reader.read(readPackedFileName(pathText, offsets, task.samples[i]));
    }
    return reads[i];
  };
  const done = (i: number) => {
    const reader = readers[i];
    readers[i] = null;
    if (reader !== null) idleReaders.push(reader);
  };
  readAt(0).catch(() => undefined);
  for (let i = 0; i < count; i++) {
    const position = task.firstPosition + i;
    const slot = ring.slotOf(position);
    if (i + 1 < count) readAt(i + 1).catch(() => undefined);
    try {
      await decodeInto(await readAt(i), slot, task.epoch, task.samples[i]);
      ring.publish(slot, position, SlotState.READY);
    } catch (err) {
      const e = err instanceof SampleError ? err : new SampleError('ERR_DECODE', String(err));
      failures.push({ position, code: e.code, message: e.message });
      ring.publish(slot, position, SlotState.FAILED);
    } finally {
      done(i);
    }
  }
  trimNow(count);
  return { failures, busyMs: performance.now() - started };
}
