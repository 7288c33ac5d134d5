/**
 * The epoch stream of a bucket of class folders: the index's objects in the epoch's order, fetched one GET
 * each with up to `inFlight` requests ahead of the consumer (so that per-request latency overlaps), and
 * handed out in order as encoded samples for the staging arena. The bytes it holds are bounded twice: by
 * the number of objects requested ahead and by `maxBytes` (no new request starts while that much is held).
 * An object that cannot be read becomes a skip record naming its URL; rejected credentials stop the epoch.
 */
import { ImgstreamError, type SkippedSample } from '../errors.js';
import type { FileIndex } from '../file-index.js';
import type { S3Context } from './client.js';
import { getObjectBytes } from './object-read.js';
import { parseS3Url } from './url.js';

/** One sample in epoch order: its encoded bytes and label, or why it was skipped. */
export type ObjectItem =
  | { ok: true; read: number; sampleId: number; path: string; image: Buffer; label: number }
  | { ok: false; read: number; sampleId: number; skip: SkippedSample };

export interface ObjectStreamOptions {
  /** GETs in flight or fetched and not yet taken. */
  inFlight: number;
  /** Bytes of fetched objects held before no new GET starts. */
  maxBytes: number;
  onRetry?: (reason: string) => void;
}

export class ObjectStream {
  /** Bytes of fetched objects not yet taken. */
  heldBytes = 0;
  /** Requests re-made after a reset, a timeout, throttling or a 5xx. */
  retries = 0;
  private readonly items = new Map<number, ObjectItem>();
  private readonly controller = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private nextStart = 0;
  private nextTake = 0;
  private failure: unknown = null;

  /**
   * @param order - index entries in epoch order (the positions this epoch still delivers).
   * @param onAvailable - called when the next item may have become ready.
   */
  constructor(
    private readonly ctx: S3Context,
    private readonly index: FileIndex,
    private readonly order: Int32Array,
    private readonly opts: ObjectStreamOptions,
    private readonly onAvailable: () => void,
  ) {}

  /** Starts the first requests. */
  start(): void {
    this.fill();
  }

  /** The next item when it has arrived; `null` when not yet or at the end (see `done`). */
  take(): ObjectItem | null {
    if (this.failure !== null) throw this.failure;
    const item = this.items.get(this.nextTake);
    if (item === undefined) return null;
    this.items.delete(this.nextTake);
    this.nextTake += 1;
    if (item.ok) this.heldBytes -= item.image.length;
    this.fill();
    return item;
  }

  get done(): boolean {
    return this.nextTake >= this.order.length;
  }

  /** Aborts the requests in flight and waits for them to end. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled([...this.running]);
  }

  private fill(): void {
    const signal = this.controller.signal;
    while (
      !signal.aborted &&
      this.failure === null &&
      this.nextStart < this.order.length &&
      this.nextStart - this.nextTake < this.opts.inFlight &&
      // The object the consumer waits for always starts, whatever is held.
      (this.heldBytes < this.opts.maxBytes || this.nextStart === this.nextTake)
    ) {
      const read = this.nextStart++;
      const run = this.fetch(read, signal);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }

  private async fetch(read: number, signal: AbortSignal): Promise<void> {
    const entry = this.order[read];
    const path = this.index.path(entry);
    const label = this.index.labels === null ? -1 : this.index.labels[entry];
    let item: ObjectItem;
    try {
      const image = await getObjectBytes(this.ctx, parseS3Url(path), {
        signal,
        onRetry: (reason) => {
          this.retries += 1;
          this.opts.onRetry?.(reason);
        },
      });
      if (signal.aborted) return;
      item =
        image.length === 0
          ? { ok: false, read, sampleId: entry, skip: { path, code: 'ERR_EMPTY_FILE', message: 'object is empty (0 bytes)' } }
          : { ok: true, read, sampleId: entry, path, image, label };
    } catch (err) {
      if (signal.aborted) return;
      if (!(err instanceof ImgstreamError) || err.code === 'ERR_S3_AUTH') {
        this.failure = err;
        this.controller.abort();
        this.onAvailable();
        return;
      }
      item = { ok: false, read, sampleId: entry, skip: { path, code: err.code, message: err.message } };
    }
    this.items.set(read, item);
    if (item.ok) this.heldBytes += item.image.length;
    if (read === this.nextTake) this.onAvailable();
  }
}
