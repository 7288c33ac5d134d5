/**
 * imgstream: stream image datasets far larger than memory into TensorFlow.js.
 *
 * @example
 * import { imageDatasetFromDirectory } from 'imgstream';
 * const train = await imageDatasetFromDirectory('data/train', { imageSize: [224, 224], batchSize: 32 });
 * for await (const batch of train) console.log(batch.shape, batch.labels);
 * await train.close();
 */
export { ImageLoader, imageDatasetFromDirectory } from './loader.js';
export type { ImageDatasetOptions, ImageLoaderOptions, IterateOptions, SignalOptions, SplitOptions, Subset } from './loader.js';
export { FileIndex, fromDirectory, fromList, IMAGE_EXTENSIONS } from './file-index.js';
export { fromCsv } from './csv-index.js';
export { imageDatasetFromShards, ShardLoader, expandShardUrls } from './shards/loader.js';
export type { ShardDatasetOptions } from './shards/loader.js';
export { registerOpener, ShardReadError, displayUrl } from './shards/openers.js';
export type { ShardOpener, OpenedShard, RetryPolicy } from './shards/openers.js';
export type { ShardIndexFile, ShardEntry } from './shards/shard-index.js';
export type { FromCsvOptions } from './csv-index.js';
export type { FromDirectoryOptions } from './file-index.js';
export { DEFAULTS, parseByteSize } from './options.js';
export type { ColorMode, LabelMode, LoaderOptions, Normalize, OnError, ResolvedOptions } from './options.js';
export type { Batch } from './batches.js';
export type { LoaderStats } from './stats.js';
export { ImgstreamError, SAMPLE_ERROR_CODES } from './errors.js';
export type { ErrorCode, SkippedSample } from './errors.js';
export { epochOrder, splitEntries } from './sampler.js';
export { TYPICAL_AUGMENT, resolveAugment } from './augment-options.js';
export type { AugmentOptions, AugmentSpec, FillMode, Range } from './augment-options.js';
export { previewAugmentation } from './preview.js';
export type { PreviewOptions, PreviewResult } from './preview.js';
