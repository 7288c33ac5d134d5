/**
 * imgstream itself, with any loader options (`config.options`, e.g. `{"workers":2,"memoryBudget":"64MiB"}`)
 * on top of the benchmark's image size, dtype and batch size. Timed from the loader's creation to the end of
 * its first epoch, or with `warmEpochs: n` (a bench option, not the loader's) that many epochs of the same loader
 * run first untimed, and the next one is timed alone (its CPU too): what every epoch after the first costs.
 */
import { imageDatasetFromDirectory, type ImageDatasetOptions } from '../../src/index.js';
import { consume, peakRss, runScenario, type BatchLike } from './common.js';

await runScenario(async (config) => {
  const { warmEpochs = 0, ...loaderOptions } = config.options as ImageDatasetOptions & { warmEpochs?: number };
  let started = performance.now();
  const loader = await imageDatasetFromDirectory(config.dir, {
    imageSize: config.imageSize,
    dtype: config.dtype,
    batchSize: config.batchSize,
    ...loaderOptions,
  });
  async function* batches(): AsyncGenerator<BatchLike> {
    for await (const batch of loader) {
      yield { count: batch.shape[0] };
      // The consumer is done with it (as a training step is once its tensors are gone; toTfDataset does the same).
      loader.recycle(batch);
    }
  }
  for (let e = 0; e < warmEpochs; e++) for await (const _ of batches());
  const cpu = process.cpuUsage();
  if (warmEpochs > 0) started = performance.now();
  const measured = await consume(batches(), config.stepMs, started);
  const used = process.cpuUsage(cpu);
  const { stats, options } = loader;
  await loader.close();
  return {
    ...measured,
    peakMemoryBytes: peakRss(),
    ...(warmEpochs > 0 ? { cpuMs: (used.user + used.system) / 1000 } : {}),
    extra: {
      warmEpochs,
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
