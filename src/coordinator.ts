/**
 * The coordinator, after TF's Coordinator and queue runners: owns the worker pool for one epoch, keeps at
 * most `capacity` samples in flight or ready, hands slices of epoch positions (integers, not pixels) to the
 * workers, collects per-sample failures, retries work lost with a worker, and stops cleanly on
 * `requestStop()` + `join()`.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { Errors, type SkippedSample } from './errors.js';
import type { FileIndex } from './file-index.js';
import type { ResolvedOptions } from './options.js';
import { SlotState, type DecodeResult, type DecodeTask, type FaultSpec, type WorkerInit } from './protocol.js';
import type { Ring } from './ring.js';

/**
 * The worker file sits next to this module's tree: `workers/decode.js` in the built package, `workers/decode.ts`
 * when the sources run directly (tests, `tsx`); then the worker thread loads it through tsx's loader too.
 */
function workerEntry(): { filename: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith('.ts');
  const filename = fileURLToPath(new URL(`../workers/decode.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return { filename, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/** Test hook: a fault the workers inject (see `FaultSpec`). Read once per pool from the environment. */
function faultFromEnv(): FaultSpec | null {
  const raw = process.env.IMGSTREAM_TEST_FAULT;
  return raw ? (JSON.parse(raw) as FaultSpec) : null;
}

interface Slice {
  first: number;
  count: number;
  attempt: number;
  /** Settles (never rejects) once the slice's outcome is recorded. */
  settled: Promise<void>;
}

export interface CoordinatorCounters {
  decoded: number;
  busyMs: number;
  /** Time during which the ring was full and no work could be handed out. */
  producerIdleMs: number;
  highWater: number;
  retries: number;
}

export class Coordinator {
  readonly counters: CoordinatorCounters = { decoded: 0, busyMs: 0, producerIdleMs: 0, highWater: 0, retries: 0 };
  private readonly pool: Piscina<DecodeTask, DecodeResult>;
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

  constructor(
    private readonly index: FileIndex,
    options: ResolvedOptions,
    ring: Ring,
    entries: Int32Array,
    order: Int32Array,
    private readonly epoch: number,
  ) {
    this.ring = ring;
    this.entries = entries;
    this.order = order;
    const workers = options.workers;
    // Small slices keep every worker busy and the first batch early; 16 bounds the per-task overhead.
    this.sliceSize = Math.max(1, Math.min(16, Math.floor(ring.capacity / (2 * workers)), Math.ceil(options.batchSize / workers)));
    const { filename, execArgv } = workerEntry();
    const init: WorkerInit = {
      spec: options.spec,
      pathBytes: index.pathBytes,
      pathOffsets: index.pathOffsets,
      pixels: ring.pixels,
      states: ring.states,
      capacity: ring.capacity,
      seed: options.seed,
      fault: faultFromEnv(),
    };
    this.pool = new Piscina({
      filename,
      execArgv,
      workerData: init,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: Infinity,
    });
    this.pool.on('error', () => undefined);
  }

  get size(): number {
    return this.order.length;
  }

  /** Entry number (into the index) of epoch position `p`. */
  entryAt(position: number): number {
    return this.entries[this.order[position]];
  }

  /** Hands out as many slices as the free slots allow. */
  pump(): void {
    while (!this.stopping && this.nextPosition < this.size) {
      const free = this.consumed + this.ring.capacity - this.nextPosition;
      if (free <= 0) {
        this.fullSince ??= performance.now();
        return;
      }
      const count = Math.min(this.sliceSize, free, this.size - this.nextPosition);
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
    const run = this.pool.run({ epoch: this.epoch, firstPosition: first, samples }).then(
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
   * A task rejected: its worker threw or exited. Positions it had not finished are retried one by one on a
   * fresh worker (so one bad file cannot take its neighbours down twice); a second loss records a skip.
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
        this.ring.fail(slot);
      }
    }
  }

  /**
   * Waits until position `p` is decoded or failed. Returns `null` when its pixels are in its slot, or the
   * skip record. A lost worker's slice is retried behind the scenes; throws `ERR_CLOSED` once stopped.
   */
  async settle(position: number): Promise<SkippedSample | null> {
    const slot = this.ring.slotOf(position);
    for (;;) {
      if (this.stopping) throw Errors.closed();
      const state = this.ring.state(slot);
      if (state === SlotState.READY) {
        this.counters.decoded += 1;
        return null;
      }
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

  requestStop(): void {
    this.stopping = true;
  }

  /** Stops handing out work and ends every worker; resolves when all threads are gone. */
  async join(): Promise<void> {
    this.requestStop();
    await this.pool.destroy();
    await Promise.allSettled([...this.inflight]);
  }
}
