/**
 * Stopping a pass with an `AbortSignal`, as Node's streams and `fetch` take one: the pass rejects with the
 * signal's reason as soon as it is aborted, whether the consumer is waiting for a batch or busy with one.
 */
import { invalid } from './validate.js';

/** The `signal` option: an `AbortSignal`, or `null` for none. */
export function resolveSignal(option: string, value: unknown): AbortSignal | null {
  if (value === undefined || value === null) return null;
  if (!(value instanceof AbortSignal)) throw invalid(option, 'an AbortSignal', value);
  return value;
}

/** One signal aborted by whichever of `signals` aborts first (`null` when there is none). */
export function anySignal(...signals: (AbortSignal | null)[]): AbortSignal | null {
  const given = signals.filter((s): s is AbortSignal => s !== null);
  return given.length <= 1 ? (given[0] ?? null) : AbortSignal.any(given);
}

/**
 * `source`'s values until `signal` aborts: then `onAbort` runs at once (to stop the producers) and the pending
 * or next step rejects with `signal.reason`. An already aborted signal rejects before `source` is asked for
 * anything. The caller still owns `source` and ends it (its `return()`) after the rejection.
 */
export async function* untilAborted<T>(source: AsyncIterator<T>, signal: AbortSignal | null, onAbort: () => void): AsyncGenerator<T, void, undefined> {
  signal?.throwIfAborted();
  let rejectAborted: (reason: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => (rejectAborted = reject));
  aborted.catch(() => {}); // observed through the race below; never an unhandled rejection
  const listener = () => {
    onAbort();
    rejectAborted(signal?.reason);
  };
  signal?.addEventListener('abort', listener, { once: true });
  try {
    for (;;) {
      const next = signal === null ? await source.next() : await Promise.race([source.next(), aborted]);
      signal?.throwIfAborted();
      if (next.done) return;
      yield next.value;
      signal?.throwIfAborted();
    }
  } finally {
    signal?.removeEventListener('abort', listener);
  }
}
