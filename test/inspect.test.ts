/**
 * `inspect` checks files the way the loader decodes them: the same list of bad files with the same codes,
 * within a loader's memory, and no hang on FIFOs or devices. Each scan runs in a child with a kill timer.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, built, mkfifo, runScript } from './fixtures/hostile.js';
import { removeDir, tempDir, texturedRaw, writeImage } from './fixtures/images.js';

let root: string;
const CHILD_MS = 90_000;

beforeAll(async () => {
  root = tempDir('imgstream-inspect-');
  mkdirSync(path.join(root, 'scan/a'), { recursive: true });
  mkdirSync(path.join(root, 'scan/b'), { recursive: true });
  await writeImage(path.join(root, 'scan/a/good.jpg'), { width: 48, height: 40, seed: 1, format: 'jpeg' });
  await writeImage(path.join(root, 'scan/b/good.png'), { width: 40, height: 48, seed: 2, format: 'png' });
  const jpeg = await sharp(texturedRaw(96, 96, 3), { raw: { width: 96, height: 96, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  // Bytes cut from the middle of the entropy-coded scan: the markers are all there.
  const mid = Math.floor(jpeg.length * 0.6);
  writeFileSync(path.join(root, 'scan/a/mid-cut.jpg'), Buffer.concat([jpeg.subarray(0, mid), jpeg.subarray(mid + 300)]));
  const png = await sharp(texturedRaw(96, 96, 4), { raw: { width: 96, height: 96, channels: 3 } }).png().toBuffer();
  writeFileSync(path.join(root, 'scan/b/truncated.png'), png.subarray(0, Math.floor(png.length * 0.7)));
  writeFileSync(path.join(root, 'scan/b/cut-jpeg.jpg'), jpeg.subarray(0, Math.floor(jpeg.length * 0.5)));
  symlinkSync('/dev/zero', path.join(root, 'scan/a/zero.png'));
  mkfifo(path.join(root, 'scan/b/pipe.jpg'));
});
afterAll(() => removeDir(root));

describe.each(BACKENDS)('inspect (%s backend)', (backend) => {
  it('lists exactly the files the loader skips, with its codes, and says what was wrong', async () => {
    const run = await runScript(
      root,
      `
      import { inspectDirectory } from '${built('inspect')}';
      import { fromDirectory, ImageLoader } from '${built('index')}';
      const report = await inspectDirectory('scan', { progress: false, imageSize: [32, 32] });
      const loader = new ImageLoader(await fromDirectory('scan'), { imageSize: [32, 32], shuffle: false, workers: 2, maxSkipShare: 1 });
      let delivered = 0;
      for await (const batch of loader) delivered += batch.shape[0];
      await loader.close();
      const skipped = loader.stats.skipped.map((s) => [s.path, s.code]).sort();
      result({ bad: report.bad, skipped, delivered, files: report.files, formats: report.formats });
      `,
      { backend, timeoutMs: CHILD_MS },
    );
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = run.result as { bad: { path: string; code: string; message: string }[]; skipped: [string, string][]; delivered: number; files: number };
    expect(out.files).toBe(7);
    expect(out.bad.map((b) => [b.path, b.code])).toEqual(out.skipped);
    expect(out.delivered + out.bad.length).toBe(7);
    const byName = Object.fromEntries(out.bad.map((b) => [path.basename(b.path), b]));
    expect(byName['zero.png'].code).toBe('ERR_NOT_REGULAR_FILE');
    expect(byName['pipe.jpg'].code).toBe('ERR_NOT_REGULAR_FILE');
    expect(byName['truncated.png'].code).toBe('ERR_DECODE');
    expect(byName['truncated.png'].message).toMatch(/truncated PNG: the file ends at \d+ bytes, before its IEND chunk/);
    expect(byName['good.jpg']).toBeUndefined();
    expect(byName['good.png']).toBeUndefined();
    for (const b of out.bad) {
      expect(b.message).not.toMatch(/^Warning treated as error/);
      expect(b.message).not.toMatch(/(\w+): \1:/);
    }
  }, CHILD_MS + 10_000);
});

describe('inspect memory', () => {
  it('checks large 16-bit PNGs within a loader memory, not a full decode each', async () => {
    const big = path.join(root, 'big/x');
    mkdirSync(big, { recursive: true });
    const first = path.join(big, '0.png');
    const image = sharp({ create: { width: 9000, height: 9000, channels: 3, background: { r: 120, g: 30, b: 200 } } });
    await image.toColourspace('rgb16').png({ compressionLevel: 1 }).toFile(first);
    for (let i = 1; i < 4; i++) copyFileSync(first, path.join(big, `${i}.png`));
    const run = await runScript(
      root,
      `
      import { inspectDirectory } from '${built('inspect')}';
      const report = await inspectDirectory('big', { progress: false, imageSize: [64, 64], concurrency: 4 });
      result({ bad: report.bad, width: report.sizes?.width, maxRssMiB: process.resourceUsage().maxRSS / 1024 });
      `,
      { backend: 'sharp', timeoutMs: 200_000 },
    );
    expect(run.timedOut, run.stderr).toBe(false);
    const out = run.result as { bad: unknown[]; width: { max: number }; maxRssMiB: number };
    expect(out.bad).toEqual([]);
    expect(out.width.max).toBe(9000);
    // A full decode is 9000 x 9000 x 3 x 2 bytes = 463 MiB per file, four at once.
    expect(out.maxRssMiB, `peak RSS ${out.maxRssMiB} MiB`).toBeLessThan(700);
  }, 300_000);
});
