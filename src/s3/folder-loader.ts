/**
 * A bucket of class folders as a dataset: the folder loader's index, split, order, workers, ring and batches,
 * with the bytes of each image fetched by one GET (many in flight, `ObjectStream`) and staged in shared
 * memory for the decode workers, as the shard source stages its samples. `memoryBudget` is split between
 * the objects in flight, the staging arena and the ring.
 */
import bytes from 'bytes';
import { Errors, ImgstreamError } from '../errors.js';
import type { FileIndex } from '../file-index.js';
import { DecodePool } from '../decode-pool.js';
import { ImageLoader, type EpochSource, type ImageLoaderOptions } from '../loader.js';
import { parseByteSize, resolveOptions, type ResolvedOptions } from '../options.js';
import { epochPlan } from '../sampler.js';
import { ShardCoordinator } from '../shards/coordinator.js';
import { StagingArena } from '../shards/staging.js';
import type { S3Context } from './client.js';
import type { ListedBytes } from './list.js';
import { ObjectStream } from './object-stream.js';

/** What each part of `memoryBudget` holds, in bytes. */
export interface S3Budget {
  memoryBudget: number;
  /** Objects requested ahead, fetched and not yet staged. */
  fetch: number;
  /** The staging arena the decode workers read encoded images from. */
  staging: number;
  /** The budget left for the ring and the batches. */
  pixels: number;
}

/** A client shared by the loaders of one dataset (`subset: 'both'`), destroyed when the last one closes. */
export class SharedContext {
  private users = 0;
  constructor(readonly ctx: S3Context) {}
  take(): S3Context {
    this.users += 1;
    return this.ctx;
  }
  release(): void {
    this.users -= 1;
    if (this.users === 0) this.ctx.client.destroy();
  }
}

/**
 * Splits `memoryBudget`: the objects in flight (`requestsInFlight` of the mean listed size, half again for
 * spread, at least the largest object), then a staging arena of 1.25 ring slots' worth of mean objects (at
 * least two of the largest), then the ring.
 */
export function splitS3Budget(loaderOptions: ImageLoaderOptions, index: FileIndex, count: number, listed: ListedBytes, inFlight: number): S3Budget {
  const memoryBudget = parseByteSize('memoryBudget', loaderOptions.memoryBudget ?? '256MiB');
  const mean = Math.max(1, listed.total / Math.max(1, index.size));
  const largest = Math.max(1, listed.largest);
  const fetch = Math.max(largest, Math.ceil(inFlight * mean * 1.5));
  const { validationSplit: _v, subset: _s, ...pure } = loaderOptions;
  const resolveWith = (pixels: number, staging: number): ResolvedOptions => {
    try {
      return resolveOptions({ ...pure, memoryBudget: Math.max(1, pixels) }, index, [], Math.max(1, count));
    } catch (err) {
      if (err instanceof ImgstreamError && err.code === 'ERR_OPTION' && err.message.includes('for memoryBudget')) {
        const need = /at least (\S+)/.exec(err.message)?.[1] ?? 'more';
        throw Errors.invalidOption(
          'memoryBudget',
          `room for the ring and batches (at least ${need}) on top of the objects in flight (${bytes.format(fetch)}: ` +
            `s3.requestsInFlight ${inFlight} of ${bytes.format(mean)} on average) and the staging memory (${bytes.format(staging)})`,
          loaderOptions.memoryBudget ?? '256MiB',
        );
      }
      throw err;
    }
  };
  const first = resolveWith(memoryBudget - fetch - 2 * largest, 2 * largest);
  const staging = Math.max(2 * largest, Math.ceil(first.capacity * mean * 1.25));
  const pixels = memoryBudget - fetch - staging;
  resolveWith(pixels, staging);
  return { memoryBudget, fetch, staging, pixels };
}

/**
 * An {@link ImageLoader} over objects in a bucket: the same surface, options and batches (a bucket and its
 * local copy give the same epochs, labels and pixels); made by `imageDatasetFromDirectory('s3://...')`.
 */
export class S3ImageLoader extends ImageLoader {
  /** How `memoryBudget` is split (read-only). */
  readonly budget: S3Budget;
  private readonly arena: StagingArena;
  private readonly ctx: S3Context;
  private released = false;

  /** @internal use `imageDatasetFromDirectory('s3://bucket/prefix', ...)`. */
  constructor(
    index: FileIndex,
    options: ImageLoaderOptions,
    private readonly shared: SharedContext,
    budget: S3Budget,
  ) {
    super(index, { ...options, memoryBudget: budget.pixels });
    (this as { options: ResolvedOptions }).options = Object.freeze({ ...this.options, memoryBudget: budget.memoryBudget });
    this.budget = Object.freeze(budget);
    this.arena = new StagingArena(budget.staging);
    this.ctx = shared.take();
  }

  /** Decode workers that read each image's bytes from the staging arena, as the shard loader's do. */
  protected override createPool(): DecodePool {
    return new DecodePool({ kind: 'staged', arena: this.arena.buffer }, this.options);
  }

  protected override beginEpoch(epoch: number, start: number): EpochSource {
    const pool = (this.pool ??= this.createPool());
    const order = epochPlan(this.entries.length, { ...this.options, epoch, start });
    const items = Int32Array.from(order, (k) => this.entries[k]);
    let coordinator: ShardCoordinator | null = null;
    const stream = new ObjectStream(this.ctx, this.index, items, { inFlight: this.ctx.options.requestsInFlight, maxBytes: this.budget.fetch }, () =>
      coordinator?.pump(),
    );
    const c = new ShardCoordinator(pool, this.options, stream, this.arena, epoch, items.length);
    coordinator = c;
    stream.start();
    return {
      coordinator: c,
      entries: c,
      ring: pool.ring,
      stop: async () => {
        await c.join();
        await stream.stop();
        this.arena.reset();
      },
    };
  }

  override async close(): Promise<void> {
    await super.close();
    if (!this.released) {
      this.released = true;
      this.shared.release();
    }
  }
}
