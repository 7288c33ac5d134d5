/**
 * What every scenario shares: its configuration (one JSON argument), its result (one JSON line on stdout),
 * the consumer loop that times batches the same way for every loader, and the bare sharp call the
 * non-imgstream loaders decode with.
 */
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import { fromDirectory } from '../../src/index.js';

export type Dtype = 'float32' | 'uint8';

/** A scenario's input, passed as the child's single argument (JSON). */
export interface ScenarioConfig {
  /** Dataset folder: one sub-folder per class. */
  dir: string;
  /** `[height, width]`. */
  imageSize: [number, number];
  dtype: Dtype;
  batchSize: number;
  /** Simulated model step: the consumer waits this long after each batch (0: no model). */
  stepMs: number;
  /** Scenario-specific settings (imgstream: loader options; ceiling: concurrency; pytorch: numWorkers). */
  options: Record<string, unknown>;
}

/** A scenario's output: one JSON line on stdout. */
export interface ScenarioResult {
  images: number;
  batches: number;
  /** From the loader's creation (folder scan included) to the last batch. */
  wallMs: number;
  /** From the loader's creation to the first batch in the consumer's hands. */
  timeToFirstBatchMs: number;
  /** Time the consumer waited for batches after the first one. */
  stallMs: number;
  /** Peak memory of the scenario: `maxRSS` of the process (workers included), or PSS of a process tree. */
  peakMemoryBytes: number;
  /**
   * CPU time (user + system, every thread, or every process of the tree) from the loader's creation to the
   * last batch; module imports before it are not counted.
   */
  cpuMs?: number;
  /** Anything else worth keeping (loader stats, the setting found best, ...). */
  extra?: Record<string, unknown>;
}

export interface BatchLike {
  count: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Pulls every batch of `batches`, timing the waits; after each batch the "model" takes `stepMs` (a sleep:
 * an accelerator step that leaves the CPU to the loader).
 */
export async function consume(
  batches: AsyncIterable<BatchLike>,
  stepMs: number,
  started: number,
): Promise<Omit<ScenarioResult, 'peakMemoryBytes'>> {
  const iterator = batches[Symbol.asyncIterator]();
  let images = 0;
  let count = 0;
  let stallMs = 0;
  let timeToFirstBatchMs = 0;
  for (;;) {
    const waitStart = performance.now();
    const next = await iterator.next();
    const now = performance.now();
    if (next.done) break;
    if (count === 0) timeToFirstBatchMs = now - started;
    else stallMs += now - waitStart;
    count += 1;
    images += next.value.count;
    if (stepMs > 0) await sleep(stepMs);
  }
  return { images, batches: count, wallMs: performance.now() - started, timeToFirstBatchMs, stallMs };
}

export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * The call a user would write: decode, stretch to `width x height`, 3 channels, raw 8-bit pixels.
 * The same output as imgstream's default `rgb` samples.
 */
export function bareDecode(file: string, width: number, height: number): Promise<Buffer> {
  return sharp(file).resize(width, height, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

/** 8-bit pixels into float32 values 0..255 (imgstream's default float32 output). */
export function toFloat32(pixels: Uint8Array, out: Float32Array): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = pixels[i];
  return out;
}

/** Runs a scenario as the child's whole life: config from argv, one JSON line out, exit code 0. */
export async function runScenario(body: (config: ScenarioConfig) => Promise<ScenarioResult>): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ScenarioConfig;
  const cpu = process.cpuUsage();
  const result = await body(config);
  const used = process.cpuUsage(cpu);
  result.cpuMs ??= (used.user + used.system) / 1000;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * The bare-decode scenarios' shared frame: `lanes` decode `dir`'s files (its paths, a counter shared by all
 * lanes: cell 0 the next file, cell 1 files done, and a callback for the first batch's worth), then the result
 * from that counter and the clock.
 */
export async function runLanes(
  config: ScenarioConfig,
  lanes: (paths: string[], next: SharedArrayBuffer, onFirstBatch: () => void) => Promise<void>,
  extra: Record<string, unknown>,
): Promise<ScenarioResult> {
  const started = performance.now();
  const index = await fromDirectory(config.dir);
  const paths = Array.from({ length: index.size }, (_, i) => index.path(i));
  const next = new SharedArrayBuffer(8);
  let timeToFirstBatchMs = 0;
  await lanes(paths, next, () => (timeToFirstBatchMs = performance.now() - started));
  const wallMs = performance.now() - started;
  const done = new Int32Array(next)[1];
  return {
    images: done,
    batches: Math.ceil(done / config.batchSize),
    wallMs,
    timeToFirstBatchMs: timeToFirstBatchMs || wallMs,
    stallMs: 0,
    peakMemoryBytes: peakRss(),
    extra,
  };
}

/** Runs `threads` worker threads of the scenario module `url` with `workerData`; `onMessage` on any message. */
export function runThreads(url: URL, threads: number, workerData: unknown, onMessage: () => void): Promise<void> {
  return Promise.all(
    Array.from({ length: threads }, () => {
      const worker = new Worker(url, { workerData, execArgv: process.execArgv });
      worker.on('message', onMessage);
      return new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', () => resolve());
      });
    }),
  ).then(() => undefined);
}
