/**
 * Stopping with an AbortSignal, as Node's streams and `fetch` take one: the loader's `signal` option ends the
 * loader (the running epoch stops, its worker threads end), `loader.iterate({ signal })` stops one epoch; either
 * way the pending iteration rejects with the signal's reason.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoader, fromDirectory, imageDatasetFromDirectory, type Batch } from '../src/index.js';
import type { FileIndex } from '../src/index.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';

let root: string;
let files: string[];
let index: FileIndex;

beforeAll(async () => {
  root = tempDir('imgstream-signal-');
  ({ files } = await makeClassFolders(path.join(root, 'data'), { a: 14, b: 10 }));
  index = await fromDirectory(path.join(root, 'data'));
});
afterAll(() => removeDir(root));

/** Threads of this process (Linux): each decode worker is one. */
const threads = () => readdirSync('/proc/self/task').length;

const options = { imageSize: [16, 16] as [number, number], batchSize: 4, workers: 2, shuffle: false };

/** Iterates `batches`, calling `onBatch` after each; returns the batches seen and what the loop threw. */
async function drain(batches: AsyncIterable<Batch>, onBatch: (n: number) => void = () => {}): Promise<{ seen: Batch[]; error: unknown }> {
  const seen: Batch[] = [];
  try {
    for await (const b of batches) {
      seen.push(b);
      onBatch(seen.length);
    }
  } catch (error) {
    return { seen, error };
  }
  return { seen, error: null };
}

describe('the signal option', () => {
  it('stops the epoch where it is aborted, rejects with the reason, ends the worker threads; later epochs reject too', async () => {
    const controller = new AbortController();
    const loader = new ImageLoader(index, { ...options, signal: controller.signal });
    const before = threads();
    let during = 0;
    const { seen, error } = await drain(loader, (n) => {
      if (n === 2) {
        during = threads();
        controller.abort();
      }
    });
    expect(error).toBe(controller.signal.reason);
    expect((error as Error).name).toBe('AbortError');
    expect(seen).toHaveLength(2);
    expect(during).toBeGreaterThanOrEqual(before + 2); // the two decode workers were running...
    // ...and have ended when the loop has thrown. Counted against `during`, not `before`: the process may start
    // a thread of its own meanwhile (the libuv pool, a V8 helper) on a loaded machine.
    expect(threads()).toBeLessThanOrEqual(during - 2);
    const again = await drain(loader);
    expect(again.error).toBe(controller.signal.reason);
    expect(again.seen).toEqual([]);
    await loader.close();
  });

  it('rejects an aborted signal before starting any worker, with its own reason', async () => {
    const reason = new Error('shutting down');
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { ...options, signal: AbortSignal.abort(reason) });
    const before = threads();
    const { seen, error } = await drain(loader);
    expect(error).toBe(reason);
    expect(seen).toEqual([]);
    expect(threads()).toBe(before);
  });

  it('refuses what is not an AbortSignal, naming the option', () => {
    expect(() => new ImageLoader(index, { ...options, signal: {} as AbortSignal })).toThrow(
      expect.objectContaining({ code: 'ERR_OPTION', message: 'Expected an AbortSignal for signal but received {} of type object' }),
    );
  });
});

describe('iterate({ signal })', () => {
  it('stops that epoch only: the next one delivers every sample exactly once', async () => {
    const loader = new ImageLoader(index, options);
    const controller = new AbortController();
    const stopped = await drain(loader.iterate({ signal: controller.signal }), (n) => n === 1 && controller.abort());
    expect(stopped.error).toBe(controller.signal.reason);
    expect(stopped.seen).toHaveLength(1);
    const next = await drain(loader);
    expect(next.error).toBeNull();
    expect(next.seen.flatMap((b) => b.paths)).toEqual(files);
    await loader.close();
  });

  it('rejects a step that is waiting for its batch, not only between batches', async () => {
    const loader = new ImageLoader(index, options);
    const controller = new AbortController();
    const epoch = loader.iterate({ signal: controller.signal });
    expect((await epoch.next()).done).toBe(false);
    const waiting = epoch.next(); // asked for, not yet delivered
    controller.abort();
    await expect(waiting).rejects.toBe(controller.signal.reason);
    await expect(epoch.next()).resolves.toEqual({ done: true, value: undefined });
    const next = await drain(loader);
    expect(next.seen.flatMap((b) => b.paths)).toEqual(files);
    await loader.close();
  });

  it('without a signal is one epoch, as iterating the loader is', async () => {
    const loader = new ImageLoader(index, options);
    const { seen, error } = await drain(loader.iterate());
    expect(error).toBeNull();
    expect(seen.flatMap((b) => b.paths)).toEqual(files);
    await expect(drain(loader.iterate({ signal: 'stop' as unknown as AbortSignal }))).resolves.toMatchObject({
      error: expect.objectContaining({ code: 'ERR_OPTION', message: "Expected an AbortSignal for signal but received 'stop' of type string" }),
    });
    await loader.close();
  });
});
