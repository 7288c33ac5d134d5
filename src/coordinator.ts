/**
 * The coordinator, after TF's Coordinator and queue runners: drives the worker pool for one epoch, keeps at
 * most `capacity` samples in flight or ready, hands slices of epoch positions (integers, not pixels) to the
 * workers, collects per-sample failures, retries work lost with a worker, and stops cleanly on
 * `requestStop()` + `join()`.
 */
import { Errors, type SkippedSample } from './errors.js';
import type { FileIndex } from './file-index.js';
import type { ResolvedOptions } from './options.js';
import type { DecodePool } from './decode-pool.js';
import { SlotState, type DecodeResult } from './protocol.js';
import type { Ring } from './ring.js';

/** What the coordinator needs of a worker pool: the ring its workers write into and a way to run tasks on them. */
export type TaskRunner = Pick<DecodePool, 'ring' | 'run' | 'runIsolated'>;

interface Slice {
  first: number;
  count: number;
  attempt: number;
  /** Settles (never rejects) once the slice's outcome is recorded. */
  settled: Promise<void>;
}

export interface CoordinatorCounters {
  busyMs: number;
  /** Time during which the ring had too few free slots for a slice, so no work could be handed out. */
  producerIdleMs: number;
  highWater: number;
  retries: number;
}

export class Coordinator {
  readonly counters: CoordinatorCounters = { busyMs: 0, producerIdleMs: 0, highWater: 0, retries: 0 };
  private readonly pool: TaskRunner;
  private readonly ring: Ring;
  private readonly entries: Int32Array;
  private readonly order: Int32Array;
  private readonly sliceSize: number;
  private readonly failures = new Map<number, SkippedSample>();
  private readonly sliceOf = new Map<number, Slice>();
  private readonly inflight = new Set<Promise<void>>();
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
    this.pool = pool;
    this.ring = pool.ring;
    this.entries = entries;
    this.order = order;
    const workers = options.workers;
    // Small slices keep every worker busy and the first batch early; 16 bounds the per-task overhead.
    this.sliceSize = Math.max(
      1,
      Math.min(16, Math.floor(this.ring.capacity / (4 * workers)), Math.ceil(options.batchSize / workers)),
    );
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
      this.dispatch(this.nextPosition, count, 0);
      this.nextPosition += count;
      this.counters.highWater = Math.max(this.counters.highWater, this.nextPosition - this.consumed);
    }
  }

  private dispatch(first: number, count: number, attempt: number): void {
    const samples: number[] = [];
    for (let p = first; p < first + count; p++) {
      this.ring.claim(this.ring.slotOf(p), p);
      samples.push(this.entryAt(p));
    }
    const slice: Slice = { first, count, attempt, settled: Promise.resolve() };
    const task = { epoch: this.epoch, firstPosition: first, samples };
    const run = (attempt === 0 ? this.pool.run(task) : this.pool.runIsolated(task)).then(
      (result) => this.recordResult(result),
      (err: unknown) => this.recoverLostSlice(slice, err),
    );
    slice.settled = run;
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
    for (let p = first; p < first + count; p++) this.sliceOf.set(p, slice);
  }

  private recordResult(result: DecodeResult): void {
    this.counters.busyMs += result.busyMs;
    for (const f of result.failures) {
      this.failures.set(f.position, { path: this.index.path(this.entryAt(f.position)), code: f.code, message: f.message });
    }
  }

  /**
   * A task rejected: its worker threw or exited. Positions it had not finished are retried one by one, each
   * alone on a quarantine thread; a second loss is that file's fault and is recorded as a skip.
   */
  private recoverLostSlice(slice: Slice, err: unknown): void {
    if (this.stopping) return;
    const reason = err instanceof Error ? err.message : String(err);
    for (let p = slice.first; p < slice.first + slice.count; p++) {
      const slot = this.ring.slotOf(p);
      if (this.ring.state(slot) !== SlotState.PENDING) continue;
      if (slice.attempt === 0) {
        this.counters.retries += 1;
        this.dispatch(p, 1, 1);
      } else {
        this.failures.set(p, {
          path: this.index.path(this.entryAt(p)),
          code: 'ERR_WORKER',
          message: `the decode worker failed twice on this file: ${reason}`,
        });
        this.ring.publish(slot, p, SlotState.FAILED);
      }
    }
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
    const slot = this.ring.slotOf(position);
    for (;;) {
      if (this.stopping) throw this.stopReason ?? Errors.closed();
      const state = this.ring.state(slot);
      if (state === SlotState.READY) return null;
      const slice = this.sliceOf.get(position) as Slice;
      if (state === SlotState.FAILED) {
        const known = this.failures.get(position);
        if (known) return known;
        await slice.settled;
        continue;
      }
      await Promise.race([this.ring.whenSettled(slot), slice.settled]);
    }
  }

  /** The consumer is done with position `p`: free its slot and refill the ring. */
  release(position: number): void {
    this.ring.release(this.ring.slotOf(position));
    this.failures.delete(position);
    this.sliceOf.delete(position);
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
    if (reason !== undefined) this.stopReason ??= reason;
  }

  /**
   * Stops handing out work and waits for the slices already handed out, so that the ring is quiet and the
   * next epoch can use it. Idempotent.
   */
  async join(): Promise<void> {
    this.requestStop();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}
