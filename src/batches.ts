/**
 * The consumer: takes epoch positions in order, copies each good sample out of its slot into the batch being
 * assembled (converting a slot of 8-bit levels to float32 on the way, see `levels.ts`), frees the slot at once,
 * and yields fixed-size batches. A skipped sample's place is taken by the
 * next good one, so batches stay full.
 */
import { Errors, type SkippedSample } from './errors.js';
import { LevelsToFloat } from './levels.js';
import type { Coordinator } from './coordinator.js';
import type { ResolvedOptions } from './options.js';
import type { Ring } from './ring.js';
import type { ConsumerCounters } from './stats.js';

/** One batch, NHWC. */
export interface Batch {
  /**
   * `n * h * w * c` values: Float32Array for dtype float32, Uint8Array for uint8. A short last batch's arrays
   * are views on the start of full-size ones (`images.length` is exact; `images.buffer` is larger).
   */
  images: Float32Array | Uint8Array;
  /** int/binary: Int32Array of `n`; categorical: one-hot Float32Array of `n * numClasses`; `null` without labels. */
  labels: Int32Array | Float32Array | null;
  shape: [number, number, number, number];
  /** Paths of the batch's samples, in order. */
  paths: string[];
}

/**
 * What the consumer takes positions from: the file `Coordinator`, or a stream source's (`ShardCoordinator`).
 * `entryAt(p)` names the entry whose label and path the {@link EntrySource} gives.
 */
export type PositionFeed = Pick<Coordinator, 'size' | 'held' | 'pump' | 'isReady' | 'settle' | 'release' | 'entryAt'>;

/** Labels and paths by entry: the index for files, the stream coordinator's per-slot record for shards. */
export interface EntrySource {
  readonly labels: Int32Array | null;
  path(entry: number): string;
}

/** Memory of an earlier batch to be filled again (see `batch-pool.ts`); `labels: null` makes new labels. */
export interface BatchArrays {
  images: Float32Array | Uint8Array;
  labels: Int32Array | Float32Array | null;
}

/** One batch being assembled: samples copied out of their slots, in order (exported for the bench's stage timings). */
export class BatchBuilder {
  readonly images: Float32Array | Uint8Array;
  readonly imageBytes: Uint8Array;
  readonly labels: Int32Array | Float32Array | null;
  readonly paths: string[] = [];

  /**
   * @param levels - for a ring of 8-bit levels and float32 batches (`spec.slotDtype`), their conversion; `null`:
   *   slots hold the batch's own values and are copied.
   */
  constructor(
    private readonly options: ResolvedOptions,
    reuse: BatchArrays | null,
    private readonly levels: LevelsToFloat | null = null,
  ) {
    const n = options.batchSize;
    const perSample = options.imageSize[0] * options.imageSize[1] * options.channels;
    const mode = options.labelMode;
    // Every image byte of reused memory is overwritten; reused one-hot rows are not, so they start from zero
    // again. Memory offered without labels (the loader's pool) gets new ones.
    this.images = reuse?.images ?? (options.dtype === 'float32' ? new Float32Array(n * perSample) : new Uint8Array(n * perSample));
    if (mode !== null && reuse?.labels) {
      this.labels = reuse.labels;
      if (this.labels instanceof Float32Array) this.labels.fill(0);
    } else {
      this.labels = mode === null ? null : mode === 'categorical' ? new Float32Array(n * options.numClasses) : new Int32Array(n);
    }
    this.imageBytes = new Uint8Array(this.images.buffer, 0, this.images.byteLength);
  }

  get count(): number {
    return this.paths.length;
  }

  add(ring: Ring, slot: number, label: number, path: string): void {
    const row = this.count;
    if (this.levels !== null) {
      // A slot of levels: one byte per value.
      this.levels.convert(ring.pixelsOf(slot, 'uint8') as Uint8Array, this.images as Float32Array, row * ring.sampleBytes);
    } else {
      ring.copyOut(slot, this.imageBytes, row * ring.sampleBytes);
    }
    if (this.labels instanceof Float32Array) this.labels[row * this.options.numClasses + label] = 1;
    else if (this.labels !== null) this.labels[row] = label;
    this.paths.push(path);
  }

  finish(): Batch {
    const n = this.count;
    const [h, w] = this.options.imageSize;
    const c = this.options.channels;
    const full = n === this.options.batchSize;
    // A short batch is a view on the start of the arrays: a copy would hold a second batch's memory
    // while the full-size arrays wait for the garbage collector.
    const images = full ? this.images : this.images.subarray(0, n * h * w * c);
    let labels = this.labels;
    if (labels !== null && !full) labels = labels.subarray(0, labels instanceof Float32Array ? n * this.options.numClasses : n);
    return { images, labels, shape: [n, h, w, c], paths: this.paths };
  }
}

/**
 * Runs one epoch over `coordinator`'s positions and yields its batches, counting what it does in
 * {@link Consumer.counters} (see `stats.ts`). The caller owns the coordinator and joins it when the generator ends, however it ends.
 */
export class Consumer {
  readonly counters: ConsumerCounters;
  private readonly levels: LevelsToFloat | null;

  constructor(
    private readonly coordinator: PositionFeed,
    private readonly ring: Ring,
    private readonly index: EntrySource,
    private readonly options: ResolvedOptions,
    startPosition: number,
    private readonly takeRecycled: () => BatchArrays | null = () => null,
  ) {
    const { spec } = options;
    this.levels = spec.slotDtype === spec.dtype ? null : new LevelsToFloat(spec.normalization, spec.channels);
    this.counters = {
      position: startPosition,
      imagesPerSecond: 0,
      decoded: 0,
      skipped: [],
      batches: 0,
      timeToFirstBatchMs: 0,
      stallMs: 0,
      meanFill: 0,
    };
  }

  async *batches(): AsyncGenerator<Batch, void, undefined> {
    const { coordinator, ring, index, options, counters } = this;
    const startPosition = counters.position;
    const started = performance.now();
    const labels = index.labels;
    let fillSum = 0;
    let taken = 0;
    let position = 0;
    coordinator.pump();
    while (position < coordinator.size) {
      const batch = new BatchBuilder(options, this.takeRecycled(), this.levels);
      while (batch.count < options.batchSize && position < coordinator.size) {
        fillSum += coordinator.held / ring.capacity;
        taken += 1;
        // Most samples are ready when the consumer gets to them: no promise, no clock reading for those.
        let skip: SkippedSample | null = null;
        if (!coordinator.isReady(position)) {
          const waitStart = performance.now();
          skip = await coordinator.settle(position);
          counters.stallMs += performance.now() - waitStart;
        }
        if (skip !== null) {
          counters.skipped.push(skip);
          if (options.onError === 'throw') throw Errors.sample(skip);
          // Past the share, the epoch cannot end within it: fail now rather than train on what is left.
          if (counters.skipped.length > options.maxSkipShare * coordinator.size) {
            throw Errors.tooManySkipped(counters.skipped, coordinator.size, options.maxSkipShare);
          }
        } else {
          const entry = coordinator.entryAt(position);
          batch.add(ring, ring.slotOf(position), labels === null ? 0 : labels[entry], index.path(entry));
          counters.decoded += 1;
        }
        coordinator.release(position);
        position += 1;
      }
      if (batch.count === 0 || (batch.count < options.batchSize && options.dropRemainder)) break;
      counters.batches += 1;
      counters.position = startPosition + position;
      const elapsed = performance.now() - started;
      if (counters.batches === 1) counters.timeToFirstBatchMs = elapsed;
      counters.imagesPerSecond = counters.decoded / (elapsed / 1000);
      counters.meanFill = taken === 0 ? 0 : fillSum / taken;
      yield batch.finish();
    }
  }
}
