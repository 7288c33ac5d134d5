/**
 * One row of the object-storage bench: the same images read by imgstream from a local folder, local shards,
 * or an S3-compatible store (a bucket of class folders, or shards in a bucket), with the loader options in
 * `config.options` (`source` picks the reader, `url` what it reads; `s3` the store's options).
 */
import * as imgstream from '../../src/index.js';
import { consume, peakRss, runScenario, type BatchLike } from './common.js';

interface Loader extends AsyncIterable<{ shape: number[] }> {
  stats: { skipped: unknown[]; imagesPerSecond: number };
  close(): Promise<void>;
}

await runScenario(async (config) => {
  const { source, url, ...options } = config.options as { source: 'folder' | 'shards'; url: string } & Record<string, unknown>;
  const started = performance.now();
  const common = { imageSize: config.imageSize, dtype: config.dtype, batchSize: config.batchSize, ...options };
  const api = imgstream as unknown as Record<string, (url: string, o: unknown) => Promise<Loader>>;
  const loader = source === 'folder' ? await api.imageDatasetFromDirectory(url, common) : await api.imageDatasetFromShards(url, common);
  async function* batches(): AsyncGenerator<BatchLike> {
    for await (const batch of loader) yield { count: batch.shape[0] };
  }
  const measured = await consume(batches(), config.stepMs, started);
  const skipped = loader.stats.skipped.length;
  await loader.close();
  return { ...measured, peakMemoryBytes: peakRss(), extra: { skipped } };
});
