/**
 * The coordinator, after TF's Coordinator and queue runners: drives the worker pool for one epoch, keeps at
 * most `capacity` samples in flight or ready, hands slices of epoch positions (integers, not pixels) to the
 * workers, collects per-sample failures, retries work lost with a worker, and stops cleanly on
 * `requestStop()` + `join()`.
 */
import { Errors, type SkippedSample } from './errors.js';
import type { FileIndex } from './file-index.js';
import type { ResolvedOptions } from './options.js';
import { SlotState } from './protocol.js';
import type { Ring } from './ring.js';
import { SliceRunner, sliceSizeFor, type CoordinatorCounters, type TaskRunner } from './slices.js';

export type { CoordinatorCounters, TaskRunner } from './slices.js';

export class Coordinator {
  readonly counters: CoordinatorCounters = { busyMs: 0, producerIdleMs: 0, highWater: 0, retries: 0 };
  private readonly ring: Ring;
  private readonly entries: Int32Array;
  private readonly order: Int32Array;
  private readonly sliceSize: number;
  private readonly slices: SliceRunner;
  private nextPosition = 0;
  private consumed = 0;
  private fullSince: number | null = null;
  private stopping = false;
  private stopReason: Error | null = null;

  constructor(
    private readonly index: FileIndex,
    options: ResolvedOptions,
    pool: TaskRunner,
    entries: Int32Array,
    order: Int32Array,
    private readonly epoch: number,
  ) {
    this.ring = pool.ring;
    this.slices = new SliceRunner(pool, this.counters, {
      path: (p) => this.index.path(this.entryAt(p)),
      alone: (task, i) => ({ epoch: task.epoch, firstPosition: task.firstPosition + i, samples: [task.samples[i]] }),
      noun: 'file',
    });
    this.entries = entries;
    this.order = order;
    this.sliceSize = sliceSizeFor(this.ring.capacity, options.workers, options.batchSize);
  }

  get size(): number {
    return this.order.length;
  }

  /** Entry number (into the index) of epoch position `p`. */
  entryAt(position: number): number {
    return this.entries[this.order[position]];
  }

  /**
   * Hands out as many whole slices as the free slots allow. A slice waits for its last slot rather than
   * going out short: freed one at a time, slots would otherwise go out as one-sample tasks, each paying
   * the pool's per-task cost.
   */
  pump(): void {
    while (!this.stopping && this.nextPosition < this.size) {
      const free = this.consumed + this.ring.capacity - this.nextPosition;
      const count = Math.min(this.sliceSize, this.size - this.nextPosition);
      if (free < count) {
        this.fullSince ??= performance.now();
        return;
      }
      this.dispatch(this.nextPosition, count);
      this.nextPosition += count;
      this.counters.highWater = Math.max(this.counters.highWater, this.nextPosition - this.consumed);
    }
  }

  private dispatch(first: number, count: number): void {
    const samples: number[] = [];
    for (let p = first; p < first + count; p++) {
      this.ring.claim(this.ring.slotOf(p), p);
      samples.push(this.entryAt(p));
    }
    this.slices.dispatch(first, count, 0, { epoch: this.epoch, firstPosition: first, samples });
  }

  /** Whether position `p`'s pixels are in its slot now: the consumer takes it without waiting. */
  isReady(position: number): boolean {
    return !this.stopping && this.ring.state(this.ring.slotOf(position)) === SlotState.READY;
  }

  /**
   * Waits until position `p` is decoded or failed. Returns `null` when its pixels are in its slot, or the
   * skip record. A lost worker's slice is retried behind the scenes; throws `ERR_CLOSED` once stopped.
   */
  async settle(position: number): Promise<SkippedSample | null> {
    return this.slices.settle(position, () => (this.stopping ? (this.stopReason ?? Errors.closed()) : null));
  }

  /** The consumer is done with position `p`: free its slot and refill the ring. */
  release(position: number): void {
    this.ring.release(this.ring.slotOf(position));
    this.slices.forget(position);
    this.consumed = position + 1;
    if (this.fullSince !== null) {
      this.counters.producerIdleMs += performance.now() - this.fullSince;
      this.fullSince = null;
    }
    this.pump();
  }

  /** Number of slots currently held (dispatched and not yet consumed). */
  get held(): number {
    return this.nextPosition - this.consumed;
  }

  /** Stops handing out work; `reason` is what a consumer still waiting is told (default: the loader was closed). */
  requestStop(reason?: Error): void {
    this.stopping = true;
    this.slices.stopping = true;
    if (reason !== undefined) this.stopReason ??= reason;
  }

  /**
   * Stops handing out work and waits for the slices already handed out, so that the ring is quiet and the
   * next epoch can use it. Idempotent.
   */
  async join(): Promise<void> {
    this.requestStop();
    await this.slices.join();
  }
}
