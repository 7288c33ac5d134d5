/**
 * The anti-pattern: decode every image into memory first (as many at once as there are cores), then batch.
 * Peak memory grows with the dataset. Reports its progress on stderr (`loaded <n>`) so that the runner can
 * tell how far it got when it kills it at a memory cap.
 */
import os from 'node:os';
import PQueue from 'p-queue';
import sharp from 'sharp';
import { fromDirectory } from '../../src/index.js';
import { bareDecode, consume, peakRss, runScenario, toFloat32, type BatchLike } from './common.js';

await runScenario(async (config) => {
  sharp.concurrency(1);
  sharp.cache(false);
  const [height, width] = config.imageSize;
  const perImage = height * width * 3;
  const started = performance.now();
  const index = await fromDirectory(config.dir);
  const images: (Uint8Array | Float32Array)[] = new Array(index.size);
  const queue = new PQueue({ concurrency: os.availableParallelism() });
  let loaded = 0;
  for (let i = 0; i < index.size; i++) {
    void queue.add(async () => {
      const pixels = await bareDecode(index.path(i), width, height);
      images[i] = config.dtype === 'float32' ? toFloat32(pixels, new Float32Array(perImage)) : pixels;
      loaded += 1;
      if (loaded % 50 === 0) process.stderr.write(`loaded ${loaded}\n`);
    });
  }
  await queue.onIdle();
  const loadMs = performance.now() - started;
  async function* batches(): AsyncGenerator<BatchLike> {
    for (let first = 0; first < index.size; first += config.batchSize) {
      const n = Math.min(config.batchSize, index.size - first);
      const batch = config.dtype === 'float32' ? new Float32Array(n * perImage) : new Uint8Array(n * perImage);
      for (let j = 0; j < n; j++) batch.set(images[first + j], j * perImage);
      yield { count: n };
    }
  }
  const measured = await consume(batches(), config.stepMs, started);
  return { ...measured, peakMemoryBytes: peakRss(), extra: { loadMs } };
});
