/**
 * The shard dataset: `imageDatasetFromShards` resolves the shard list (brace notation, the index file or a
 * header pass), checks the options once and splits `memoryBudget` between the stream's buffers and the ring;
 * `ShardLoader` is the re-iterable dataset, each `for await` one epoch that owns its stream and coordinator.
 * The decode workers, the ring, the consumer and the batches are the folder loader's own.
 */
import bytes from 'bytes';
import { expand } from 'brace-expansion';
import { BatchPool } from '../batch-pool.js';
import { Consumer, type Batch } from '../batches.js';
import { DecodePool } from '../decode-pool.js';
import { Errors, ImgstreamError } from '../errors.js';
import { FileIndex, IMAGE_EXTENSIONS } from '../file-index.js';
import { integerBetween, oneOf } from '../validate.js';
import { parseByteSize, resolveOptions, type LoaderOptions, type ResolvedOptions } from '../options.js';
import { composeStats, type LoaderStats } from '../stats.js';
import { ShardCoordinator } from './coordinator.js';
import { DEFAULT_RETRY, displayUrl, openerFor, schemeOf, type RetryPolicy } from './openers.js';
import { BufferPlan, bufferSeed, rankPieces, type RankRemainder } from './plan.js';
import { LABEL_EXTENSIONS, type LabelMember, type SampleRules } from './sample.js';
import { countShard, INDEX_FILE, loadShardIndex, resolveAgainst, siblingOf, type ShardEntry, type ShardIndexFile } from './shard-index.js';
import { imageBuffersBytes, ImageBuffers, StagingArena } from './staging.js';
// Registers the s3:// opener (the AWS SDK itself is loaded on the first s3:// open only).
import '../s3/shard-opener.js';
import { ShardStream, type PieceStart, type StreamShard } from './stream.js';

/** `ShardLoader.progress`: what `resumeFrom` takes to go on from there. */
export interface ShardProgress {
  epoch: number;
  /** Samples of the epoch delivered. */
  position: number;
  shards: {
    /** This rank's shards of the epoch with nothing left to deliver (they are not read again). */
    finished: number;
    /**
     * The first shard with samples left: how many of it had been read, and `resumeAt`, the first of its samples
     * still to deliver (its number in the shard) with the byte offset of its first tar header; `null` when unknown.
     */
    current: { url: string; samplesRead: number; resumeAt: { sample: number; byte: number } | null } | null;
  };
}

/** Options of {@link imageDatasetFromShards}: the loader's options (see `LoaderOptions`) plus these. */
export interface ShardDatasetOptions extends LoaderOptions {
  /**
   * Samples held in the shuffle buffer (a number), or the bytes it may take (a size such as `'64MiB'`, counted
   * as that many of the largest image). Larger mixes better; it is never a full-dataset shuffle. `'auto'`: up to
   * 1000 samples and at most a quarter of `memoryBudget`. Unused without `shuffle`.
   * @default 'auto'
   */
  shuffleBuffer?: number | string;
  /**
   * The shard index (`shards.json`, written by `imgstream pack`) as a path or URL; `null` looks for
   * `shards.json` next to the first shard.
   * @default null
   */
  index?: string | null;
  /**
   * Class names in label order: to map labels given as names, or when the index has none; `null` takes the
   * index's.
   * @default null
   */
  classNames?: readonly string[] | null;
  /**
   * The member that holds a sample's label: `'cls'`, `'txt'` (an integer or a class name), `'json'` (the field
   * `labelField`), or `'auto'`: the first of `.cls`, `.json`, `.txt` the sample has.
   * @default 'auto'
   */
  labelMember?: LabelMember;
  /**
   * The field of a `.json` label member.
   * @default 'label'
   */
  labelField?: string;
  /**
   * Image members larger than this are skipped (`ERR_TOO_LARGE`) without ever being held in memory.
   * @default '32MiB'
   */
  maxSampleBytes?: number | string;
  /**
   * Failed requests tolerated per shard, each resumed from the byte reached (an HTTP `Range` request), after
   * a backoff of 100 ms doubling up to 5 s.
   * @default 5
   */
  retries?: number;
  /**
   * A shard stream silent for this many milliseconds is dropped and resumed (counts as a failed request).
   * @default 30000
   */
  readTimeoutMs?: number;
  /**
   * Not available for shards (pack the validation set as shards of its own); must be left unset.
   * @default null
   */
  validationSplit?: null;
  /**
   * Not available for shards; must be left unset.
   * @default null
   */
  subset?: null;
}

/**
 * Bytes kept for the shard stream: the shard being read and the next one opened (a file's or socket's chunks,
 * up to about 2 MiB each), and the free image buffers kept for reuse ({@link imageBuffersBytes}) on top.
 */
const STREAM_CHUNKS = 4 * 2 ** 20;
const AUTO_BUFFER_SAMPLES = 1000;
/**
 * Samples the stream reads beyond the shuffle buffer's need: without them each sample taken would wait for
 * the next read, and the decode workers would get one-sample tasks. At most an eighth of the budget.
 */
const READ_AHEAD = 32;

/** A resolved shard: where it is, how many samples, and the number of its first sample in the dataset. */
interface ResolvedShard extends ShardEntry, StreamShard {}

/** The shard list `urls` stands for: brace notation expanded, in order. */
export function expandShardUrls(urls: string | readonly string[]): string[] {
  const list = typeof urls === 'string' ? [urls] : Array.isArray(urls) ? urls : null;
  if (list === null || list.length === 0 || list.some((u) => typeof u !== 'string' || u.length === 0)) {
    throw Errors.invalidOption('urls', "a shard path or URL, brace notation such as 'train-{000000..000127}.tar', or an array of them", urls);
  }
  return list.flatMap((u) => expand(u));
}

const basename = (url: string) => url.slice(url.lastIndexOf('/') + 1);

async function resolveShards(
  urls: readonly string[],
  indexOption: string | null | undefined,
  retry: RetryPolicy,
): Promise<{ shards: ResolvedShard[]; index: ShardIndexFile | null }> {
  let list = [...urls];
  for (const u of list) {
    if (openerFor(u) === null) throw Errors.invalidOption('urls', 'local paths, file://, http://, https:// or s3:// URLs of shards', displayUrl(u));
  }
  // A single .json is the index itself: its shard list is the dataset.
  let location = indexOption ?? null;
  if (location === null && list.length === 1 && list[0].toLowerCase().endsWith('.json')) {
    location = list[0];
    list = [];
  }
  const explicit = location !== null;
  location ??= siblingOf(list[0], INDEX_FILE);
  const index = await loadShardIndex(location, retry);
  if (index === null && explicit) throw Errors.notFound(displayUrl(location), 'Shard index');
  let entries: ShardEntry[];
  if (index !== null) {
    const byUrl = new Map(index.shardlist.map((s) => [resolveAgainst(location, s.url), s]));
    const byName = new Map(index.shardlist.map((s) => [basename(s.url), s]));
    if (list.length === 0) list = [...byUrl.keys()];
    entries = list.map((u) => {
      const entry = byUrl.get(u) ?? byName.get(basename(u));
      if (entry === undefined) {
        throw Errors.invalidOption('urls', `shards listed in the index ${displayUrl(location)}`, displayUrl(u));
      }
      return { ...entry, url: u };
    });
  } else {
    const remote = list.filter((u) => schemeOf(u) !== 'file:');
    if (remote.length > 0) {
      throw Errors.invalidOption(
        'index',
        `a shard index for shards that are not local files (no ${INDEX_FILE} at ${displayUrl(location)}; write one with imgstream pack)`,
        null,
      );
    }
    const isImage = (ext: string) => IMAGE_EXTENSIONS.includes(ext);
    entries = [];
    for (const u of list) entries.push(await countShard(u, retry, isImage));
  }
  let first = 0;
  const shards = entries.map((e) => {
    const s = { ...e, firstSample: first };
    first += e.nsamples;
    return s;
  });
  return { shards, index };
}

function nonNegativeInteger(option: string, value: unknown): number {
  return integerBetween(option, value, 0, Number.MAX_SAFE_INTEGER);
}

interface ShardConfig {
  readonly shards: readonly ResolvedShard[];
  readonly counts: readonly number[];
  readonly classNames: readonly string[];
  readonly rules: SampleRules;
  readonly retry: RetryPolicy;
  readonly remainder: RankRemainder;
  /** Shuffle buffer, in samples (0: none). */
  readonly bufferSamples: number;
  /** Samples read ahead of the buffer's need. */
  readonly readAhead: number;
  /** What each part of `memoryBudget` holds, in bytes. */
  readonly budget: { shuffleBuffer: number; staging: number; streams: number; pixels: number };
}

/**
 * A stream of shards as fixed-size batches; built by {@link imageDatasetFromShards}. The same surface as
 * `ImageLoader`: iterate for one epoch, `progress` / `resumeFrom`, `recycle`, `close`.
 */
export class ShardLoader implements AsyncIterable<Batch> {
  readonly options: ResolvedOptions;
  /** The shards and how the budget is split (read-only). */
  readonly config: ShardConfig;
  private epoch = 0;
  /** The counters of the current or last epoch, composed into `stats`. */
  private counted: { epochs: number; coordinator: ShardCoordinator; consumer: Consumer } | null = null;
  private startPosition = 0;
  /** Where a resumed epoch starts reading its first unfinished shard (from `resumeFrom`). */
  private startAt: PieceStart | null = null;
  private openEpoch: { epoch: number; finished: boolean } | null = null;
  private closed = false;
  private pool: DecodePool | null = null;
  private current: { coordinator: ShardCoordinator; stream: ShardStream } | null = null;
  private lastStream: ShardStream | null = null;
  /** The streams' image buffers, reused from epoch to epoch. */
  private imageBuffers: ImageBuffers | null = null;
  private readonly arena: StagingArena;
  /** The memory of the batches `memoryBudget` counts besides the ring (`options.pooledBatches`), lent to yielded batches. */
  private readonly batchPool: BatchPool;

  /** @internal use {@link imageDatasetFromShards}. */
  constructor(options: ResolvedOptions, config: ShardConfig) {
    this.options = options;
    this.config = config;
    this.arena = new StagingArena(config.budget.staging);
    this.batchPool = new BatchPool(options.pooledBatches);
  }

  /** Statistics of the current or last epoch (as `ImageLoader.stats`). */
  get stats(): LoaderStats {
    const { capacity, slotBytes } = this.options;
    const counted = this.counted;
    return composeStats(counted?.epochs ?? 0, { capacity, bytes: capacity * slotBytes }, counted?.coordinator.counters ?? null, counted?.consumer.counters ?? null);
  }

  /**
   * The shard stream of the current or last epoch: requests resumed after a failure, and the most bytes of
   * encoded samples the shuffle buffer held at once (bounded by `config.budget.shuffleBuffer`).
   */
  get streamStats(): { resumes: number; peakBufferedBytes: number } {
    return { resumes: this.lastStream?.counters.resumes ?? 0, peakBufferedBytes: this.lastStream?.peakHeldBytes ?? 0 };
  }

  get classNames(): readonly string[] {
    return this.config.classNames;
  }

  /** The shard URLs, in the order given. */
  get urls(): string[] {
    return this.config.shards.map((s) => s.url);
  }

  private planOf(epoch: number) {
    const { shuffle, seed, shard } = this.options;
    return rankPieces(this.config.counts, { shuffle, seed, epoch, shard, remainder: this.config.remainder });
  }

  /**
   * Samples this rank serves in the epoch the next iteration runs (the same on every rank; with several
   * ranks it can change by a few samples from epoch to epoch, as whole shards are dealt out).
   */
  get size(): number {
    const open = this.openEpoch;
    return this.planOf(open !== null && !open.finished ? open.epoch : this.epoch).total;
  }

  get batchesPerEpoch(): number {
    const { batchSize, dropRemainder } = this.options;
    return dropRemainder ? Math.floor(this.size / batchSize) : Math.ceil(this.size / batchSize);
  }

  private bufferPlan(epoch: number, total: number): BufferPlan {
    const size = this.options.shuffle ? this.config.bufferSamples : 0;
    return new BufferPlan(total, size, bufferSeed(this.options.seed, epoch, this.options.shard?.index ?? 0));
  }

  /**
   * Where epoch `epoch` stands after `position` samples: the buffer plan there, how many of the rank's pieces
   * are finished (nothing of them left to deliver), and the first unfinished piece with the first of its samples
   * still needed (read, in shard order; an earlier one may sit in the shuffle buffer) and how many it had read.
   */
  private standing(epoch: number, position: number) {
    const { pieces, total } = this.planOf(epoch);
    const plan = this.bufferPlan(epoch, total);
    for (let i = 0; i < position; i++) plan.next();
    const { frontier, buffered } = plan.resumeState();
    let finished = 0;
    for (const [index, piece] of pieces.entries()) {
      const end = piece.firstRead + piece.limit;
      let first = -1;
      for (let r = piece.firstRead; first === -1 && r < Math.min(end, frontier); r++) if (buffered.has(r)) first = r;
      if (first === -1 && end > frontier) first = Math.max(frontier, piece.firstRead);
      if (first === -1) {
        finished += 1;
        continue;
      }
      const samplesRead = Math.max(0, Math.min(piece.limit, frontier - piece.firstRead));
      return { plan, finished, current: { index, piece, ordinal: first - piece.firstRead, samplesRead } };
    }
    return { plan, finished, current: null };
  }

  /**
   * Where the stream is: the epoch, the position of the next sample to deliver, and (for a reader) the shards
   * finished and the one in flight: the samples of it already read, and `resumeAt`, the first of its samples
   * still to deliver with the byte offset of its first tar header (`null` when not known), where a resumed
   * epoch starts reading it. Hand it to `resumeFrom` to go on.
   */
  get progress(): ShardProgress {
    const open = this.openEpoch;
    const { epoch, position } =
      open !== null && !open.finished
        ? { epoch: open.epoch, position: this.counted?.consumer.counters.position ?? 0 }
        : { epoch: this.epoch, position: this.startPosition };
    const { finished, current } = this.standing(epoch, position);
    if (current === null) return { epoch, position, shards: { finished, current: null } };
    let byte: number | null = null;
    const live = this.current;
    if (current.ordinal === 0) byte = 0;
    else if (live !== null && open !== null && !open.finished && open.epoch === epoch) byte = live.stream.sampleStart(current.index, current.ordinal);
    else if (this.startAt !== null && this.startAt.piece === current.index && this.startAt.ordinal === current.ordinal) byte = this.startAt.byte;
    const url = displayUrl(this.config.shards[current.piece.shard].url);
    const resumeAt = byte === null ? null : { sample: current.ordinal, byte };
    return { epoch, position, shards: { finished, current: { url, samplesRead: current.samplesRead, resumeAt } } };
  }

  /**
   * The next iteration runs epoch `epoch` from `position` on: finished shards are not read again, the one in
   * flight is read from the byte offset `progress.shards.current.resumeAt` names (when given, and it is the
   * sample this position needs first), and the samples delivered are exactly those the interrupted epoch had
   * left.
   *
   * @example
   * loader.resumeFrom(saved); // saved = loader.progress at the checkpoint
   */
  resumeFrom(progress: { epoch: number; position: number; shards?: { current?: { url?: string; resumeAt?: { sample: number; byte: number } | null } | null } }): void {
    const { epoch, position } = progress ?? {};
    if (!Number.isInteger(epoch) || epoch < 0) throw Errors.invalidOption('progress.epoch', 'a non-negative integer', epoch);
    const size = this.planOf(epoch).total;
    if (!Number.isInteger(position) || position < 0 || position > size) {
      throw Errors.invalidOption('progress.position', `an integer between 0 and ${size}`, position);
    }
    const at = progress.shards?.current?.resumeAt ?? null;
    if (at !== null && (typeof at !== 'object' || !Number.isInteger(at.sample) || at.sample < 0 || !Number.isInteger(at.byte) || at.byte < 0)) {
      throw Errors.invalidOption('progress.shards.current.resumeAt', 'null or { sample, byte } with non-negative integers', at);
    }
    this.epoch = epoch;
    this.startPosition = position;
    this.startAt = null;
    const { current } = this.standing(epoch, position);
    // Used only where it names the sample this position reads first, in the same shard; else the shard is read from its start.
    if (at !== null && current !== null && current.ordinal === at.sample && progress.shards?.current?.url === displayUrl(this.config.shards[current.piece.shard].url)) {
      this.startAt = { piece: current.index, ordinal: at.sample, byte: at.byte };
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    if (this.closed) throw Errors.closed();
    const epoch = this.epoch++;
    const start = this.startPosition;
    const startAt = this.startAt;
    this.startPosition = 0;
    this.startAt = null;
    await this.stopCurrent();
    if (this.closed) throw Errors.closed();
    this.pool ??= new DecodePool({ kind: 'staged', arena: this.arena.buffer }, this.options);
    const { pieces, total } = this.planOf(epoch);
    const plan = this.bufferPlan(epoch, total);
    for (let i = 0; i < start; i++) plan.next();
    let coordinator: ShardCoordinator | null = null;
    const stream = new ShardStream(
      this.config.shards,
      pieces,
      plan,
      plan.resumeState(),
      this.config.rules,
      this.config.retry,
      this.config.readAhead,
      () => coordinator?.pump(),
      startAt,
      (this.imageBuffers ??= new ImageBuffers(this.config.budget.streams - STREAM_CHUNKS, this.config.rules.maxSampleBytes)),
    );
    coordinator = new ShardCoordinator(this.pool, this.options, stream, this.arena, epoch, total - start);
    const current = { coordinator, stream };
    this.current = current;
    this.lastStream = stream;
    const open = { epoch, finished: false };
    this.openEpoch = open;
    const consumer = new Consumer(coordinator, this.pool.ring, coordinator, this.options, start, () => this.batchPool.take());
    this.counted = { epochs: epoch + 1, coordinator, consumer };
    stream.start();
    try {
      for await (const batch of consumer.batches()) {
        this.batchPool.lend(batch);
        yield batch;
        await this.batchPool.reclaim();
      }
      open.finished = true;
    } finally {
      await coordinator.join();
      await stream.stop();
      this.arena.reset();
      if (this.current === current) this.current = null;
    }
  }

  private async stopCurrent(): Promise<void> {
    const current = this.current;
    if (current === null) return;
    await current.coordinator.join();
    await current.stream.stop();
  }

  /** Hands a batch's arrays back to be filled again (see `ImageLoader.recycle`). */
  recycle(batch: Batch): void {
    if (batch === null || typeof batch !== 'object' || !ArrayBuffer.isView(batch.images)) {
      throw Errors.invalidOption('batch', 'a batch yielded by this loader', batch === null || typeof batch !== 'object' ? batch : 'an object without images');
    }
    this.batchPool.recycle(batch);
  }

  /** Stops a running epoch, closes its shard stream and ends the worker threads. */
  async close(): Promise<void> {
    this.closed = true;
    this.batchPool.clear();
    await this.stopCurrent();
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function bufferSamples(value: unknown, shuffle: boolean, maxSample: number, budget: number): number {
  if (!shuffle) return 0;
  if (value === undefined || value === 'auto') return Math.max(0, Math.min(AUTO_BUFFER_SAMPLES, Math.floor(budget / 4 / maxSample) - 1));
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) throw Errors.invalidOption('shuffleBuffer', "a number of samples, a size such as '64MiB', or 'auto'", value);
    return value;
  }
  return Math.max(0, Math.floor(parseByteSize('shuffleBuffer', value) / maxSample) - 1);
}

/**
 * WebDataset tar shards as a dataset: local files or `http(s)://` URLs, read front to back as streams, their
 * images decoded by the worker pool into the ring, in fixed-size batches. Samples are grouped by key as
 * WebDataset does (`000123.jpg` + `000123.cls`); per epoch the shard order is drawn from (seed, epoch) and
 * samples pass a bounded shuffle buffer. Sizes come from `shards.json` next to the shards (written by
 * `imgstream pack`); without it, local shards are counted by a first read and remote ones are refused.
 *
 * @example
 * const train = await imageDatasetFromShards('data/train-{000000..000127}.tar', {
 *   imageSize: [224, 224], batchSize: 32, shuffleBuffer: 1000, shard: { count: 4, index: rank },
 * });
 * for await (const batch of train) { ... }
 * await train.close();
 */
export async function imageDatasetFromShards(urls: string | readonly string[], input: ShardDatasetOptions = {}): Promise<ShardLoader> {
  if (input === null || typeof input !== 'object') throw Errors.invalidOption('options', 'an object', input);
  const { shuffleBuffer, rankRemainder, index, classNames, labelMember, labelField, maxSampleBytes, retries, readTimeoutMs, validationSplit, subset, ...loaderOptions } =
    input;
  if (validationSplit !== undefined && validationSplit !== null) {
    throw Errors.invalidOption('validationSplit', 'null for shards (pack the validation set as shards of its own)', validationSplit);
  }
  if (subset !== undefined && subset !== null) throw Errors.invalidOption('subset', 'null for shards', subset);
  const list = expandShardUrls(urls);
  const retry: RetryPolicy = {
    ...DEFAULT_RETRY,
    retries: retries === undefined ? DEFAULT_RETRY.retries : nonNegativeInteger('retries', retries),
    idleTimeoutMs: readTimeoutMs === undefined ? DEFAULT_RETRY.idleTimeoutMs : nonNegativeInteger('readTimeoutMs', readTimeoutMs) || DEFAULT_RETRY.idleTimeoutMs,
  };
  const remainder = oneOf<RankRemainder>('rankRemainder', rankRemainder ?? 'repeat', ['repeat', 'drop']);
  const member = oneOf<LabelMember>('labelMember', labelMember ?? 'auto', ['auto', ...LABEL_EXTENSIONS]);
  if (labelField !== undefined && (typeof labelField !== 'string' || labelField === '')) throw Errors.invalidOption('labelField', 'a non-empty string', labelField);
  const sampleCap = parseByteSize('maxSampleBytes', maxSampleBytes ?? '32MiB');
  if (classNames !== undefined && classNames !== null && (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string'))) {
    throw Errors.invalidOption('classNames', 'an array of class names', classNames);
  }
  if (index !== undefined && index !== null && typeof index !== 'string') throw Errors.invalidOption('index', 'a path or URL of a shards.json', index);

  const resolved = await resolveShards(list, index, retry);
  const { shards } = resolved;
  const names = classNames ?? resolved.index?.classNames ?? [];
  const shard = loaderOptions.shard;
  if (shard && typeof shard === 'object' && Number.isInteger(shard.count) && shard.count > shards.length) {
    throw Errors.invalidOption(
      'shard.count',
      `at most ${shards.length} ranks: each rank reads whole shards, and there are ${shards.length} (split the data into more shards with imgstream pack --samples-per-shard)`,
      shard.count,
    );
  }
  const labelMode = loaderOptions.labelMode === undefined ? 'int' : loaderOptions.labelMode;
  const labeled = labelMode !== null;
  const emptyIndex = new FileIndex({
    pathBytes: new SharedArrayBuffer(0),
    pathOffsets: new SharedArrayBuffer(8),
    labels: labeled ? new Int32Array(0) : null,
    classNames: names,
    root: null,
  });
  if ((labelMode === 'categorical' || labelMode === 'binary') && names.length === 0) {
    throw Errors.optionConflict(`Expected classNames (from the shard index or the classNames option) for labelMode '${labelMode}' but found none`);
  }

  const counts = shards.map((s) => s.nsamples);
  const largest = Math.max(1, ...shards.map((s) => s.maxSampleBytes || sampleCap));
  const maxSample = Math.min(sampleCap, largest);
  const totalSamples = counts.reduce((a, b) => a + b, 0);
  // No larger than the largest sample staged: members over maxSampleBytes are skipped, never staged.
  const meanSample = Math.max(1, Math.min(maxSample, shards.reduce((a, s) => a + s.filesize, 0) / Math.max(1, totalSamples)));
  const memoryBudget = parseByteSize('memoryBudget', loaderOptions.memoryBudget ?? '256MiB');
  const shuffle = loaderOptions.shuffle ?? true;
  let samples = bufferSamples(shuffleBuffer, shuffle === true, maxSample, memoryBudget);
  const readAhead = Math.max(1, Math.min(READ_AHEAD, Math.floor(memoryBudget / 8 / maxSample)));
  const shuffleBytes = (samples + 1 + readAhead) * maxSample;
  const streamBytes = STREAM_CHUNKS + imageBuffersBytes(memoryBudget);
  const rest = memoryBudget - shuffleBytes - streamBytes;
  const resolveWith = (pixels: number, stagingBytes: number): ResolvedOptions => {
    try {
      return resolveOptions({ ...loaderOptions, rankRemainder: remainder, memoryBudget: Math.max(1, pixels) }, emptyIndex, [], Math.max(1, totalSamples));
    } catch (err) {
      if (err instanceof ImgstreamError && err.code === 'ERR_OPTION' && err.message.includes('for memoryBudget')) {
        const need = /at least (\S+)/.exec(err.message)?.[1] ?? 'more';
        throw Errors.invalidOption(
          'memoryBudget',
          `room for the ring and batches (at least ${need}) on top of the shuffle buffer (${bytes.format(shuffleBytes)}: ` +
            `${samples} samples + ${1 + readAhead} read ahead, of up to ${bytes.format(maxSample)}; shrink it with shuffleBuffer), the staging arena ` +
            `(${bytes.format(stagingBytes)}) and the shard stream (${bytes.format(streamBytes)})`,
          loaderOptions.memoryBudget ?? '256MiB',
        );
      }
      throw err;
    }
  };
  const first = resolveWith(rest - 2 * maxSample, 2 * maxSample);
  const staging = Math.max(2 * maxSample, Math.ceil(first.capacity * meanSample * 1.25));
  const final = resolveWith(rest - staging, staging);
  samples = Math.min(samples, totalSamples);
  const options: ResolvedOptions = Object.freeze({ ...final, memoryBudget });
  const config: ShardConfig = Object.freeze({
    shards,
    counts,
    classNames: Object.freeze([...names]),
    rules: Object.freeze({
      imageExtensions: IMAGE_EXTENSIONS,
      labeled,
      labelMember: member,
      labelField: labelField ?? 'label',
      classNames: names,
      maxSampleBytes: maxSample,
    }),
    retry: Object.freeze(retry),
    remainder,
    bufferSamples: samples,
    readAhead,
    budget: Object.freeze({
      shuffleBuffer: shuffleBytes,
      staging,
      streams: streamBytes,
      pixels: final.capacity * final.slotBytes + 2 * final.batchSize * final.sampleBytes,
    }),
  });
  return new ShardLoader(options, config);
}
