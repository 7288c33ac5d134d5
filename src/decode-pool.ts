/**
 * The decode workers and the ring they write into, kept for the loader's life so that epochs after the first
 * start at once (PyTorch's `persistent_workers`). Idle workers do not keep the process alive; `destroy()`
 * ends them.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { FileIndex } from './file-index.js';
import type { ResolvedOptions } from './options.js';
import type { DecodeResult, DecodeTask, SampleSource, WorkerInit } from './protocol.js';
import { Ring } from './ring.js';

/** The module every pool thread runs (its default export decodes a {@link DecodeTask}) and the Node flags it needs. */
export interface WorkerEntry {
  filename: string;
  execArgv: string[];
}

/**
 * The decode worker sits next to this module's tree: `workers/decode.js` in the built package, `workers/decode.ts`
 * when the sources run directly (tests, `tsx`); then the worker thread loads it through tsx's loader too.
 */
export function decodeWorkerEntry(): WorkerEntry {
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith('.ts');
  const filename = fileURLToPath(new URL(`../workers/decode.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return { filename, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/** Young generation of each decode worker: V8 splits it into two semi-spaces and a large-object space, 1 MiB each. */
const WORKER_YOUNG_GENERATION_MB = 3;

export class DecodePool {
  readonly ring: Ring;
  readonly workers: number;
  private readonly piscina: Piscina<DecodeTask, DecodeResult>;
  private readonly makeQuarantine: () => Piscina<DecodeTask, DecodeResult>;
  private quarantine: Piscina<DecodeTask, DecodeResult> | null = null;

  /** `worker`: the module the threads run; the decode worker unless a wrapper of it is given (the fault tests inject faults so). */
  /** `source`: a file index, or another sample source (a shard stream's staging arena). */
  constructor(source: FileIndex | SampleSource, options: ResolvedOptions, worker: WorkerEntry = decodeWorkerEntry()) {
    this.ring = new Ring(options.capacity, options.slotBytes);
    this.workers = options.workers;
    const { filename, execArgv } = worker;
    const workerData: WorkerInit = {
      spec: options.spec,
      source: 'kind' in source ? source : { kind: 'files', pathBytes: source.pathBytes, pathOffsets: source.pathOffsets },
      ring: this.ring.shared,
      seed: options.seed,
      augment: options.augment,
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
