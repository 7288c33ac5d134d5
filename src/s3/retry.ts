/**
 * The shared parts of every S3 request's retry: a no-progress timer, backoff delays, and a request that is
 * sent again until it succeeds, fails for good, or runs out of retries.
 */
import { Errors } from '../errors.js';
import type { S3Context } from './client.js';
import { classifyFailure, StallTimeout } from './failures.js';

/** Exponential backoff with jitter: a random delay in [d/2, d], d = base * 2^attempt, at most 10 s. */
export function backoffDelay(attempt: number, baseMs: number): number {
  const d = Math.min(10_000, baseMs * 2 ** attempt);
  return d / 2 + Math.random() * (d / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * An abort signal that fires with a {@link StallTimeout} once `touch()` has not been called for `ms`, or
 * when `outer` aborts. `stop()` clears its timer.
 */
export interface Watchdog {
  signal: AbortSignal;
  touch(): void;
  stop(): void;
}

export function watchdog(ms: number, outer?: AbortSignal): Watchdog {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  const fire = () => controller.abort(new StallTimeout(ms));
  // One timer, pushed back in place on every byte (refresh), not a new one per chunk.
  const touch = () => {
    if (timer === null) timer = setTimeout(fire, ms);
    else timer.refresh();
  };
  const onOuter = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  touch();
  return {
    signal: controller.signal,
    touch,
    stop() {
      if (timer !== null) clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    },
  };
}

/**
 * Sends a request made by `attempt` (given the abort signal to pass to the SDK) until it succeeds; retryable
 * failures are retried `ctx.options.retries` times with backoff, the others thrown as named errors.
 */
export async function withRetries<T>(ctx: S3Context, url: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { timeoutMs, retries, backoffMs } = ctx.options;
  for (let failed = 0; ; failed++) {
    const dog = watchdog(timeoutMs);
    try {
      return await attempt(dog.signal);
    } catch (err) {
      const failure = classifyFailure(dog.signal.aborted ? dog.signal.reason : err, url);
      if (!failure.retry) throw failure.error;
      if (failed >= retries) throw Errors.s3Request(url, `${failure.reason}, still failing after ${retries} retries`);
      await sleep(backoffDelay(failed, backoffMs));
    } finally {
      dog.stop();
    }
  }
}
