/**
 * The dataset: `ImageLoader` is a re-iterable description (index + resolved options); each
 * `for await` starts one epoch, which owns its ring, its coordinator and their worker threads and releases
 * them when the epoch ends, breaks or fails.
 */
import { anySignal, resolveSignal, untilAborted } from './abort.js';
import type { AugmentOptions } from './augment-options.js';
import { Errors } from './errors.js';
import { COMPAT_PRESETS, kerasFoundMessage } from './compat.js';
import type { S3Options } from './s3/client.js';
import { isS3Url } from './s3/url.js';
import { fromDirectory, fromList, type FileIndex, type FromDirectoryOptions } from './file-index.js';
import { referenceListing } from './reference-index.js';
import { Coordinator, type CoordinatorCounters } from './coordinator.js';
import { DecodePool } from './decode-pool.js';
import { Consumer, type Batch, type EntrySource, type PositionFeed } from './batches.js';
import type { Ring } from './ring.js';
import { BatchPool } from './batch-pool.js';
import { resolveOptions, type LoaderOptions, type ResolvedOptions } from './options.js';
import { epochPlan, numpyLegacyShuffle, shardSize, splitEntries, type Subset } from './sampler.js';
import { composeStats, type LoaderStats } from './stats.js';
import { defined, integerBetween, integerIn, invalid, number, object, oneOf } from './validate.js';

export type { Subset } from './sampler.js';

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

/** Stopping from outside, as Node's streams and `fetch` take an `AbortSignal`. */
export interface SignalOptions {
  /**
   * Ends the loader when aborted, as `close()` does: the running epoch stops, the decode workers end, and
   * that iteration and every later one reject with the signal's reason. To stop one epoch only, pass a signal
   * to `loader.iterate({ signal })` instead.
   *
   * @default null
   */
  signal?: AbortSignal | null;
}

/** Options of one pass over the loader ({@link ImageLoader.iterate}). */
export interface IterateOptions {
  /**
   * Stops this epoch when aborted: the pending iteration rejects with the signal's reason, the workers drop
   * its work; the loader stays usable, and the next iteration starts the next epoch.
   *
   * @default null
   */
  signal?: AbortSignal | null;
}

export type ImageLoaderOptions = LoaderOptions & SplitOptions & SignalOptions;

/**
 * The producing side of one epoch: a coordinator handing out positions (the file `Coordinator`, or a stream
 * source's), labels and paths by entry, the ring it fills; `stop` joins the coordinator and frees what the
 * epoch holds besides.
 */
export interface EpochSource {
  coordinator: PositionFeed & { readonly counters: CoordinatorCounters; requestStop(reason?: unknown): void };
  entries: EntrySource;
  ring: Ring;
  stop(): Promise<void>;
}

function resolveSplit(opts: SplitOptions, allowBoth: boolean): { validationSplit: number; subset: Subset | 'both' } | null {
  const { validationSplit, subset } = opts;
  if (!defined(validationSplit)) {
    if (defined(subset)) {
      throw Errors.optionConflict(`Expected validationSplit with subset '${String(subset)}' but received none`);
    }
    return null;
  }
  if (!number(validationSplit) || !(validationSplit > 0 && validationSplit < 1)) {
    throw invalid('validationSplit', 'a number between 0 and 1 (exclusive)', validationSplit);
  }
  const allowed: (Subset | 'both')[] = allowBoth ? ['training', 'validation', 'both'] : ['training', 'validation'];
  return { validationSplit, subset: oneOf('subset', subset, allowed) };
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
  /** The side of a validation split this loader serves, `null` without a split. */
  readonly subset: Subset | null;
  /** The stages of the current or last epoch, whose counters {@link ImageLoader.stats} reads. */
  private counted: { epochs: number; coordinator: EpochSource['coordinator']; consumer: Consumer } | null = null;
  private epoch = 0;
  private startPosition = 0;
  private openEpoch: { epoch: number; finished: boolean } | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly signal: AbortSignal | null;
  /** The `signal` option's listener; a failure to close reaches whoever awaits `close()`, not the event. */
  private readonly onAbort = () => void this.close().catch(() => {});
  protected pool: DecodePool | null = null;
  private current: EpochSource | null = null;
  /** The memory of the batches `memoryBudget` counts besides the ring (`options.pooledBatches`), lent to yielded batches. */
  private readonly batchPool: BatchPool;

  constructor(index: FileIndex, options: ImageLoaderOptions = {}) {
    const { validationSplit, subset, signal, ...loaderOptions } = options ?? {};
    this.index = index;
    this.signal = resolveSignal('signal', signal);
    const resolved = resolveOptions(loaderOptions, index);
    const split = resolveSplit({ validationSplit, subset }, false);
    const keras = resolved.compat === 'keras';
    if (keras && split !== null && resolved.shuffle && loaderOptions.seed === undefined) {
      throw Errors.optionConflict(
        "Expected a seed with validationSplit and shuffle under compat: 'keras' (Keras requires one, so that the subsets cannot overlap) but received none",
      );
    }
    this.subset = split === null ? null : (split.subset as Subset);
    // Keras shuffles the whole file list once, split or not, before its per-epoch shuffle.
    const all = Array.from({ length: index.size }, (_, i) => i);
    this.entries =
      split === null
        ? Int32Array.from(keras && resolved.shuffle ? numpyLegacyShuffle(all, resolved.seed) : all)
        : splitEntries(index.size, { ...split, subset: split.subset as Subset, shuffle: resolved.shuffle, seed: resolved.seed });
    this.options = split === null ? resolved : resolveOptions(loaderOptions, index, [], this.entries.length);
    this.batchPool = new BatchPool(this.options.pooledBatches);
    if (split !== null && this.options.verbose) {
      console.log(`Using ${this.entries.length} files for ${split.subset}.`);
    }
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Statistics of the current or last epoch. */
  get stats(): LoaderStats {
    const { capacity, slotBytes } = this.options;
    const counted = this.counted;
    return composeStats(counted?.epochs ?? 0, { capacity, bytes: capacity * slotBytes }, counted?.coordinator.counters ?? null, counted?.consumer.counters ?? null);
  }

  /** The decode workers every epoch of this loader runs on: made for the first epoch, kept until `close()`. */
  protected createPool(): DecodePool {
    return new DecodePool(this.index, this.options);
  }

  /** Class names, in label order. */
  get classNames(): readonly string[] {
    return this.index.classNames;
  }

  /** The paths this loader serves, in their base order (Keras' `dataset.file_paths`). */
  get filePaths(): string[] {
    return Array.from(this.entries, (e) => this.index.path(e));
  }

  /** Samples per epoch (this shard's share when sharded). */
  get size(): number {
    return shardSize(this.entries.length, this.options.shard, this.options.rankRemainder);
  }

  /**
   * Where the stream is: the epoch and position of the next sample to deliver. Save it with a model
   * checkpoint and hand it to {@link ImageLoader.resumeFrom} to go on where training stopped.
   */
  get progress(): { epoch: number; position: number } {
    const open = this.openEpoch;
    if (open !== null && !open.finished) return { epoch: open.epoch, position: this.counted?.consumer.counters.position ?? 0 };
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
    if (!integerIn(epoch, 0, Infinity)) throw invalid('progress.epoch', 'a non-negative integer', epoch);
    const start = integerBetween('progress.position', position, 0, this.size);
    this.epoch = epoch;
    this.startPosition = start;
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
  [Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    return this.iterate();
  }

  /**
   * One epoch of batches, as `for await (const batch of loader)` gives, that `signal` can stop.
   *
   * @example
   * const controller = new AbortController();
   * process.once('SIGTERM', () => controller.abort());
   * for await (const batch of loader.iterate({ signal: controller.signal })) await step(batch);
   */
  async *iterate(options: IterateOptions = {}): AsyncGenerator<Batch, void, undefined> {
    const signal = anySignal(this.signal, resolveSignal('signal', options?.signal));
    signal?.throwIfAborted();
    if (this.closed) throw Errors.closed();
    const epoch = this.epoch++;
    const start = this.startPosition;
    this.startPosition = 0;
    if (this.current !== null) {
      this.current.coordinator.requestStop(Errors.superseded(this.openEpoch?.epoch ?? epoch - 1, epoch));
      await this.current.stop();
    }
    if (this.closed) throw Errors.closed();
    const current = this.beginEpoch(epoch, start);
    const { coordinator } = current;
    this.current = current;
    const open = { epoch, finished: false };
    this.openEpoch = open;
    const consumer = new Consumer(coordinator, current.ring, current.entries, this.options, start, () => this.batchPool.take());
    this.counted = { epochs: epoch + 1, coordinator, consumer };
    const batches = consumer.batches();
    try {
      for await (const batch of untilAborted(batches, signal, () => coordinator.requestStop())) {
        this.batchPool.lend(batch);
        yield batch;
        await this.batchPool.reclaim();
      }
      open.finished = true;
    } finally {
      await current.stop();
      await batches.return();
      if (this.current === current) this.current = null;
      if (this.signal?.aborted) await this.close();
    }
  }

  /**
   * The producing side of one epoch from `start` on: files read and decoded by the pool's workers. A source
   * that is not a local file (objects in a bucket) brings its own.
   */
  protected beginEpoch(epoch: number, start: number): EpochSource {
    const pool = (this.pool ??= this.createPool());
    const shuffle = this.options.shuffle && (this.subset !== 'validation' || this.options.shuffleValidation);
    const order = epochPlan(this.entries.length, { ...this.options, shuffle, epoch, start });
    const coordinator = new Coordinator(this.index, this.options, pool, this.entries, order, epoch);
    return { coordinator, entries: this.index, ring: pool.ring, stop: () => coordinator.join() };
  }

  /**
   * Hands a batch's arrays back at once, to be filled by a later batch (FFCV reuses its batch memory the same
   * way). Call it once nothing reads `batch.images` or `batch.labels` any more. Without it, a dropped batch's
   * memory comes back when the garbage collector finds its arrays unreachable (the loader asks for a
   * collection when every batch of the budget is out); a kept batch is never written again. A batch can be
   * handed back once; other objects are ignored.
   *
   * @example
   * for await (const batch of loader) {
   *   await step(batch.images, batch.labels); // done with it
   *   loader.recycle(batch);
   * }
   */
  recycle(batch: Batch): void {
    if (!object(batch) || !ArrayBuffer.isView(batch.images)) {
      throw invalid('batch', 'a batch yielded by this loader', object(batch) ? 'an object without images' : batch);
    }
    this.batchPool.recycle(batch);
  }

  /** Stops a running epoch and ends the worker threads. The loader cannot be iterated afterwards. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.signal?.removeEventListener('abort', this.onAbort);
      this.batchPool.clear();
      await this.current?.stop();
      const pool = this.pool;
      this.pool = null;
      await pool?.destroy();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export interface ImageDatasetOptions extends LoaderOptions, FromDirectoryOptions, SignalOptions {
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
 * The index of `dir`: imgstream's listing, or under `compat` the reference loader's (and, with `verbose`,
 * Keras' "Found N files belonging to M classes.").
 */
async function directoryIndex(dir: string, listing: FromDirectoryOptions, options: LoaderOptions): Promise<FileIndex> {
  const compat = options.compat ?? null;
  if (compat !== 'keras' && compat !== 'torchvision') {
    if (compat !== null) throw Errors.invalidOption('compat', "one of 'keras', 'torchvision', null", compat);
    return fromDirectory(dir, listing);
  }
  const followLinks = listing.followLinks ?? COMPAT_PRESETS[compat].followLinks;
  if (typeof followLinks !== 'boolean') throw Errors.invalidOption('followLinks', 'a boolean', followLinks);
  const found = await referenceListing(compat, dir, {
    followLinks,
    classNames: listing.classNames,
    labels: listing.labels,
    extensions: listing.extensions?.map((e) => `.${e.replace(/^\./, '').toLowerCase()}`),
  });
  if (options.verbose ?? COMPAT_PRESETS[compat].verbose) {
    console.log(kerasFoundMessage(found.paths.length, found.labels === null ? null : found.classNames.length));
  }
  return fromList(found.paths, found.labels, { classNames: found.classNames });
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
  const { extensions, labels, classNames, followLinks, validationSplit, subset, augment, validationAugment, s3, ...loaderOptions } = options ?? {};
  const split = resolveSplit({ validationSplit, subset: subset as Subset }, true);
  const listing = { extensions, labels, classNames, followLinks };
  let make: (opts: ImageLoaderOptions) => ImageLoader;
  if (isS3Url(dir)) {
    // Loaded here, not at the top: S3 users only pay for it (and the module extends ImageLoader).
    const { openS3Folder } = await import('./s3/folder-dataset.js');
    const source = await openS3Folder(dir, listing, s3);
    make = source.loader;
  } else {
    if (s3 !== undefined) throw Errors.invalidOption('s3', 'no S3 options for a local directory (an s3:// URL takes them)', dir);
    const index = await directoryIndex(dir, listing, loaderOptions);
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
