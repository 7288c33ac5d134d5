/**
 * The decode ceiling: bare concurrent sharp calls (`sharp.concurrency(1)`), the same files to the same raw
 * output (plus the float32 conversion for float32), no ring and no batching. `concurrency` calls are in
 * flight on libuv's pool (sized by the runner with `UV_THREADPOOL_SIZE`), either all from the main thread
 * (`threads: 0`) or spread over `threads` worker threads that take files from a shared counter.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { bareDecode, runLanes, runScenario, runThreads, toFloat32, type ScenarioConfig } from './common.js';

interface LaneInit {
  paths: string[];
  next: SharedArrayBuffer;
  lanes: number;
  config: ScenarioConfig;
}

/**
 * `lanes` loops decoding files until the shared counter (cell 0) passes the end; cell 1 counts files done,
 * and `onFirstBatch` runs in the lane that completes the first batch's worth (one message, not one per file).
 */
async function decodeLanes({ paths, next, lanes, config }: LaneInit, onFirstBatch: () => void): Promise<void> {
  sharp.concurrency(1);
  sharp.cache(false);
  const counter = new Int32Array(next);
  const [height, width] = config.imageSize;
  async function lane(): Promise<void> {
    const out = config.dtype === 'float32' ? new Float32Array(height * width * 3) : null;
    for (let i = Atomics.add(counter, 0, 1); i < paths.length; i = Atomics.add(counter, 0, 1)) {
      const pixels = await bareDecode(paths[i], width, height);
      if (out !== null) toFloat32(pixels, out);
      if (Atomics.add(counter, 1, 1) + 1 === config.batchSize) onFirstBatch();
    }
  }
  await Promise.all(Array.from({ length: lanes }, lane));
}

if (!isMainThread) {
  const init = workerData as LaneInit;
  await decodeLanes(init, () => parentPort?.postMessage('first batch'));
  parentPort?.close();
} else {
  await runScenario((config) => {
    const concurrency = Number(config.options.concurrency ?? 2);
    const threads = Number(config.options.threads ?? 0);
    const extra = { concurrency, threads, uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4) };
    return runLanes(config, (paths, next, onFirstBatch) => {
      if (threads === 0) return decodeLanes({ paths, next, lanes: concurrency, config }, onFirstBatch);
      const lanes = Math.max(1, Math.round(concurrency / threads));
      return runThreads(new URL(import.meta.url), threads, { paths, next, lanes, config } satisfies LaneInit, onFirstBatch);
    }, extra);
  });
}
