/**
 * Slices of epoch positions on the decode pool, kept the same way by both coordinators (`Coordinator` for
 * files, `ShardCoordinator` for staged stream samples): a slice runs once on the pool; when its worker dies,
 * the positions it had not finished run again one by one, each alone on a quarantine thread, and a second
 * loss is that sample's failure (`ERR_WORKER`). Failures are kept by position until the consumer releases it;
 * `settle` is the consumer's wait for a dispatched position.
 */
import type { SkippedSample } from './errors.js';
import type { DecodePool } from './decode-pool.js';
import { SlotState, type DecodeResult, type DecodeTask } from './protocol.js';
import type { Ring } from './ring.js';

/** What a coordinator needs of a worker pool: the ring its workers write into and a way to run tasks on them. */
export type TaskRunner = Pick<DecodePool, 'ring' | 'run' | 'runIsolated'>;

export interface CoordinatorCounters {
  busyMs: number;
  /** Time during which the ring had too few free slots for a slice, so no work could be handed out. */
  producerIdleMs: number;
  highWater: number;
  retries: number;
}

interface Slice {
  first: number;
  count: number;
  attempt: number;
  task: DecodeTask;
  /** Settles (never rejects) once the slice's outcome is recorded. */
  settled: Promise<void>;
}

/** How a coordinator names its samples to the slices it hands out. */
export interface SliceSamples {
  /** The path or URL of position `p`, for its failure record. */
  path(position: number): string;
  /** Sample `i` of `task` as a task of its own (a lost slice's retry). */
  alone(task: DecodeTask, i: number): DecodeTask;
  /** What a sample is, in the message of a second loss: `'file'`, `'sample'`. */
  noun: string;
}

/**
 * Positions per slice: small slices keep every worker busy and the first batch early; 16 bounds the per-task
 * overhead.
 */
export function sliceSizeFor(capacity: number, workers: number, batchSize: number): number {
  return Math.max(1, Math.min(16, Math.floor(capacity / (4 * workers)), Math.ceil(batchSize / workers)));
}

export class SliceRunner {
  readonly failures = new Map<number, SkippedSample>();
  private readonly sliceOf = new Map<number, Slice>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly ring: Ring;
  /** Set once the coordinator stops: lost slices are no longer retried. */
  stopping = false;

  constructor(
    private readonly pool: TaskRunner,
    private readonly counters: CoordinatorCounters,
    private readonly samples: SliceSamples,
  ) {
    this.ring = pool.ring;
  }

  /**
   * Runs `task` (positions `first .. first + count - 1`, their slots claimed) on the pool, alone on a
   * quarantine thread for a retry (`attempt` 1), once `ready` (the samples' bytes in place) has settled.
   */
  dispatch(first: number, count: number, attempt: number, task: DecodeTask, ready: Promise<unknown> | null = null): void {
    const slice: Slice = { first, count, attempt, task, settled: Promise.resolve() };
    const start = () => (attempt === 0 ? this.pool.run(task) : this.pool.runIsolated(task));
    const begun = ready === null ? start() : ready.then(() => (this.stopping ? { failures: [], busyMs: 0 } : start()));
    const run = begun.then(
      (result) => this.recordResult(result),
      (err: unknown) => this.recoverLostSlice(slice, err),
    );
    slice.settled = run;
    this.inflight.add(run);
    void run.finally(() => this.inflight.delete(run));
    for (let p = first; p < first + count; p++) this.sliceOf.set(p, slice);
  }

  /** A worker's verdicts; a failure already recorded for a position (its bytes could not be read) is kept. */
  private recordResult(result: DecodeResult): void {
    this.counters.busyMs += result.busyMs;
    for (const f of result.failures) {
      if (this.failures.has(f.position)) continue;
      this.failures.set(f.position, { path: this.samples.path(f.position), code: f.code, message: f.message });
    }
  }

  /**
   * A task rejected: its worker threw or exited. Positions it had not finished are retried one by one, each
   * alone on a quarantine thread; a second loss is that sample's fault and is recorded as a skip.
   */
  private recoverLostSlice(slice: Slice, err: unknown): void {
    if (this.stopping) return;
    const reason = err instanceof Error ? err.message : String(err);
    for (let i = 0; i < slice.count; i++) {
      const p = slice.first + i;
      const slot = this.ring.slotOf(p);
      if (this.ring.state(slot) !== SlotState.PENDING) continue;
      if (slice.attempt === 0) {
        this.counters.retries += 1;
        this.dispatch(p, 1, 1, this.samples.alone(slice.task, i));
      } else {
        this.failures.set(p, { path: this.samples.path(p), code: 'ERR_WORKER', message: `the decode worker failed twice on this ${this.samples.noun}: ${reason}` });
        this.ring.publish(slot, p, SlotState.FAILED);
      }
    }
  }

  /**
   * Waits until dispatched position `p` is decoded or failed: `null` when its pixels are in its slot, else the
   * skip record. `stopped()` is checked before each wait: the error to throw once the coordinator stops.
   */
  async settle(position: number, stopped: () => Error | null): Promise<SkippedSample | null> {
    const slot = this.ring.slotOf(position);
    for (;;) {
      const stop = stopped();
      if (stop !== null) throw stop;
      const state = this.ring.state(slot);
      if (state === SlotState.READY) return null;
      const slice = this.sliceOf.get(position);
      if (state === SlotState.FAILED) {
        const known = this.failures.get(position);
        if (known) return known;
        if (slice) await slice.settled;
        continue;
      }
      // One wake per slice, not one per sample: a worker writes its slice's positions in order, so the wait is on
      // the slice's last position (on this one if that is no longer pending), or for the slice's end. Each wake
      // costs the main thread a trip through the event loop that the decoders' cores pay for.
      const { first, count } = slice as Slice;
      const last = this.ring.slotOf(first + count - 1);
      await Promise.race([this.ring.whenSettled(this.ring.state(last) === SlotState.PENDING ? last : slot), (slice as Slice).settled]);
    }
  }

  /** The consumer is done with position `p`. */
  forget(position: number): void {
    this.failures.delete(position);
    this.sliceOf.delete(position);
  }

  /** Waits for every slice handed out (and their retries) to settle. */
  async join(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}
