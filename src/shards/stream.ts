/**
 * The shard stream of one epoch: reads the rank's pieces front to back (one shard at a time, through its
 * opener), turns member groups into samples, and holds them until the buffer plan emits them. It reads ahead
 * only as far as the plan can need (the shuffle buffer's `N` samples plus the one arriving) and `readAhead`
 * samples more, so the encoded bytes it holds are bounded by `(N + 1 + readAhead) * maxSampleBytes`. A shard that cannot be read, or ends before its
 * index count, turns its missing samples into failures naming the shard; the epoch goes on.
 */
import { ImgstreamError, type SkippedSample } from '../errors.js';
import { displayUrl, openerFor, readShard, ShardReadError, type ReadCounters, type RetryPolicy } from './openers.js';
import type { BufferPlan, Piece } from './plan.js';
import { keepsMember, toSample, type SampleRules } from './sample.js';
import { readSamples } from './tar-samples.js';

/** One emitted sample: encoded bytes and label, or a skip record. */
export type StreamItem =
  | { ok: true; read: number; sampleId: number; path: string; image: Buffer; label: number }
  | { ok: false; read: number; sampleId: number; skip: SkippedSample };

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
  ) {}

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
      this.heldBytes -= item.image.length;
      this.wakeReader?.();
    }
    return item;
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
      this.heldBytes += item.image.length;
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
    const needed = this.pieces.filter((piece) => {
      const end = piece.firstRead + piece.limit;
      if (end > this.resume.frontier) return true;
      for (let r = piece.firstRead; r < end; r++) if (this.resume.buffered.has(r)) return true;
      return false;
    });
    // The next shard is opened while this one is read, so that its request's round trip is not waited for.
    let next = needed.length > 0 ? this.open(needed[0]) : null;
    for (let i = 0; i < needed.length; i++) {
      if (this.controller.signal.aborted) return;
      const bytes = next;
      next = i + 1 < needed.length ? this.open(needed[i + 1]) : null;
      await this.readPiece(needed[i], bytes);
    }
  }

  /** The piece's byte stream with its first chunk already asked for; `null` when no opener takes its URL. */
  private open(piece: Piece): AsyncIterable<Uint8Array> | null {
    const url = this.shards[piece.shard].url;
    const opener = openerFor(url);
    if (opener === null) return null;
    const bytes = readShard(url, opener, this.retry, this.controller.signal, this.counters);
    const first = bytes.next();
    first.catch(() => undefined);
    return (async function* prefetched() {
      const head = await first;
      if (head.done) return;
      yield head.value;
      yield* bytes;
    })();
  }

  private async readPiece(piece: Piece, bytes: AsyncIterable<Uint8Array> | null): Promise<void> {
    const shard = this.shards[piece.shard];
    const shown = displayUrl(shard.url);
    let ordinal = 0;
    let failure: { code: 'ERR_SHARD_READ'; message: string } | null = null;
    if (bytes === null) failure = { code: 'ERR_SHARD_READ', message: `no opener for ${shown}` };
    else {
      const signal = this.controller.signal;
      const keep = (ext: string) => keepsMember(this.rules, ext);
      try {
        for await (const group of readSamples(bytes, { keep, maxMemberBytes: this.rules.maxSampleBytes })) {
          if (ordinal >= piece.limit) break;
          const read = piece.firstRead + ordinal;
          const sampleId = shard.firstSample + ordinal;
          ordinal += 1;
          if (!this.wanted(read)) continue;
          const path = `${shown}#${group.key}`;
          const outcome = toSample(group, this.rules);
          this.put(
            outcome.ok
              ? { ok: true, read, sampleId, path, image: outcome.image, label: outcome.label }
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
