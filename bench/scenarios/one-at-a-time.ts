/**
 * The fit_generator pattern with one worker: a plain async generator that decodes one image after another,
 * batch by batch, with sharp's default settings.
 */
import { fromDirectory } from '../../src/index.js';
import { bareDecode, consume, peakRss, runScenario, toFloat32, type BatchLike } from './common.js';

await runScenario(async (config) => {
  const [height, width] = config.imageSize;
  const perImage = height * width * 3;
  const started = performance.now();
  const index = await fromDirectory(config.dir);
  async function* batches(): AsyncGenerator<BatchLike> {
    for (let first = 0; first < index.size; first += config.batchSize) {
      const n = Math.min(config.batchSize, index.size - first);
      const batch = config.dtype === 'float32' ? new Float32Array(n * perImage) : new Uint8Array(n * perImage);
      for (let j = 0; j < n; j++) {
        const pixels = await bareDecode(index.path(first + j), width, height);
        if (batch instanceof Float32Array) toFloat32(pixels, batch.subarray(j * perImage, (j + 1) * perImage));
        else batch.set(pixels, j * perImage);
      }
      yield { count: n };
    }
  }
  const measured = await consume(batches(), config.stepMs, started);
  return { ...measured, peakMemoryBytes: peakRss() };
});
