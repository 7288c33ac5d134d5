/**
 * imgstream itself, with any loader options (`config.options`, e.g. `{"workers":2,"memoryBudget":"64MiB"}`)
 * on top of the benchmark's image size, dtype and batch size.
 */
import { imageDatasetFromDirectory, type ImageDatasetOptions } from '../../src/index.js';
import { consume, peakRss, runScenario, type BatchLike } from './common.js';

await runScenario(async (config) => {
  const started = performance.now();
  const loader = await imageDatasetFromDirectory(config.dir, {
    imageSize: config.imageSize,
    dtype: config.dtype,
    batchSize: config.batchSize,
    ...(config.options as ImageDatasetOptions),
  });
  async function* batches(): AsyncGenerator<BatchLike> {
    for await (const batch of loader) {
      yield { count: batch.shape[0] };
      // The consumer is done with it (as a training step is once its tensors are gone; toTfDataset does the same).
      loader.recycle(batch);
    }
  }
  const measured = await consume(batches(), config.stepMs, started);
  const { stats, options } = loader;
  await loader.close();
  return {
    ...measured,
    peakMemoryBytes: peakRss(),
    extra: {
      workers: options.workers,
      memoryBudget: options.memoryBudget,
      ringBytes: stats.ring.bytes,
      ringCapacity: stats.ring.capacity,
      ringMeanFill: stats.ring.meanFill,
      loaderStallMs: stats.stallMs,
      producerIdleMs: stats.producerIdleMs,
      workerBusyMs: stats.workerBusyMs,
      skipped: stats.skipped.length,
    },
  };
});
