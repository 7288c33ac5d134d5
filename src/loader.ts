/**
 * The dataset: `ImageLoader` is a re-iterable description (index + resolved options); each
 * `for await` starts one epoch, which owns its ring, its coordinator and their worker threads and releases
 * them when the epoch ends, breaks or fails.
 */
import type { AugmentOptions } from './augment-options.js';
import { Errors } from './errors.js';
import type { S3Options } from './s3/client.js';
import { isS3Url } from './s3/url.js';
import { fromDirectory, type FileIndex, type FromDirectoryOptions } from './file-index.js';
import { Coordinator } from './coordinator.js';
import { DecodePool } from './decode-pool.js';
import { assembleBatches, type Batch, type BatchArrays, type EntrySource, type PositionFeed } from './batches.js';
import type { Ring } from './ring.js';
import { resolveOptions, type LoaderOptions, type ResolvedOptions } from './options.js';
import { epochPlan, numpyLegacyShuffle, shardSize } from './sampler.js';
import { emptyStats, type LoaderStats } from './stats.js';

export type Subset = 'training' | 'validation';

export interface SplitOptions {
  /**
   * Share of the files held out for validation, in (0, 1), the same files Keras holds out for the same
   * `seed`. `null`: no split.
   *
   * @default null
   */
  validationSplit?: number | null;
  /**
   * Which side of the split this loader serves, `'training'` or `'validation'`; required with
   * `validationSplit`. `imageDatasetFromDirectory` also takes `'both'` and returns `[training, validation]`.
   *
   * @default null
   */
  subset?: Subset | null;
}

export type ImageLoaderOptions = LoaderOptions & SplitOptions;

/** What one epoch consumes: positions from a coordinator, labels and paths by entry, the ring; `stop` ends it. */
export interface EpochSource {
  feed: PositionFeed;
  entries: EntrySource;
  ring: Ring;
  stop(): Promise<void>;
}

/**
 * The entries of `index` that `subset` gets, exactly as Keras splits: the whole file list shuffled with numpy's
 * `RandomState(seed)` (when `shuffle`), the last `floor(validationSplit * size)` files for validation.
 */
export function splitEntries(
  size: number,
  split: { validationSplit: number; subset: Subset; shuffle: boolean; seed: number },
): Int32Array {
  const all = Array.from({ length: size }, (_, i) => i);
  const ordered = split.shuffle ? numpyLegacyShuffle(all, split.seed) : all;
  const numValidation = Math.floor(split.validationSplit * size);
  if (numValidation === 0 || numValidation === size) {
    throw Errors.invalidOption(
      'validationSplit',
      `a share that leaves both subsets non-empty for ${size} files`,
      split.validationSplit,
    );
  }
  const part = split.subset === 'training' ? ordered.slice(0, size - numValidation) : ordered.slice(size - numValidation);
  return Int32Array.from(part);
}

function resolveSplit(opts: SplitOptions, allowBoth: boolean): { validationSplit: number; subset: Subset | 'both' } | null {
  const { validationSplit, subset } = opts;
  if (validationSplit === undefined || validationSplit === null) {
    if (subset !== undefined && subset !== null) {
      throw Errors.optionConflict(`Expected validationSplit with subset '${String(subset)}' but received none`);
    }
    return null;
  }
  if (typeof validationSplit !== 'number' || !(validationSplit > 0 && validationSplit < 1)) {
    throw Errors.invalidOption('validationSplit', 'a number between 0 and 1 (exclusive)', validationSplit);
  }
  const allowed = allowBoth ? ['training', 'validation', 'both'] : ['training', 'validation'];
  if (!allowed.includes(subset as string)) {
    throw Errors.invalidOption('subset', `one of ${allowed.map((s) => `'${s}'`).join(', ')}`, subset);
  }
  return { validationSplit, subset: subset as Subset | 'both' };
}

/**
 * Streams an index as fixed-size batches: paths stay in memory, pixels are decoded just in time by a pool
 * of worker threads into a bounded shared ring.
 *
 * @example
 * const loader = new ImageLoader(await fromDirectory('data/train'), { imageSize: [224, 224], batchSize: 32 });
 * for await (const { images, labels, shape } of loader) {
 *   // one epoch; iterate again for the next
 * }
 * await loader.close();
 */
export class ImageLoader implements AsyncIterable<Batch> {
  readonly index: FileIndex;
  readonly options: ResolvedOptions;
  /** Index entries this loader serves, in their base order (all of them, or one side of a split). */
  readonly entries: Int32Array;
  /** Statistics of the current or last epoch. */
  stats: LoaderStats;
  private epoch = 0;
  private startPosition = 0;
  private openEpoch: { epoch: number; finished: boolean } | null = null;
  private closed = false;
  protected pool: DecodePool | null = null;
  private current: EpochSource | null = null;
  /** Arrays of full batches handed back by {@link ImageLoader.recycle}, filled again before new ones are made. */
  private readonly recycled: BatchArrays[] = [];
  /** The batch each yielded image array belongs to, so that only that batch, once, can hand it back. */
  private readonly owners = new WeakMap<object, Batch>();

  constructor(index: FileIndex, options: ImageLoaderOptions = {}) {
    const { validationSplit, subset, ...loaderOptions } = options ?? {};
    this.index = index;
    const resolved = resolveOptions(loaderOptions, index);
    const split = resolveSplit({ validationSplit, subset }, false);
    this.entries =
      split === null
        ? Int32Array.from({ length: index.size }, (_, i) => i)
        : splitEntries(index.size, { ...split, subset: split.subset as Subset, shuffle: resolved.shuffle, seed: resolved.seed });
    this.options = split === null ? resolved : resolveOptions(loaderOptions, index, [], this.entries.length);
    this.stats = emptyStats(this.options.capacity, this.options.capacity * this.options.sampleBytes, 0);
  }

  /** Class names, in label order. */
  get classNames(): readonly string[] {
    return this.index.classNames;
  }

  /** Samples per epoch (this shard's share when sharded). */
  get size(): number {
    return shardSize(this.entries.length, this.options.shard);
  }

  /**
   * Where the stream is: the epoch and position of the next sample to deliver. Save it with a model
   * checkpoint and hand it to {@link ImageLoader.resumeFrom} to go on where training stopped.
   */
  get progress(): { epoch: number; position: number } {
    const open = this.openEpoch;
    if (open !== null && !open.finished) return { epoch: open.epoch, position: this.stats.position };
    return { epoch: this.epoch, position: this.startPosition };
  }

  /**
   * The next iteration runs epoch `epoch` (its order is the one that epoch always has) from `position` on;
   * later iterations go on from there.
   *
   * @example
   * loader.resumeFrom(savedProgress); // { epoch: 3, position: 4096 }
   */
  resumeFrom(progress: { epoch: number; position: number }): void {
    const { epoch, position } = progress ?? {};
    if (!Number.isInteger(epoch) || epoch < 0) throw Errors.invalidOption('progress.epoch', 'a non-negative integer', epoch);
    if (!Number.isInteger(position) || position < 0 || position > this.size) {
      throw Errors.invalidOption('progress.position', `an integer between 0 and ${this.size}`, position);
    }
    this.epoch = epoch;
    this.startPosition = position;
  }

  /** Batches per epoch (when no file is skipped). */
  get batchesPerEpoch(): number {
    const { batchSize, dropRemainder } = this.options;
    return dropRemainder ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  /**
   * One epoch of batches. Each call starts the next epoch (a new order when shuffling); starting one while
   * another is still open stops the older one first. The workers stay up between epochs until `close()`.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    if (this.closed) throw Errors.closed();
    const epoch = this.epoch++;
    const start = this.startPosition;
    this.startPosition = 0;
    if (this.current !== null) await this.current.stop();
    if (this.closed) throw Errors.closed();
    const current = this.beginEpoch(epoch, start);
    this.current = current;
    const open = { epoch, finished: false };
    this.openEpoch = open;
    this.stats = emptyStats(current.ring.capacity, current.ring.pixels.byteLength, epoch + 1, start);
    try {
      const take = () => this.recycled.pop() ?? null;
      for await (const batch of assembleBatches(current.feed, current.ring, current.entries, this.options, this.stats, start, take)) {
        this.owners.set(batch.images, batch);
        yield batch;
      }
      open.finished = true;
    } finally {
      await current.stop();
      if (this.current === current) this.current = null;
    }
  }

  /**
   * The producing side of one epoch from `start` on: files read and decoded by the pool's workers. A source
   * that is not a local file (objects in a bucket) brings its own.
   */
  protected beginEpoch(epoch: number, start: number): EpochSource {
    this.pool ??= new DecodePool(this.index, this.options);
    const { shuffle, seed, shard } = this.options;
    const order = epochPlan(this.entries.length, { shuffle, seed, epoch, shard, start });
    const coordinator = new Coordinator(this.index, this.options, this.pool, this.entries, order, epoch);
    return { feed: coordinator, entries: this.index, ring: this.pool.ring, stop: () => coordinator.join() };
  }

  /**
   * Hands a batch's arrays back, to be filled by a later batch instead of new arrays (FFCV reuses its batch
   * memory the same way). Call it once nothing reads `batch.images` or `batch.labels` any more. Without it,
   * dropped batches wait for the garbage collector, which at 224x224 float32 lets several 19 MB batches pile
   * up on top of the ring. Short last batches are ignored; a batch can be handed back once; two are kept.
   *
   * @example
   * for await (const batch of loader) {
   *   await step(batch.images, batch.labels); // done with it
   *   loader.recycle(batch);
   * }
   */
  recycle(batch: Batch): void {
    if (batch === null || typeof batch !== 'object' || !ArrayBuffer.isView(batch.images)) {
      throw Errors.invalidOption('batch', 'a batch yielded by this loader', batch === null || typeof batch !== 'object' ? batch : 'an object without images');
    }
    // Only a batch this loader yielded, once: its arrays have the loader's types; a short one is a view.
    if (this.owners.get(batch.images) !== batch) return;
    this.owners.delete(batch.images);
    if (this.recycled.length < 2 && batch.shape[0] === this.options.batchSize) {
      this.recycled.push({ images: batch.images, labels: batch.labels });
    }
  }

  /** Stops a running epoch and ends the worker threads. The loader cannot be iterated afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    this.recycled.length = 0;
    await this.current?.stop();
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export interface ImageDatasetOptions extends LoaderOptions, FromDirectoryOptions {
  /**
   * As {@link SplitOptions.validationSplit}.
   *
   * @default null
   */
  validationSplit?: number | null;
  /**
   * `'training'`, `'validation'`, or `'both'` for `[training, validation]`.
   *
   * @default null
   */
  subset?: Subset | 'both' | null;
  /**
   * Augmentation of the validation subset. `augment` applies to the training subset (or to an unsplit folder);
   * the validation subset gets none unless asked here.
   *
   * @default null
   */
  validationAugment?: AugmentOptions | null;
  /**
   * For an `s3://bucket/prefix` directory: the store's endpoint, credentials, timeouts, retries and GETs in
   * flight (`S3Options`, see docs/object-storage.md).
   * @default the AWS SDK's standard configuration (`AWS_*` variables, profiles, roles)
   */
  s3?: S3Options;
}

/**
 * Keras' `image_dataset_from_directory` for streaming: one class per sub-folder, optional validation split.
 * `dir` may be a local folder or an `s3://bucket/prefix` URL of a bucket holding the same tree (one GET per
 * image, many in flight; see the `s3` option).
 *
 * @example
 * const [train, val] = await imageDatasetFromDirectory('data/train', {
 *   imageSize: [224, 224], batchSize: 32, validationSplit: 0.2, subset: 'both', seed: 1337,
 * });
 * const remote = await imageDatasetFromDirectory('s3://my-bucket/datasets/train', { imageSize: [224, 224] });
 */
export async function imageDatasetFromDirectory(
  dir: string,
  options: ImageDatasetOptions & { subset: 'both' },
): Promise<[ImageLoader, ImageLoader]>;
export async function imageDatasetFromDirectory(dir: string, options?: ImageDatasetOptions): Promise<ImageLoader>;
export async function imageDatasetFromDirectory(
  dir: string,
  options: ImageDatasetOptions = {},
): Promise<ImageLoader | [ImageLoader, ImageLoader]> {
  const { extensions, labels, classNames, validationSplit, subset, augment, validationAugment, s3, ...loaderOptions } = options ?? {};
  const split = resolveSplit({ validationSplit, subset: subset as Subset }, true);
  const listing = { extensions, labels, classNames };
  let make: (opts: ImageLoaderOptions) => ImageLoader;
  if (isS3Url(dir)) {
    // Loaded here, not at the top: S3 users only pay for it (and the module extends ImageLoader).
    const { openS3Folder } = await import('./s3/folder-dataset.js');
    const source = await openS3Folder(dir, listing, s3);
    make = source.loader;
  } else {
    if (s3 !== undefined) throw Errors.invalidOption('s3', 'no S3 options for a local directory (an s3:// URL takes them)', dir);
    const index = await fromDirectory(dir, listing);
    make = (opts) => new ImageLoader(index, opts);
  }
  const trainOptions = { ...loaderOptions, augment };
  const valOptions = { ...loaderOptions, augment: validationAugment };
  if (split?.subset === 'both') {
    const train = make({ ...trainOptions, validationSplit: split.validationSplit, subset: 'training' });
    const val = make({ ...valOptions, validationSplit: split.validationSplit, subset: 'validation' });
    return [train, val];
  }
  if (split === null) return make(trainOptions);
  const subsetOptions = split.subset === 'validation' ? valOptions : trainOptions;
  return make({ ...subsetOptions, validationSplit: split.validationSplit, subset: split.subset as Subset });
}
