/**
 * Shard byte streams, keyed by URL scheme: an opener turns `(url, offset)` into the shard's bytes from that
 * offset on. `readShard` drives an opener with bounded retries and exponential backoff, and resumes a stream
 * that broke mid-shard from the byte it had reached (a `Range` request over HTTP), so that a dropped
 * connection costs a reconnect, never a sample. Local files (plain paths or `file:` URLs) and `http:`/`https:`
 * are built in; another scheme is one more opener (`registerOpener('s3:', ...)`).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { ImgstreamError } from '../errors.js';
import { socketGet } from './http-socket.js';

/** The bytes of a shard from the offset asked for, and the shard's whole size when the store says. */
export interface OpenedShard {
  /**
   * Chunks from `offset` on, in order. A chunk's bytes need only stay as they are until the next chunk is asked
   * for (a reader copies what it keeps). Breaking out of the iteration must release the connection or file.
   */
  body: AsyncIterable<Uint8Array>;
  /** Size of the whole shard in bytes (not of the rest), or `null` when unknown. */
  size: number | null;
}

/**
 * Opens shards of one URL scheme. The contract, for every opener:
 * - `open(url, offset)` yields exactly the bytes from `offset` to the end (a server that ignores a range
 *   request must be handled inside the opener, by skipping);
 * - a failure that a new attempt may cure (connection reset, timeout, throttling, 5xx) is thrown as a
 *   {@link ShardReadError} with `retryable: true`, at open time or while the body is read; anything else
 *   (not found, forbidden, bad request) with `retryable: false`;
 * - `signal` aborts the open and the body.
 */
export interface ShardOpener {
  open(url: string, offset: number, signal: AbortSignal): Promise<OpenedShard>;
}

/** A shard that cannot be read (now, or at all). Messages never hold credentials (see {@link displayUrl}). */
export class ShardReadError extends Error {
  readonly retryable: boolean;
  /** The HTTP status, when there was one. */
  readonly status: number | null;

  constructor(message: string, options: { retryable: boolean; status?: number | null; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShardReadError';
    this.retryable = options.retryable;
    this.status = options.status ?? null;
  }
}

/** How hard `readShard` tries. */
export interface RetryPolicy {
  /** Failed attempts tolerated per shard (opening or mid-stream), each followed by a resumed request. */
  retries: number;
  /** First backoff; each further one doubles, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A stream that delivers no byte for this long is dropped and resumed (counts as a failed attempt). */
  idleTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ retries: 5, baseDelayMs: 100, maxDelayMs: 5000, idleTimeoutMs: 30_000 });

/**
 * A URL as messages show it: no user name or password, and no query string (which may hold a signature or
 * a token); a local path as given.
 */
export function displayUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return url;
  try {
    const u = new URL(url);
    const query = u.search === '' ? '' : '?…';
    return `${u.protocol}//${u.host}${u.pathname}${query}`;
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** `'file:'` for a plain path, else the URL's scheme with its colon (`'http:'`, `'s3:'`), lower case. */
export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m === null ? 'file:' : `${m[1].toLowerCase()}:`;
}

const fileOpener: ShardOpener = {
  async open(url, offset, signal) {
    const file = url.startsWith('file:') ? fileURLToPath(url) : url;
    let size: number;
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw new ShardReadError(`not a regular file: ${url}`, { retryable: false });
      size = st.size;
    } catch (err) {
      if (err instanceof ShardReadError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ShardReadError(code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`, {
        retryable: false,
        cause: err,
      });
    }
    // 1 MiB reads: few calls per shard, and no more than a couple of them buffered ahead.
    const stream = createReadStream(file, { start: offset, highWaterMark: 1 << 20, signal });
    return { body: stream, size };
  },
};

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** The body of a response from the byte `skip` on (a server that answered a range request with 200). */
async function* skipBytes(body: AsyncIterable<Uint8Array>, skip: number): AsyncGenerator<Uint8Array> {
  let left = skip;
  for await (const chunk of body) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/** At most this many redirects are followed per request. */
const MAX_REDIRECTS = 5;

/** A response's head as the opener judges it, and its body; `discard` lets go of a body not read. */
interface HttpHead {
  status: number;
  statusMessage: string;
  header(name: string): string | undefined;
  body: AsyncIterable<Uint8Array>;
  discard(): void;
}

/** A GET with Node's `http`/`https` client (any framing, TLS). */
function nodeGet(target: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpHead> {
  return new Promise((resolve, reject) => {
    const lib = target.startsWith('https:') ? https : http;
    const request = lib.get(target, { headers, signal }, (response) => {
      resolve({
        status: response.statusCode ?? 0,
        statusMessage: response.statusMessage ?? '',
        header: (name) => {
          const value = response.headers[name];
          return Array.isArray(value) ? value[value.length - 1] : value;
        },
        // A body cut short surfaces as an 'aborted' error here: retryable, as any broken stream.
        body: response,
        discard: () => response.destroy(),
      });
    });
    request.on('error', reject);
  });
}

async function* noBody(): AsyncGenerator<Uint8Array> {}

/** A plain `http:` GET on a socket of its own (`http-socket`), or with Node's client for a framing it leaves. */
async function plainGet(target: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpHead> {
  const response = await socketGet(new URL(target), headers, signal);
  const body = response.body;
  // A body in a transfer coding is asked for again from Node's client; a redirect's or an error's is not needed.
  if (body === null && (response.status === 200 || response.status === 206)) return nodeGet(target, headers, signal);
  return {
    status: response.status,
    statusMessage: response.statusMessage,
    header: (name) => response.headers[name],
    body: body ?? noBody(),
    discard: () => void body?.return?.(),
  };
}

/**
 * `http:`/`https:`: one GET per attempt, `Range: bytes=<offset>-` when resuming. A plain `http:` body is read
 * from the socket into slabs with no per-chunk work of Node's `http` client (`http-socket`); `https:`, and a
 * body in a transfer coding, go through Node's `http`/`https` modules. (`fetch` would do, but its web
 * streams cost the main thread several times more per byte, which a loader decoding on every core cannot
 * spare.)
 */
const httpOpener: ShardOpener = {
  async open(url, offset, signal) {
    let target = url;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    for (let redirects = 0; ; redirects++) {
      let response: HttpHead;
      try {
        response = await (target.startsWith('http:') ? plainGet(target, headers, signal) : nodeGet(target, headers, signal));
      } catch (err) {
        if (signal.aborted) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        throw new ShardReadError(`request failed (${code ?? (err as Error).message})`, { retryable: true, cause: err });
      }
      const status = response.status;
      const location = response.header('location');
      if (status >= 300 && status < 400 && location !== undefined && redirects < MAX_REDIRECTS) {
        response.discard();
        target = new URL(location, target).toString();
        continue;
      }
      if (status !== 200 && status !== 206) {
        response.discard();
        throw new ShardReadError(`HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}`, {
          retryable: RETRYABLE_STATUS.has(status),
          status,
        });
      }
      const contentRange = response.header('content-range') ?? '';
      if (status === 206) {
        const start = /^bytes (\d+)-/.exec(contentRange);
        if (start === null || Number(start[1]) !== offset) {
          response.discard();
          throw new ShardReadError(`HTTP 206 for the wrong range (asked from byte ${offset})`, { retryable: false, status });
        }
      }
      const length = Number(response.header('content-length') ?? NaN);
      const total = /\/(\d+)$/.exec(contentRange);
      const size = total !== null ? Number(total[1]) : Number.isFinite(length) ? length + (status === 206 ? offset : 0) : null;
      const body = response.body;
      return { body: status === 200 && offset > 0 ? skipBytes(body, offset) : body, size };
    }
  },
};

const openers = new Map<string, ShardOpener>([
  ['file:', fileOpener],
  ['http:', httpOpener],
  ['https:', httpOpener],
]);

/** Makes `scheme` (`'s3:'`, with its colon) readable wherever shards are accepted. */
export function registerOpener(scheme: string, opener: ShardOpener): void {
  openers.set(scheme.toLowerCase(), opener);
}

/** The opener for `url`'s scheme, or `null` when none is registered. */
export function openerFor(url: string): ShardOpener | null {
  return openers.get(schemeOf(url)) ?? null;
}

/** Sleeps `ms`, or less when `signal` aborts. */
function backoff(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Counters of one shard read, for stats and tests. */
export interface ReadCounters {
  /** Requests re-made after a failure (each from the byte reached). */
  resumes: number;
}

/**
 * The bytes of the shard at `url` from byte `start` (default 0) to its end, surviving up to `policy.retries` failures: each retry
 * waits (100 ms, 200 ms, ... by default) and reopens the shard from the byte reached. Throws a
 * {@link ShardReadError} once a failure is not retryable or the retries are spent; a stream that ends
 * before the size its store announced counts as a failure too.
 */
export async function* readShard(
  url: string,
  opener: ShardOpener,
  policy: RetryPolicy,
  signal: AbortSignal,
  counters: ReadCounters = { resumes: 0 },
  start = 0,
): AsyncGenerator<Uint8Array, void, undefined> {
  let reached = start;
  let failures = 0;
  for (;;) {
    const attempt = new AbortController();
    const abort = () => attempt.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    // A watchdog per attempt: silence past the limit while opening or waiting for a chunk aborts it.
    let timeOut: (err: Error) => void = () => undefined;
    const silent = new Promise<never>((_, reject) => (timeOut = reject));
    silent.catch(() => undefined);
    const expire = () => {
      timeOut(new ShardReadError(`no data for ${policy.idleTimeoutMs} ms`, { retryable: true }));
      attempt.abort();
    };
    let idle = setTimeout(expire, policy.idleTimeoutMs);
    try {
      const opened = await Promise.race([opener.open(url, reached, attempt.signal), silent]);
      const iterator = opened.body[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await Promise.race([iterator.next(), silent]);
          clearTimeout(idle);
          if (next.done) break;
          reached += next.value.length;
          // The clock stops while the reader holds the chunk: a slow consumer is not a silent server.
          yield next.value;
          idle = setTimeout(expire, policy.idleTimeoutMs);
        }
      } finally {
        // Not awaited: after a time-out the abandoned read settles only once the abort reaches it.
        void iterator.return?.()?.catch(() => undefined);
      }
      if (opened.size !== null && reached < opened.size) {
        throw new ShardReadError(`connection closed at byte ${reached} of ${opened.size}`, { retryable: true });
      }
      return;
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? err;
      // An opener's own named error (rejected credentials) is no fault of this shard: it ends the run as it is.
      if (err instanceof ImgstreamError) throw err;
      const e =
        err instanceof ShardReadError
          ? err
          : new ShardReadError(`read failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err)})`, {
              retryable: true,
              cause: err,
            });
      failures += 1;
      if (!e.retryable || failures > policy.retries) {
        if (e.retryable) throw new ShardReadError(`${e.message}; gave up after ${policy.retries} retries`, { retryable: false, status: e.status, cause: e });
        throw e;
      }
      counters.resumes += 1;
      await backoff(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - 1)), signal);
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', abort);
    }
  }
}
