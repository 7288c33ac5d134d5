/**
 * The consumer: takes epoch positions in order, copies each good sample out of its slot into the batch being
 * assembled, frees the slot at once, and yields fixed-size batches. A skipped sample's place is taken by the
 * next good one, so batches stay full.
 */
import { Errors, type SkippedSample } from './errors.js';
import type { Coordinator } from './coordinator.js';
import type { ResolvedOptions } from './options.js';
import type { Ring } from './ring.js';
import type { LoaderStats } from './stats.js';

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
export type PositionFeed = Pick<Coordinator, 'size' | 'held' | 'counters' | 'pump' | 'isReady' | 'settle' | 'release' | 'entryAt'>;

/** Labels and paths by entry: the index for files, the stream coordinator's per-slot record for shards. */
export interface EntrySource {
  readonly labels: Int32Array | null;
  path(entry: number): string;
}

/** The arrays of a full batch the caller handed back with `loader.recycle(batch)`, to be filled again. */
export interface BatchArrays {
  images: Float32Array | Uint8Array;
  labels: Int32Array | Float32Array | null;
}

class BatchBuilder {
  readonly images: Float32Array | Uint8Array;
  readonly imageBytes: Uint8Array;
  readonly labels: Int32Array | Float32Array | null;
  readonly paths: string[] = [];

  constructor(
    private readonly options: ResolvedOptions,
    reuse: BatchArrays | null,
  ) {
    const n = options.batchSize;
    const perSample = options.imageSize[0] * options.imageSize[1] * options.channels;
    const mode = options.labelMode;
    if (reuse !== null) {
      // Every image byte is overwritten; one-hot rows are not, so they start from zero again.
      this.images = reuse.images;
      this.labels = reuse.labels;
      if (this.labels instanceof Float32Array) this.labels.fill(0);
    } else {
      this.images = options.dtype === 'float32' ? new Float32Array(n * perSample) : new Uint8Array(n * perSample);
      this.labels = mode === null ? null : mode === 'categorical' ? new Float32Array(n * options.numClasses) : new Int32Array(n);
    }
    this.imageBytes = new Uint8Array(this.images.buffer, 0, this.images.byteLength);
  }

  get count(): number {
    return this.paths.length;
  }

  add(ring: Ring, slot: number, label: number, path: string): void {
    const row = this.count;
    ring.copyOut(slot, this.imageBytes, row * ring.sampleBytes);
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
 * Runs one epoch over `coordinator`'s positions and yields its batches. The caller owns the coordinator and
 * joins it when this generator ends, however it ends.
 */
export async function* assembleBatches(
  coordinator: PositionFeed,
  ring: Ring,
  index: EntrySource,
  options: ResolvedOptions,
  stats: LoaderStats,
  startPosition: number,
  takeRecycled: () => BatchArrays | null = () => null,
): AsyncGenerator<Batch, void, undefined> {
  const started = performance.now();
  const labels = index.labels;
  let fillSum = 0;
  let taken = 0;
  let position = 0;
  coordinator.pump();
  while (position < coordinator.size) {
    const batch = new BatchBuilder(options, takeRecycled());
    while (batch.count < options.batchSize && position < coordinator.size) {
      fillSum += coordinator.held / ring.capacity;
      taken += 1;
      // Most samples are ready when the consumer gets to them: no promise, no clock reading for those.
      let skip: SkippedSample | null = null;
      if (!coordinator.isReady(position)) {
        const waitStart = performance.now();
        skip = await coordinator.settle(position);
        stats.stallMs += performance.now() - waitStart;
      }
      if (skip !== null) {
        stats.skipped.push(skip);
        if (options.onError === 'throw') throw Errors.sample(skip);
      } else {
        const entry = coordinator.entryAt(position);
        batch.add(ring, ring.slotOf(position), labels === null ? 0 : labels[entry], index.path(entry));
        stats.decoded += 1;
      }
      coordinator.release(position);
      position += 1;
    }
    if (batch.count === 0 || (batch.count < options.batchSize && options.dropRemainder)) break;
    stats.batches += 1;
    stats.position = startPosition + position;
    const elapsed = performance.now() - started;
    if (stats.batches === 1) stats.timeToFirstBatchMs = elapsed;
    stats.imagesPerSecond = stats.decoded / (elapsed / 1000);
    stats.producerIdleMs = coordinator.counters.producerIdleMs;
    stats.workerBusyMs = coordinator.counters.busyMs;
    stats.retries = coordinator.counters.retries;
    stats.ring.highWater = coordinator.counters.highWater;
    stats.ring.meanFill = taken === 0 ? 0 : fillSum / taken;
    yield batch.finish();
  }
}
