/**
 * Reading one object: a ranged GET whose body is a stream of chunks. A read that breaks (reset, stall past
 * the timeout, truncated body, throttling, 5xx) is retried with backoff and resumes with `Range` from the
 * byte reached, pinned to the first response's ETag (`If-Match`) so that a changed object is an error, not
 * a splice of two versions. A missing or forbidden object, or rejected credentials, fail at once, named.
 */
import { Errors } from '../errors.js';
import type { S3Context } from './client.js';
import { classifyFailure, TruncatedBody } from './failures.js';
import { backoffDelay, sleep, watchdog } from './retry.js';
import { getObjectDirect, type ObjectResponse } from './signed-get.js';
import { formatS3Url, type S3Location } from './url.js';

export interface ReadObjectOptions {
  /** First byte to read. @default 0 */
  start?: number;
  /** Stops the read (the stream ends early, without an error). */
  signal?: AbortSignal;
  /** Called before each retry, with what went wrong (for stats; never holds a credential). */
  onRetry?: (reason: string) => void;
}

/**
 * The object's bytes from `start` on, chunk by chunk, as they arrive. Chunks are the HTTP stream's own
 * buffers (no copy).
 */
export async function* readObject(ctx: S3Context, loc: S3Location, opts: ReadObjectOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
  const { timeoutMs, retries, backoffMs } = ctx.options;
  const url = formatS3Url(loc);
  let reached = opts.start ?? 0;
  let etag: string | undefined;
  let end: number | null = null;
  let failedAttempts = 0;
  for (;;) {
    if (opts.signal?.aborted) return;
    const dog = watchdog(timeoutMs, opts.signal);
    let body: ObjectResponse['Body'] | undefined;
    let progressed = false;
    try {
      const out = await getObjectDirect(ctx, loc, reached, etag, dog.signal);
      dog.touch();
      body = out.Body;
      etag ??= out.ETag;
      const length = out.ContentLength ?? null;
      if (length !== null) end = reached + length;
      const stream = body as AsyncIterable<Uint8Array>;
      // A watchdog abort ends the request; destroying the body too makes its iterator throw at once.
      const onAbort = () => (body as { destroy?: (e: unknown) => void } | undefined)?.destroy?.(dog.signal.reason);
      dog.signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const chunk of stream) {
          dog.touch();
          reached += chunk.length;
          progressed = true;
          yield chunk;
          if (opts.signal?.aborted) return;
        }
      } finally {
        dog.signal.removeEventListener('abort', onAbort);
      }
      if (dog.signal.aborted && !opts.signal?.aborted) throw dog.signal.reason;
      if (end !== null && reached < end) throw new TruncatedBody(reached, end);
      return;
    } catch (err) {
      if (opts.signal?.aborted) return;
      // Every byte arrived and the connection failed after: nothing is left to resume.
      if (end !== null && reached >= end) return;
      const failure = classifyFailure(dog.signal.aborted ? dog.signal.reason : err, url);
      if (!failure.retry) throw failure.error;
      // Retries are counted per stretch without progress: a long read may survive many separate faults.
      failedAttempts = progressed ? 1 : failedAttempts + 1;
      if (failedAttempts > retries) {
        throw Errors.s3Request(url, `${failure.reason}, still failing after ${retries} retries`);
      }
      opts.onRetry?.(failure.reason);
      await sleep(backoffDelay(failedAttempts - 1, backoffMs), opts.signal);
    } finally {
      dog.stop();
      (body as { destroy?: () => void } | undefined)?.destroy?.();
    }
  }
}

/** The whole object in one buffer (sized from the first response's length), with {@link readObject}'s retries. */
export async function getObjectBytes(ctx: S3Context, loc: S3Location, opts: Omit<ReadObjectOptions, 'start'> = {}): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of readObject(ctx, loc, opts)) {
    parts.push(chunk);
    total += chunk.length;
  }
  return parts.length === 1 ? Buffer.from(parts[0].buffer, parts[0].byteOffset, parts[0].byteLength) : Buffer.concat(parts, total);
}
