/**
 * The shard stream of one epoch: reads the rank's pieces front to back (one shard at a time, through its
 * opener), turns member groups into samples, and holds them until the buffer plan emits them. It reads ahead
 * only as far as the plan can need (the shuffle buffer's `N` samples plus the one arriving) and `readAhead`
 * samples more, so the encoded bytes it holds are bounded by `(N + 1 + readAhead) * maxSampleBytes`. A shard that cannot be read, or ends before its
 * index count, turns its missing samples into failures naming the shard; the epoch goes on.
 */
import { ImgstreamError, type SkippedSample } from '../errors.js';
import { displayUrl, openerFor, readShard, schemeOf, ShardReadError, type ReadCounters, type RetryPolicy } from './openers.js';
import type { BufferPlan, Piece } from './plan.js';
import { keepsMember, LABEL_EXTENSIONS, toSample, type SampleRules } from './sample.js';
import { heldBytesOf, IMAGE_BUFFERS_BYTES, ImageBuffers, type EncodedBytes } from './staging.js';
import { fileEntries, localFile, streamEntries, type TarEntry } from './tar-entries.js';
import { groupSamples, type SampleMember } from './tar-samples.js';

/** One emitted sample: encoded bytes (or where they are in a local shard) and label, or a skip record. */
export type StreamItem =
  | { ok: true; read: number; sampleId: number; path: string; image: EncodedBytes; label: number }
  | { ok: false; read: number; sampleId: number; skip: SkippedSample };

/** Where a resumed reader starts in a piece: the sample `ordinal` of it, whose first header is at byte `byte`. */
export interface PieceStart {
  piece: number;
  ordinal: number;
  byte: number;
}

/** Pieces whose samples' byte offsets are kept, counting back from the one being read (for `progress`). */
const KEPT_START_PIECES = 64;

export interface StreamShard {
  url: string;
  /** Number of the shard's first sample in the whole dataset (fixes a sample's augmentation draw). */
  firstSample: number;
}

export class ShardStream {
  readonly counters: ReadCounters = { resumes: 0 };
  /** Bytes of encoded samples held (read, not yet taken), and the most held at once. */
  heldBytes = 0;
  peakHeldBytes = 0;
  private readonly items = new Map<number, StreamItem>();
  private goodHeld = 0;
  private nextRead: number | null = null;
  private exhausted = false;
  private readonly controller = new AbortController();
  private wakeReader: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** Set when reading stopped on an error that is not a shard's (a bug, or a stop). */
  private failure: unknown = null;

  constructor(
    private readonly shards: readonly StreamShard[],
    private readonly pieces: readonly Piece[],
    private readonly plan: BufferPlan,
    /** Read numbers below `frontier` to skip, except those in `buffered` (a resumed epoch). */
    private readonly resume: { frontier: number; buffered: Set<number> },
    private readonly rules: SampleRules,
    private readonly retry: RetryPolicy,
    /** Samples read beyond what the buffer plan needs, so that the coordinator finds whole slices ready. */
    private readonly readAhead: number,
    private readonly onAvailable: () => void,
    /** A resumed epoch's place in the first piece it needs: read from that byte on instead of the shard's start. */
    private readonly startAt: PieceStart | null = null,
    /** Where the images read are copied to (the loader's, kept from epoch to epoch). */
    private readonly buffers = new ImageBuffers(IMAGE_BUFFERS_BYTES),
  ) {}

  /** Byte offsets of each read sample's first header, by piece (the last {@link KEPT_START_PIECES} pieces read). */
  private readonly starts = new Map<number, number[]>();

  /** The byte offset of sample `ordinal` of piece `piece` in its shard, when it is known (it was read, recently). */
  sampleStart(piece: number, ordinal: number): number | null {
    if (ordinal === 0) return 0;
    return this.starts.get(piece)?.[ordinal] ?? null;
  }

  /** Starts reading in the background. */
  start(): void {
    this.running ??= this.readAll().catch((err: unknown) => {
      if (!this.controller.signal.aborted) this.failure = err;
    }).finally(() => this.onAvailable());
  }

  /** The next item in plan order when it has been read; `null` when not yet (or at the end: see `done`). */
  take(): StreamItem | null {
    if (this.failure !== null) throw this.failure;
    if (this.nextRead === null) {
      const next = this.plan.next();
      if (next === -1) {
        this.exhausted = true;
        return null;
      }
      this.nextRead = next;
    }
    const item = this.items.get(this.nextRead);
    if (item === undefined) return null;
    this.items.delete(this.nextRead);
    this.nextRead = null;
    if (item.ok) {
      this.goodHeld -= 1;
      this.heldBytes -= heldBytesOf(item.image);
      this.wakeReader?.();
    }
    return item;
  }

  /** Takes back the bytes of an item taken, once nothing reads them (copied into the arena, or decoded and released). */
  recycle(image: Uint8Array): void {
    this.buffers.put(image);
  }

  /** Whether every item of the epoch has been taken. */
  get done(): boolean {
    return this.exhausted;
  }

  /** Stops reading and releases the open shard. */
  async stop(): Promise<void> {
    this.controller.abort();
    this.wakeReader?.();
    await this.running;
  }

  private wanted(read: number): boolean {
    return read >= this.resume.frontier || this.resume.buffered.has(read);
  }

  private put(item: StreamItem): void {
    this.items.set(item.read, item);
    if (item.ok) {
      this.goodHeld += 1;
      this.heldBytes += heldBytesOf(item.image);
      this.peakHeldBytes = Math.max(this.peakHeldBytes, this.heldBytes);
    }
    if (item.read === this.nextRead || this.nextRead === null) this.onAvailable();
  }

  /** Waits while the buffer holds all the plan can need, and `readAhead` more. */
  private async room(): Promise<void> {
    while (this.goodHeld > this.plan.size + this.readAhead && !this.controller.signal.aborted) {
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
      this.wakeReader = null;
    }
  }

  private async readAll(): Promise<void> {
    const needed = this.pieces.map((piece, index) => ({ piece, index })).filter(({ piece }) => {
      const end = piece.firstRead + piece.limit;
      if (end > this.resume.frontier) return true;
      for (let r = piece.firstRead; r < end; r++) if (this.resume.buffered.has(r)) return true;
      return false;
    });
    const startOf = (index: number) => (this.startAt !== null && this.startAt.piece === index ? this.startAt : null);
    // The next shard is opened while this one is read, so that its request's round trip is not waited for.
    let next = needed.length > 0 ? this.open(needed[0].piece, startOf(needed[0].index)) : null;
    for (let i = 0; i < needed.length; i++) {
      if (this.controller.signal.aborted) return;
      const entries = next;
      next = i + 1 < needed.length ? this.open(needed[i + 1].piece, startOf(needed[i + 1].index)) : null;
      await this.readPiece(needed[i].piece, needed[i].index, entries, startOf(needed[i].index));
    }
  }

  /**
   * The piece's tar entries from its start (or a resumed reader's byte): a local shard's by seeking over the
   * image data (read later, straight into shared memory), another's through its opener with the first chunk
   * already asked for; `null` when no opener takes its URL.
   */
  private open(piece: Piece, start: PieceStart | null): AsyncIterable<TarEntry> | null {
    const url = this.shards[piece.shard].url;
    const byte = start?.byte ?? 0;
    if (schemeOf(url) === 'file:') return fileEntries(localFile(url), byte);
    const opener = openerFor(url);
    if (opener === null) return null;
    const bytes = readShard(url, opener, this.retry, this.controller.signal, this.counters, byte);
    let first: Promise<IteratorResult<Uint8Array>> | null = bytes.next();
    first.catch(() => undefined);
    // The first chunk asked for already, the rest straight from the reader (no generator wrapped around each chunk).
    const prefetched: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const head = first ?? bytes.next();
          first = null;
          return head;
        },
        return: (value?: unknown) => bytes.return(value as undefined),
      }),
    };
    return streamEntries(prefetched, byte, (n) => this.buffers.get(n));
  }

  /** A sample's image as the coordinator stages it: the bytes read, or (local shards) where they are. */
  private encoded(url: string, image: SampleMember): EncodedBytes {
    if (image.data === null) return { file: localFile(url), offset: image.offset, length: image.size };
    return image.data.length === 1 ? image.data[0] : { chunks: image.data, length: image.size };
  }

  private async readPiece(piece: Piece, index: number, entries: AsyncIterable<TarEntry> | null, start: PieceStart | null): Promise<void> {
    const shard = this.shards[piece.shard];
    const shown = displayUrl(shard.url);
    let ordinal = start?.ordinal ?? 0;
    let failure: { code: 'ERR_SHARD_READ'; message: string } | null = null;
    if (entries === null) failure = { code: 'ERR_SHARD_READ', message: `no opener for ${shown}` };
    else {
      const signal = this.controller.signal;
      const local = schemeOf(shard.url) === 'file:';
      // Local images are not read here: the coordinator reads each one into the staging arena when it is due.
      const keep = local ? (ext: string) => this.rules.labeled && (LABEL_EXTENSIONS as readonly string[]).includes(ext) : (ext: string) => keepsMember(this.rules, ext);
      const starts: number[] = [];
      this.starts.set(index, starts);
      this.starts.delete(index - KEPT_START_PIECES);
      try {
        const seen = start !== null && local ? await keysBefore(localFile(shard.url), start.byte) : undefined;
        for await (const group of groupSamples(entries, { keep, maxMemberBytes: this.rules.maxSampleBytes }, seen)) {
          if (ordinal >= piece.limit) break;
          const read = piece.firstRead + ordinal;
          const sampleId = shard.firstSample + ordinal;
          starts[ordinal] = group.start;
          ordinal += 1;
          if (!this.wanted(read)) continue;
          const path = `${shown}#${group.key}`;
          const outcome = toSample(group, this.rules);
          this.put(
            outcome.ok
              ? { ok: true, read, sampleId, path, image: this.encoded(shard.url, outcome.image), label: outcome.label }
              : { ok: false, read, sampleId, skip: { path, code: outcome.code, message: outcome.message } },
          );
          await this.room();
          if (signal.aborted) return;
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ImgstreamError) throw err;
        const reason = err instanceof ShardReadError ? err.message : `not a readable tar (${(err as Error).message ?? String(err)})`;
        failure = { code: 'ERR_SHARD_READ', message: `shard ${shown} broke after ${ordinal} of ${piece.limit} samples: ${reason}` };
      }
      if (failure === null && ordinal < piece.limit) {
        failure = { code: 'ERR_SHARD_READ', message: `shard ${shown} ended after ${ordinal} of the ${piece.limit} samples its index lists` };
      }
    }
    if (failure === null) return;
    for (let o = ordinal; o < piece.limit; o++) {
      const read = piece.firstRead + o;
      if (!this.wanted(read)) continue;
      this.put({ ok: false, read, sampleId: shard.firstSample + o, skip: { path: `${shown}#sample-${o}`, ...failure } });
    }
  }
}

/** The keys of a local shard's samples before byte `end` (headers only): a resumed reader still knows a repeated key. */
async function keysBefore(file: string, end: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for await (const group of groupSamples(stopAt(fileEntries(file, 0), end), { keep: () => false, maxMemberBytes: 0 })) seen.add(group.key);
  return seen;
}

async function* stopAt(entries: AsyncIterable<TarEntry>, end: number): AsyncGenerator<TarEntry> {
  for await (const entry of entries) {
    if (entry.start >= end) return;
    yield entry;
  }
}
