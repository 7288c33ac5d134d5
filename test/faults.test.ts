import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { ImageLoader, ImgstreamError, fromList } from '../src/index.js';
import { removeDir, tempDir, writeBadFiles, writeImage } from './fixtures/images.js';
import { FAULT_ENV, FaultyLoader, collect, describeBothPaths, type FaultSpec } from './fixtures/pipeline.js';

let root: string;
let good: string[];
let bad: Record<string, string>;

beforeAll(async () => {
  root = tempDir();
  good = [];
  for (let i = 0; i < 30; i++) good.push(await writeImage(path.join(root, 'good', `g${String(i).padStart(2, '0')}.jpg`), { width: 33, height: 25, seed: i + 1 }));
  bad = await writeBadFiles(path.join(root, 'bad'));
  bad.missing = path.join(root, 'bad', 'gone.jpg');
  bad.dangling = path.join(root, 'bad', 'dangling.jpg');
  symlinkSync(path.join(root, 'nowhere.jpg'), bad.dangling);
  bad.directory = path.join(root, 'bad', 'folder.jpg');
  mkdirSync(bad.directory);
});
afterAll(() => removeDir(root));
afterEach(() => {
  delete process.env[FAULT_ENV];
});

function injectFault(fault: FaultSpec): void {
  process.env[FAULT_ENV] = JSON.stringify(fault);
}

/** Good files with the bad ones spliced in at fixed places. */
function mixed(): string[] {
  const list = [...good];
  Object.values(bad).forEach((b, i) => list.splice(3 + i * 4, 0, b));
  return list;
}

const EXPECTED_CODES: Record<string, string> = {
  truncated: 'ERR_DECODE',
  empty: 'ERR_EMPTY_FILE',
  notImage: 'ERR_NOT_IMAGE',
  bomb: 'ERR_TOO_MANY_PIXELS',
  missing: 'ERR_READ',
  dangling: 'ERR_READ',
  directory: 'ERR_READ',
};

describeBothPaths("onError: 'skip'", () => {
  it('records each bad file with its reason and keeps batches full of the good ones', async () => {
    const loader = new ImageLoader(fromList(mixed()), { imageSize: [12, 12], batchSize: 8, labelMode: null, shuffle: false, workers: 2 });
    const batches = await collect(loader);
    expect(batches.map((b) => b.shape[0])).toEqual([8, 8, 8, 6]);
    expect(batches.flatMap((b) => b.paths)).toEqual(good);
    const skipped = new Map(loader.stats.skipped.map((s) => [s.path, s]));
    expect(skipped.size).toBe(Object.keys(bad).length);
    for (const [kind, file] of Object.entries(bad)) {
      expect(skipped.get(file)?.code, kind).toBe(EXPECTED_CODES[kind]);
      expect(skipped.get(file)?.message.length, kind).toBeGreaterThan(0);
    }
    expect(skipped.get(bad.bomb)?.message).toMatch(/pixel limit/);
  });

  it('honours a lower maxPixels', async () => {
    const loader = new ImageLoader(fromList(good.slice(0, 4)), { imageSize: [8, 8], labelMode: null, maxPixels: 33 * 25 - 1, maxSkipShare: 1 });
    expect(await collect(loader)).toEqual([]);
    expect(loader.stats.skipped.map((s) => s.code)).toEqual(Array(4).fill('ERR_TOO_MANY_PIXELS'));
  });
});

describeBothPaths("onError: 'throw'", () => {
  it('rejects the iteration with a typed error naming the path and the cause', async () => {
    const list = [...good.slice(0, 10), bad.truncated, ...good.slice(10)];
    const loader = new ImageLoader(fromList(list), { imageSize: [12, 12], batchSize: 4, labelMode: null, shuffle: false, onError: 'throw' });
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const b of loader) seen.push(...b.paths);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ImgstreamError);
    expect((error as ImgstreamError).code).toBe('ERR_DECODE');
    expect((error as ImgstreamError).path).toBe(bad.truncated);
    expect((error as Error).message).toContain(bad.truncated);
    expect(seen).toEqual(good.slice(0, 8));
  });
});

describeBothPaths('worker faults', () => {
  for (const kind of ['exit', 'throw'] as const) {
    it(`a worker that ${kind}s once: the work is retried and nothing is lost`, async () => {
      const marker = path.join(root, `marker-${kind}`);
      injectFault({ match: 'g07', kind, onceMarker: marker });
      const loader = new FaultyLoader(fromList(good), { imageSize: [8, 8], batchSize: 5, labelMode: null, workers: 2 });
      const paths = (await collect(loader)).flatMap((b) => b.paths);
      expect(existsSync(marker)).toBe(true);
      expect([...paths].sort()).toEqual([...good].sort());
      expect(loader.stats.retries).toBeGreaterThan(0);
      expect(loader.stats.skipped).toEqual([]);
    });

    it(`a worker that always ${kind}s on one file: that file is skipped, the epoch completes`, async () => {
      injectFault({ match: 'g11', kind });
      const loader = new FaultyLoader(fromList(good), { imageSize: [8, 8], batchSize: 5, labelMode: null, workers: 2 });
      const paths = (await collect(loader)).flatMap((b) => b.paths);
      expect([...paths].sort()).toEqual(good.filter((g) => !g.includes('g11')).sort());
      expect(loader.stats.skipped).toHaveLength(1);
      expect(loader.stats.skipped[0]).toMatchObject({ code: 'ERR_WORKER', path: good[11] });
    });
  }
});

describeBothPaths('stopping', () => {
  it('break after the first batch: the process exits by itself', async () => {
    const script = path.join(root, 'break.mts');
    const loaderModule = fileURLToPath(new URL('../src/index.ts', import.meta.url));
    writeFileSync(
      script,
      `import { ImageLoader, fromList } from ${JSON.stringify(loaderModule)};
const files = ${JSON.stringify(good)};
const loader = new ImageLoader(fromList(Array.from({ length: 3000 }, (_, i) => files[i % files.length])), { imageSize: [64, 64], batchSize: 8, labelMode: null });
for await (const batch of loader) { break; }
console.log('broke at', Date.now());
`,
    );
    const tsx = fileURLToPath(new URL('../node_modules/tsx/dist/cli.mjs', import.meta.url));
    const { code, out, exitedAt } = await new Promise<{ code: number | null; out: string; exitedAt: number }>((resolve, reject) => {
      const child = spawn(process.execPath, [tsx, script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the process did not exit by itself within 30 s'));
      }, 30_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve({ code: c, out, exitedAt: Date.now() });
      });
    });
    expect(code).toBe(0);
    const brokeAt = Number(/broke at (\d+)/.exec(out)?.[1]);
    expect(brokeAt).toBeGreaterThan(0);
    // Generous bound: a leaked thread or handle would keep the process alive indefinitely.
    expect(exitedAt - brokeAt).toBeLessThan(5000);
  });

  it('close() stops a running epoch and refuses new ones', async () => {
    const loader = new ImageLoader(fromList(Array.from({ length: 500 }, (_, i) => good[i % good.length])), { imageSize: [32, 32], batchSize: 4, labelMode: null });
    const it = loader[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    await loader.close();
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(collect(loader)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
