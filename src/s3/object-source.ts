/**
 * One GET per object with many in flight: the objects of a list are fetched through a sliding window of
 * `inFlight` requests and handed out in list order, so that per-request latency overlaps instead of adding
 * up. An object that cannot be read is handed out as its named error (the caller's `onError` decides);
 * rejected credentials stop the whole read.
 */
import { ImgstreamError } from '../errors.js';
import type { S3Context } from './client.js';
import { getObjectBytes } from './object-read.js';
import { parseS3Url } from './url.js';

export type FetchedObject = { item: number; url: string; bytes: Buffer; error: null } | { item: number; url: string; bytes: null; error: ImgstreamError };

export interface FetchObjectsOptions {
  /** GETs in flight at once. */
  inFlight: number;
  signal?: AbortSignal;
  onRetry?: (reason: string) => void;
}

/**
 * The objects `urlOf(items[0])`, `urlOf(items[1])`, ... in that order, at most `inFlight` requested ahead of
 * the one the caller is waiting for.
 */
export async function* fetchObjects(
  ctx: S3Context,
  items: ArrayLike<number>,
  urlOf: (item: number) => string,
  opts: FetchObjectsOptions,
): AsyncGenerator<FetchedObject, void, undefined> {
  const window: Promise<FetchedObject>[] = [];
  let next = 0;
  const controller = new AbortController();
  const onOuter = () => controller.abort();
  opts.signal?.addEventListener('abort', onOuter, { once: true });
  const start = (i: number): Promise<FetchedObject> => {
    const item = items[i];
    const url = urlOf(item);
    return getObjectBytes(ctx, parseS3Url(url), { signal: controller.signal, onRetry: opts.onRetry }).then(
      (bytes) => ({ item, url, bytes, error: null }),
      (err: unknown) => {
        if (err instanceof ImgstreamError && err.code !== 'ERR_S3_AUTH') return { item, url, bytes: null, error: err };
        throw err;
      },
    );
  };
  try {
    while (next < items.length && window.length < opts.inFlight) window.push(start(next++));
    while (window.length > 0) {
      const done = await (window.shift() as Promise<FetchedObject>);
      if (next < items.length) window.push(start(next++));
      if (controller.signal.aborted) return;
      yield done;
    }
  } finally {
    controller.abort();
    opts.signal?.removeEventListener('abort', onOuter);
    // Requests still in flight end on the abort; their results (or errors) are dropped.
    await Promise.allSettled(window);
  }
}
