/**
 * The decode workers and the ring they write into, kept for the loader's life so that epochs after the first
 * start at once (PyTorch's `persistent_workers`). Idle workers do not keep the process alive; `destroy()`
 * ends them.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { FileIndex } from './file-index.js';
import type { ResolvedOptions } from './options.js';
import type { DecodeResult, DecodeTask, FaultSpec, WorkerInit } from './protocol.js';
import { Ring } from './ring.js';

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

/** Test hook: a fault the workers inject (see `FaultSpec`), read from the environment when the pool starts. */
function faultFromEnv(): FaultSpec | null {
  const raw = process.env.IMGSTREAM_TEST_FAULT;
  return raw ? (JSON.parse(raw) as FaultSpec) : null;
}

/** Young generation of each decode worker: V8 splits it into two semi-spaces and a large-object space, 1 MiB each. */
const WORKER_YOUNG_GENERATION_MB = 3;

export class DecodePool {
  readonly ring: Ring;
  readonly workers: number;
  private readonly piscina: Piscina<DecodeTask, DecodeResult>;
  private readonly makeQuarantine: () => Piscina<DecodeTask, DecodeResult>;
  private quarantine: Piscina<DecodeTask, DecodeResult> | null = null;

  /** `staging`: the staging arena of a stream source, shared with the workers (see `DecodeTask.staged`). */
  constructor(index: FileIndex, options: ResolvedOptions, staging: SharedArrayBuffer | null = null) {
    this.ring = new Ring(options.capacity, options.sampleBytes);
    this.workers = options.workers;
    const { filename, execArgv } = workerEntry();
    const workerData: WorkerInit = {
      spec: options.spec,
      pathBytes: index.pathBytes,
      pathOffsets: index.pathOffsets,
      pixels: this.ring.pixels,
      states: this.ring.states,
      capacity: this.ring.capacity,
      seed: options.seed,
      augment: options.augment,
      fault: faultFromEnv(),
      staging,
    };
    // A worker's live JavaScript is small (its modules, a slice's bookkeeping); left to V8, its young
    // generation still grows to 8 MiB or more per worker, memory that scales with the worker count.
    const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
    const common = { filename, execArgv, workerData, idleTimeout: Infinity, resourceLimits };
    this.piscina = new Piscina({
      ...common,
      minThreads: options.workers,
      maxThreads: options.workers,
      // Each worker runs two slices at once so that one slice's file read and hand-off overlap the other's
      // decode, which runs on libuv's pool; more would only queue there.
      concurrentTasksPerWorker: 2,
    });
    // A worker that dies is replaced by piscina and its tasks rejected; the coordinator retries the work.
    this.piscina.on('error', () => undefined);
    this.makeQuarantine = () => {
      const pool = new Piscina<DecodeTask, DecodeResult>({ ...common, minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 });
      pool.on('error', () => undefined);
      return pool;
    };
  }

  run(task: DecodeTask): Promise<DecodeResult> {
    return this.piscina.run(task);
  }

  /**
   * Runs a retried sample alone on its own thread, so that a file that kills its worker cannot take another
   * sample down with it and a second failure is known to be that file's.
   */
  runIsolated(task: DecodeTask): Promise<DecodeResult> {
    this.quarantine ??= this.makeQuarantine();
    return this.quarantine.run(task);
  }

  async destroy(): Promise<void> {
    await Promise.all([this.piscina.destroy(), this.quarantine?.destroy()]);
  }
}

export function defaultWorkerCount(): number {
  return Math.max(1, os.availableParallelism());
}
