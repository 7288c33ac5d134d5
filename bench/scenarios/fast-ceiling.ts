/**
 * The fast path's own ceiling: one worker thread per core, each reading file after file synchronously and
 * decoding it with imgstream's worker decoder (the native JPEG fast path, sharp for what it declines) into one
 * reused array of the output dtype. No ring, no batches, no tasks, no consumer: what the decoder alone gives,
 * so that imgstream's loader can be measured against the decoder it runs.
 */
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { fromList } from '../../src/index.js';
import { resolveOptions } from '../../src/options.js';
import { jpegFastPath } from '../../workers/jpeg-turbo.js';
import { bareDecode, runLanes, runScenario, runThreads, toFloat32, type ScenarioConfig } from './common.js';

interface LaneInit {
  paths: string[];
  next: SharedArrayBuffer;
  config: ScenarioConfig;
}

async function decodeLane({ paths, next, config }: LaneInit, onFirstBatch: () => void): Promise<void> {
  sharp.concurrency(1);
  sharp.cache(false);
  const counter = new Int32Array(next);
  const [height, width] = config.imageSize;
  const options = resolveOptions({ imageSize: config.imageSize, dtype: config.dtype, labelMode: null }, fromList(paths));
  const fast = jpegFastPath(options.spec);
  const out = config.dtype === 'float32' ? new Float32Array(height * width * 3) : new Uint8Array(height * width * 3);
  for (let i = Atomics.add(counter, 0, 1); i < paths.length; i = Atomics.add(counter, 0, 1)) {
    const data = readFileSync(paths[i]);
    if (fast === null || !fast(data, out)) {
      const pixels = await bareDecode(paths[i], width, height);
      if (out instanceof Float32Array) toFloat32(pixels, out);
      else out.set(pixels);
    }
    if (Atomics.add(counter, 1, 1) + 1 === config.batchSize) onFirstBatch();
  }
}

if (!isMainThread) {
  await decodeLane(workerData as LaneInit, () => parentPort?.postMessage('first batch'));
  parentPort?.close();
} else {
  await runScenario((config) => {
    const threads = Number(config.options.threads ?? 2);
    return runLanes(
      config,
      (paths, next, onFirstBatch) => runThreads(new URL(import.meta.url), threads, { paths, next, config } satisfies LaneInit, onFirstBatch),
      { threads },
    );
  });
}
