/**
 * Epochs that cannot train say so: one that delivers nothing or skips more than `maxSkipShare` of its samples
 * fails naming the cause, and an epoch stopped by a second iteration of the same loader says that is why.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoader, fromDirectory } from '../src/index.js';
import { removeDir, tempDir, writeImage } from './fixtures/images.js';

let root: string;

beforeAll(async () => {
  root = tempDir('imgstream-loud-');
  mkdirSync(path.join(root, 'bmp/a'), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(path.join(root, 'bmp/a', `${i}.bmp`), Buffer.from('BM'));
  mkdirSync(path.join(root, 'text/a'), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(path.join(root, 'text/a', `${i}.png`), `not an image ${i}`);
  mkdirSync(path.join(root, 'mixed/a'), { recursive: true });
  for (let i = 0; i < 8; i++) await writeImage(path.join(root, 'mixed/a', `${i}.png`), { width: 12, height: 10, seed: i + 1, format: 'png' });
  for (let i = 0; i < 2; i++) writeFileSync(path.join(root, 'mixed/a', `bad${i}.png`), 'not an image');
  mkdirSync(path.join(root, 'good/a'), { recursive: true });
  for (let i = 0; i < 12; i++) await writeImage(path.join(root, 'good/a', `${i}.png`), { width: 12, height: 10, seed: i + 1, format: 'png' });
});
afterAll(() => removeDir(root));

async function epoch(loader: ImageLoader): Promise<number> {
  let n = 0;
  for await (const batch of loader) n += batch.shape[0];
  return n;
}

describe('an epoch that cannot train', () => {
  it('a folder of .bmp files has no images to list', async () => {
    await expect(fromDirectory(path.join(root, 'bmp'))).rejects.toMatchObject({ code: 'ERR_NO_IMAGES' });
  });

  it('an epoch that delivers nothing fails naming why its samples were skipped', async () => {
    const loader = new ImageLoader(await fromDirectory(path.join(root, 'text')), { imageSize: [8, 8], batchSize: 2, workers: 1 });
    const err = await epoch(loader).catch((e: unknown) => e);
    await loader.close();
    expect(err).toMatchObject({ code: 'ERR_TOO_MANY_SKIPPED' });
    expect((err as Error).message).toMatch(/skipped 4 of its 6 samples|skipped \d of its 6 samples/);
    expect((err as Error).message).toMatch(/ERR_NOT_IMAGE/);
    expect((err as Error).message).toMatch(/\d\.png: /);
  }, 60_000);

  it('skipping past maxSkipShare fails; within it the epoch delivers every good sample', async () => {
    const index = await fromDirectory(path.join(root, 'mixed'));
    const within = new ImageLoader(index, { imageSize: [8, 8], batchSize: 4, workers: 1 });
    expect(await epoch(within)).toBe(8);
    expect(within.stats.skipped).toHaveLength(2);
    await within.close();
    const strict = new ImageLoader(index, { imageSize: [8, 8], batchSize: 4, workers: 1, maxSkipShare: 0.1 });
    await expect(epoch(strict)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_SKIPPED', message: expect.stringMatching(/maxSkipShare 0\.1/) });
    await strict.close();
    const lenient = new ImageLoader(await fromDirectory(path.join(root, 'text')), { imageSize: [8, 8], workers: 1, maxSkipShare: 1 });
    expect(await epoch(lenient)).toBe(0);
    expect(lenient.stats.skipped).toHaveLength(6);
    await lenient.close();
    expect(() => new ImageLoader(index, { maxSkipShare: 2 })).toThrow(/maxSkipShare/);
  }, 60_000);
});

describe('maxFileBytes', () => {
  it('refuses files past it from their size, in the workers, and is checked at construction', async () => {
    const index = await fromDirectory(path.join(root, 'good'));
    const loader = new ImageLoader(index, { imageSize: [8, 8], workers: 1, maxFileBytes: 64, maxSkipShare: 1 });
    expect(await epoch(loader)).toBe(0);
    expect(new Set(loader.stats.skipped.map((s) => s.code))).toEqual(new Set(['ERR_FILE_TOO_LARGE']));
    expect(loader.stats.skipped[0].message).toMatch(/above maxFileBytes \(64\)/);
    await loader.close();
    const roomy = new ImageLoader(index, { imageSize: [8, 8], workers: 1, maxFileBytes: '1MiB' });
    expect(await epoch(roomy)).toBe(12);
    await roomy.close();
    expect(() => new ImageLoader(index, { maxFileBytes: -1 })).toThrow(/maxFileBytes/);
    expect(() => new ImageLoader(index, { maxFileBytes: '9PiB' })).toThrow(/maxFileBytes/);
  }, 60_000);
});

describe('two iterations of one loader at once', () => {
  it('the older one fails saying another iteration started, not that the loader was closed', async () => {
    const loader = new ImageLoader(await fromDirectory(path.join(root, 'good')), { imageSize: [8, 8], batchSize: 2, workers: 1 });
    const first = loader[Symbol.asyncIterator]();
    expect((await first.next()).done).toBe(false);
    const second = loader[Symbol.asyncIterator]();
    expect((await second.next()).done).toBe(false);
    const err = await first.next().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CLOSED' });
    expect((err as Error).message).toMatch(/another iteration of this loader started epoch 1/);
    expect((err as Error).message).not.toMatch(/^The loader was closed/);
    let rest = 2;
    for (;;) {
      const next = await second.next();
      if (next.done) break;
      rest += next.value.shape[0];
    }
    expect(rest).toBe(12);
    await loader.close();
    await expect(epoch(loader)).rejects.toMatchObject({ code: 'ERR_CLOSED', message: 'The loader was closed' });
  }, 60_000);
});
