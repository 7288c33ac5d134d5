/**
 * Datasets built to be hostile: files that never end (a link to /dev/zero) or never open (a FIFO), names with
 * a NUL byte, files past the size bound, paths thousands of characters long. Each runs in a child process
 * with a kill timer, so that a read that blocks fails the test instead of stalling the suite.
 */
import { mkdirSync, renameSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, built, mkfifo, runScript } from './fixtures/hostile.js';
import { removeDir, tempDir, writeImage } from './fixtures/images.js';

let root: string;
const CHILD_MS = 60_000;

beforeAll(async () => {
  root = tempDir('imgstream-hostile-');
  mkdirSync(path.join(root, 'data/a'), { recursive: true });
  mkdirSync(path.join(root, 'data/b'), { recursive: true });
  await writeImage(path.join(root, 'data/a/good.jpg'), { width: 16, height: 12, seed: 1, format: 'jpeg' });
  await writeImage(path.join(root, 'data/a/good.png'), { width: 16, height: 12, seed: 2, format: 'png' });
  await writeImage(path.join(root, 'data/b/good.jpg'), { width: 16, height: 12, seed: 3, format: 'jpeg' });
  symlinkSync('/dev/zero', path.join(root, 'data/a/zero.jpg'));
  mkfifo(path.join(root, 'fifo'));
  symlinkSync(path.join(root, 'fifo'), path.join(root, 'data/b/fifo.png'));
  mkfifo(path.join(root, 'data/b/plain-fifo.jpg'));
  // Sparse: 1.5 GiB by its size, no blocks on disk.
  writeFileSync(path.join(root, 'data/b/huge.jpg'), Buffer.alloc(0));
  truncateSync(path.join(root, 'data/b/huge.jpg'), 1.5 * 1024 ** 3);
  // A name that is not UTF-8 (Latin-1 'é' and a stray 0xFF).
  mkdirSync(path.join(root, 'bytes/c'), { recursive: true });
  await writeImage(path.join(root, 'bytes/c/plain.png'), { width: 16, height: 12, seed: 4, format: 'png' });
  await writeImage(path.join(root, 'bytes/tmp.png'), { width: 16, height: 12, seed: 5, format: 'png' });
  renameSync(path.join(root, 'bytes/tmp.png'), Buffer.concat([Buffer.from(path.join(root, 'bytes/c/')), Buffer.from([0x66, 0xe9, 0xff, 0x2e, 0x70, 0x6e, 0x67])]));
});
afterAll(() => removeDir(root));

describe.each(BACKENDS)('reading hostile files (%s backend)', (backend) => {
  it('refuses devices and FIFOs before reading a byte, files past the bound from their size, NUL bytes by name', async () => {
    const run = await runScript(
      root,
      `
      import { SampleReader } from '${built('read-sample')}';
      const reader = new SampleReader(0, 1024 ** 3);
      const out = {};
      for (const f of ['data/a/zero.jpg', 'data/b/fifo.png', 'data/b/plain-fifo.jpg', 'data/b/huge.jpg', 'data/a/good.jpg\\0evil.png', 'missing.jpg', 'data/a/good.jpg']) {
        try { const b = await reader.read(f); out[f] = { ok: b.length }; }
        catch (e) { out[f] = { code: e.code, message: e.message }; }
      }
      const small = new SampleReader(0, 100);
      try { await small.read('data/a/good.png'); out.small = 'read'; } catch (e) { out.small = { code: e.code, message: e.message }; }
      result(out);
      `,
      { backend, timeoutMs: CHILD_MS },
    );
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = run.result as Record<string, { code?: string; message?: string; ok?: number }>;
    expect(out['data/a/zero.jpg']).toEqual({ code: 'ERR_NOT_REGULAR_FILE', message: expect.stringMatching(/character device/) });
    expect(out['data/b/fifo.png']).toEqual({ code: 'ERR_NOT_REGULAR_FILE', message: expect.stringMatching(/FIFO/) });
    expect(out['data/b/plain-fifo.jpg'].code).toBe('ERR_NOT_REGULAR_FILE');
    expect(out['data/b/huge.jpg']).toEqual({ code: 'ERR_FILE_TOO_LARGE', message: expect.stringMatching(/1610612736 bytes.*1073741824/) });
    expect(out['data/a/good.jpg\0evil.png']).toEqual({ code: 'ERR_READ', message: expect.stringMatching(/NUL byte at offset 15/) });
    // The reason once, not "ENOENT: ENOENT: ...".
    expect(out['missing.jpg'].code).toBe('ERR_READ');
    expect(out['missing.jpg'].message).toMatch(/^ENOENT: /);
    expect(out['missing.jpg'].message).not.toMatch(/ENOENT: ENOENT/);
    expect(out['data/a/good.jpg'].ok).toBeGreaterThan(100);
    expect(out.small).toEqual({ code: 'ERR_FILE_TOO_LARGE', message: expect.stringMatching(/above maxFileBytes \(100\)/) });
  }, CHILD_MS + 10_000);

  it('an epoch over them delivers every good sample once, names each refused file, and closes', async () => {
    const run = await runScript(
      root,
      `
      import { fromDirectory, fromList, ImageLoader } from '${built('index')}';
      const out = {};
      const loader = new ImageLoader(await fromDirectory('data'), { imageSize: [8, 8], batchSize: 2, workers: 2, shuffle: false, maxSkipShare: 1 });
      const paths = [];
      for await (const batch of loader) paths.push(...batch.paths.map((p) => p.slice(5)));
      out.paths = paths;
      out.skipped = loader.stats.skipped.map((s) => [s.path.slice(5), s.code]).sort();
      await loader.close();
      const nul = new ImageLoader(fromList(['data/a/good.jpg\0evil.png', 'data/a/good.png']), { imageSize: [8, 8], batchSize: 2, workers: 1, labelMode: null, maxSkipShare: 1 });
      for await (const batch of nul) out.nulPaths = batch.paths;
      out.nulSkipped = nul.stats.skipped.map((s) => [s.code, s.message]);
      await nul.close();
      const long = 'x/'.repeat(2_000_000) + 'a.jpg';
      const thrower = new ImageLoader(fromList([long]), { imageSize: [8, 8], workers: 1, onError: 'throw', labelMode: null });
      try { for await (const batch of thrower) out.long = 'delivered'; } catch (e) { out.long = { code: e.code, length: e.message.length, pathLength: e.path.length }; }
      await thrower.close();
      const bytes = new ImageLoader(await fromDirectory('bytes'), { imageSize: [8, 8], batchSize: 4, workers: 1, shuffle: false });
      for await (const batch of bytes) out.bytes = { paths: batch.paths, n: batch.shape[0] };
      out.bytesSkipped = bytes.stats.skipped;
      await bytes.close();
      result(out);
      `,
      { backend, timeoutMs: CHILD_MS },
    );
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = run.result as {
      paths: string[];
      skipped: [string, string][];
      nulPaths: string[];
      nulSkipped: [string, string][];
      long: { code: string; length: number; pathLength: number };
      bytes: { paths: string[]; n: number };
      bytesSkipped: unknown[];
    };
    expect(out.paths).toEqual(['a/good.jpg', 'a/good.png', 'b/good.jpg']);
    expect(out.skipped).toEqual([
      ['a/zero.jpg', 'ERR_NOT_REGULAR_FILE'],
      ['b/fifo.png', 'ERR_NOT_REGULAR_FILE'],
      ['b/huge.jpg', 'ERR_FILE_TOO_LARGE'],
      ['b/plain-fifo.jpg', 'ERR_NOT_REGULAR_FILE'],
    ]);
    // The file named, not the one a C string would stop at.
    expect(out.nulPaths).toEqual(['data/a/good.png']);
    expect(out.nulSkipped).toEqual([['ERR_READ', expect.stringMatching(/NUL byte/)]]);
    expect(out.long.code).toBe('ERR_READ');
    expect(out.long.pathLength).toBe(4_000_005);
    expect(out.long.length).toBeLessThan(2000);
    // Read by its bytes; shown with U+FFFD where they are not UTF-8.
    expect(out.bytesSkipped).toEqual([]);
    expect(out.bytes).toEqual({ paths: ['bytes/c/f\uFFFD\uFFFD.png', 'bytes/c/plain.png'], n: 2 });
  }, CHILD_MS + 10_000);
});
