/**
 * The built package, as a user gets it: `import 'imgstream'` resolves through package.json's exports to
 * dist/, and its decode workers load as plain JavaScript (no TypeScript loader in the process).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
let root: string;

beforeAll(async () => {
  root = tempDir();
  await makeClassFolders(path.join(root, 'data'), { a: 12, b: 9 });
});
afterAll(() => removeDir(root));

function runNode(code: string, onLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      for (const line of d.toString().split('\n')) if (line) onLine?.(line, (s) => child.kill(s));
    });
    child.stderr.on('data', (d: Buffer) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`did not exit within 30 s; stderr: ${err}`));
    }, 30_000);
    child.on('exit', (c, s) => {
      clearTimeout(timer);
      if (c !== 0 && c !== null && err) out += `\nSTDERR: ${err}`;
      resolve({ code: c, signal: s, out });
    });
  });
}

describe('built package', () => {
  it('is built into dist/ with its worker next to it', () => {
    expect(existsSync(path.join(repo, 'dist/src/index.js'))).toBe(true);
    expect(existsSync(path.join(repo, 'dist/workers/decode.js'))).toBe(true);
  });

  it("streams a folder through `import 'imgstream'` with plain JavaScript workers", async () => {
    const { code, out } = await runNode(`
      import { imageDatasetFromDirectory } from 'imgstream';
      const ds = await imageDatasetFromDirectory(${JSON.stringify(path.join(root, 'data'))}, { imageSize: [16, 16], batchSize: 8, workers: 2 });
      let n = 0;
      for await (const b of ds) n += b.shape[0];
      console.log(JSON.stringify({ n, classes: ds.classNames, skipped: ds.stats.skipped.length }));
    `);
    expect(code, out).toBe(0);
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ n: 21, classes: ['a', 'b'], skipped: 0 });
  });

  it('loads the AWS SDK only once an s3:// URL is used', async () => {
    // The SDK is CommonJS: what Node loaded of it is in the require cache.
    const { code, out } = await runNode(`
      import { createRequire } from 'node:module';
      import { imageDatasetFromDirectory } from 'imgstream';
      const sdkLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@aws-sdk'));
      const ds = await imageDatasetFromDirectory(${JSON.stringify(path.join(root, 'data'))}, { imageSize: [16, 16], batchSize: 8, workers: 1 });
      for await (const b of ds) {}
      await ds.close();
      const afterFolder = sdkLoaded();
      const err = await imageDatasetFromDirectory('s3://bucket/x', { s3: { endpoint: 'http://127.0.0.1:9', retries: 0, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } }).catch((e) => e.code);
      console.log(JSON.stringify({ afterFolder, err, afterS3: sdkLoaded() }));
    `);
    expect(code, out).toBe(0);
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({ afterFolder: false, err: 'ERR_S3_REQUEST', afterS3: true });
  });

  it('Ctrl-C in the middle of an epoch ends the process', async () => {
    let signalled = false;
    const { code, signal } = await runNode(
      `
      import { ImageLoader, fromDirectory } from 'imgstream';
      const index = await fromDirectory(${JSON.stringify(path.join(root, 'data'))});
      const ds = new ImageLoader(index, { imageSize: [64, 64], batchSize: 2 });
      for (let e = 0; ; e++) for await (const b of ds) console.log('batch');
    `,
      (line, kill) => {
        if (line === 'batch' && !signalled) {
          signalled = true;
          kill('SIGINT');
        }
      },
    );
    expect(signalled).toBe(true);
    expect(signal === 'SIGINT' || code === 130).toBe(true);
  });
});
