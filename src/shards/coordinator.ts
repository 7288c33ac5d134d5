/**
 * The coordinator of a shard epoch: takes the stream's samples in epoch order, copies each one's encoded
 * bytes into the staging arena and hands slices of (offset, length) to the decode workers, which decode them
 * into the ring exactly as they decode files. It keeps the contract of the file coordinator (`Coordinator`):
 * at most `capacity` positions held, clean `requestStop()` + `join()`, and the slices' bookkeeping is the same
 * `SliceRunner` (a lost slice retried alone on a quarantine thread); and it is the consumer's label source
 * (label and path by slot).
 */
import { Errors, type SkippedSample } from '../errors.js';
import type { DecodePool } from '../decode-pool.js';
import type { ResolvedOptions } from '../options.js';
import { SlotState, type DecodeTask, type StagedBytes } from '../protocol.js';
import type { Ring } from '../ring.js';
import { SliceRunner, sliceSizeFor, type CoordinatorCounters } from '../slices.js';
import { FileRanges } from './file-ranges.js';
import type { StagingArena } from './staging.js';
import type { ShardStream, StreamItem } from './stream.js';

export class ShardCoordinator {
  readonly counters: CoordinatorCounters = { busyMs: 0, producerIdleMs: 0, highWater: 0, retries: 0 };
  /** Label of the sample in each slot (the consumer reads `labels[entryAt(p)]`). */
  readonly labels: Int32Array;
  private readonly paths: string[];
  private readonly ring: Ring;
  private readonly sliceSize: number;
  private readonly slices: SliceRunner;
  private readonly failures: Map<number, SkippedSample>;
  /** Staged positions whose arena range is still live, in order (freed on release). */
  private readonly staged = new Set<number>();
  /** Items taken from the stream but not yet placed (the arena was full). */
  private pendingItem: StreamItem | null = null;
  private nextPosition = 0;
  private consumed = 0;
  private fullSince: number | null = null;
  private stopping = false;
  private dispatchedWaiters: (() => void)[] = [];
  private streamError: unknown = null;
  /** Local shards' images, read into the arena as they are staged. */
  private readonly files = new FileRanges();
  /**
   * Images received into shared buffers of their own (see `StagedBytes`), by position: handed to the workers
   * as they are, with a range of the arena reserved for the whole buffer so that the arena's bound still holds,
   * and given back to the stream when the position is released.
   */
  private readonly sharedImages = new Map<number, Uint8Array>();

  constructor(
    pool: DecodePool,
    options: ResolvedOptions,
    /** Where samples come from, in epoch order: a shard stream, or a bucket's objects (`ObjectStream`). */
    private readonly stream: Pick<ShardStream, 'take'> & Partial<Pick<ShardStream, 'recycle'>>,
    private readonly arena: StagingArena,
    private readonly epoch: number,
    readonly size: number,
  ) {
    this.ring = pool.ring;
    this.slices = new SliceRunner(pool, this.counters, {
      path: (p) => this.paths[this.ring.slotOf(p)],
      alone: (task, i) => {
        const staged = task.staged as StagedBytes;
        return { epoch: task.epoch, firstPosition: task.firstPosition + i, samples: [task.samples[i]], staged: { offsets: [staged.offsets[i]], lengths: [staged.lengths[i]], buffers: [staged.buffers[i]] } };
      },
      noun: 'sample',
    });
    this.failures = this.slices.failures;
    this.labels = new Int32Array(this.ring.capacity);
    this.paths = new Array<string>(this.ring.capacity).fill('');
    this.sliceSize = sliceSizeFor(this.ring.capacity, options.workers, options.batchSize);
  }

  /** The consumer's entry for position `p`: its slot, where its label and path are kept. */
  entryAt(position: number): number {
    return this.ring.slotOf(position);
  }

  path(entry: number): string {
    return this.paths[entry];
  }

  get held(): number {
    return this.nextPosition - this.consumed;
  }

  /**
   * Hands out what the stream has ready, in slices of up to `sliceSize` staged samples, while the ring has
   * free slots and the arena has room. A stream failure record takes its position at once, as FAILED.
   */
  pump(): void {
    if (this.stopping) return;
    let task: DecodeTask | null = null;
    let first = this.nextPosition;
    let reads: Promise<void>[] = [];
    const flush = () => {
      if (task !== null) this.slices.dispatch(first, task.samples.length, 0, task, reads.length > 0 ? Promise.all(reads) : null);
      task = null;
      reads = [];
    };
    while (!this.stopping && this.nextPosition < this.size) {
      // A slice starts only when the ring has room for a whole one (see `Coordinator.pump`).
      const free = this.consumed + this.ring.capacity - this.nextPosition;
      if (free < (task === null ? Math.min(this.sliceSize, this.size - this.nextPosition) : 1)) {
        this.fullSince ??= performance.now();
        break;
      }
      let item: StreamItem | null;
      try {
        item = this.pendingItem ?? this.stream.take();
      } catch (err) {
        this.streamError = err;
        break;
      }
      this.pendingItem = null;
      if (item === null) break;
      const position = this.nextPosition;
      const slot = this.ring.slotOf(position);
      if (!item.ok) {
        flush();
        this.ring.claim(slot, position);
        this.failures.set(position, item.skip);
        this.paths[slot] = item.skip.path;
        this.ring.publish(slot, position, SlotState.FAILED);
        this.advance();
        continue;
      }
      const image = item.image;
      const shared = image instanceof Uint8Array && image.buffer instanceof SharedArrayBuffer ? image : null;
      // A shared buffer is handed over whole, so its whole length is what the arena reserves.
      const reserved = shared !== null ? shared.buffer.byteLength : image.length;
      if (reserved > this.arena.capacity) {
        flush();
        this.ring.claim(slot, position);
        this.failures.set(position, { path: item.path, code: 'ERR_TOO_LARGE', message: `${item.image.length} bytes do not fit the staging memory` });
        this.paths[slot] = item.path;
        this.ring.publish(slot, position, SlotState.FAILED);
        this.advance();
        continue;
      }
      const offset = 'file' in image || shared !== null ? this.arena.reserve(reserved) : this.arena.place(image);
      if (offset === -1) {
        // The arena frees as the consumer releases positions; this item goes first then.
        this.pendingItem = item;
        break;
      }
      if (shared !== null) this.sharedImages.set(position, shared);
      else if (image instanceof Uint8Array) this.stream.recycle?.(image);
      if (task === null) {
        first = position;
        task = { epoch: this.epoch, firstPosition: position, samples: [], staged: { offsets: [], lengths: [], buffers: [] } };
      }
      const t = task as DecodeTask & { staged: StagedBytes };
      this.ring.claim(slot, position);
      this.labels[slot] = item.label;
      this.paths[slot] = item.path;
      this.staged.add(position);
      t.samples.push(item.sampleId);
      t.staged.offsets.push(shared !== null ? shared.byteOffset : offset);
      t.staged.lengths.push(image.length);
      t.staged.buffers.push(shared !== null ? (shared.buffer as SharedArrayBuffer) : null);
      if ('file' in image) reads.push(this.readRange(image, offset, position, t.staged.lengths, t.staged.lengths.length - 1));
      this.advance();
      if (t.samples.length >= this.sliceSize) flush();
    }
    flush();
    const waiters = this.dispatchedWaiters;
    this.dispatchedWaiters = [];
    for (const wake of waiters) wake();
  }

  private advance(): void {
    this.nextPosition += 1;
    this.counters.highWater = Math.max(this.counters.highWater, this.nextPosition - this.consumed);
  }

  /**
   * Reads a local image into its arena range. A read that fails leaves the sample's length 0 in its task and
   * its failure recorded, so that the worker's verdict on no bytes does not replace the reason.
   */
  private async readRange(image: { file: string; offset: number; length: number }, at: number, position: number, lengths: number[], i: number): Promise<void> {
    try {
      await this.files.readInto(image.file, image.offset, this.arena.view(at, image.length));
    } catch (err) {
      lengths[i] = 0;
      this.failures.set(position, { path: this.paths[this.ring.slotOf(position)], code: 'ERR_SHARD_READ', message: `cannot read the image: ${(err as Error).message ?? String(err)}` });
    }
  }

  isReady(position: number): boolean {
    return !this.stopping && position < this.nextPosition && this.ring.state(this.ring.slotOf(position)) === SlotState.READY;
  }

  /** Waits until position `p` has been handed out (the stream may be behind), then until it settles. */
  async settle(position: number): Promise<SkippedSample | null> {
    while (position >= this.nextPosition) {
      if (this.stopping) throw Errors.closed();
      if (this.streamError !== null) throw this.streamError;
      await new Promise<void>((resolve) => this.dispatchedWaiters.push(resolve));
    }
    return this.slices.settle(position, () => (this.stopping ? Errors.closed() : this.streamError !== null ? (this.streamError as Error) : null));
  }

  release(position: number): void {
    this.ring.release(this.ring.slotOf(position));
    this.slices.forget(position);
    if (this.staged.delete(position)) this.arena.freeOldest();
    const shared = this.sharedImages.get(position);
    if (shared !== undefined) {
      this.sharedImages.delete(position);
      this.stream.recycle?.(shared);
    }
    this.consumed = position + 1;
    if (this.fullSince !== null) {
      this.counters.producerIdleMs += performance.now() - this.fullSince;
      this.fullSince = null;
    }
    this.pump();
  }

  requestStop(): void {
    this.stopping = true;
    this.slices.stopping = true;
    const waiters = this.dispatchedWaiters;
    this.dispatchedWaiters = [];
    for (const wake of waiters) wake();
  }

  async join(): Promise<void> {
    this.requestStop();
    await this.slices.join();
    await this.files.close();
  }
}
