/**
 * Where the fast path's library comes from (src/native/load.cjs): the npm package's libturbojpeg by default,
 * the system's on request, none with a bad path (sharp then decodes); and an addon that does not link
 * libturbojpeg at all, so that building it needs no development package. The choices run in child processes
 * (the library is opened once per process) against the built package in dist/.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecodeStatus, Interpolation, packDecodeParams } from '../src/native/abi.js';
import { BACKEND_ENV, LIBRARY_ENV, nativeStatus } from '../src/native/addon.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { photoJpeg } from './fixtures/jpegs.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const status = nativeStatus();
const params = packDecodeParams({ width: 64, height: 48, channels: 3, orientation: 1, crop: 0, interpolation: Interpolation.BILINEAR, region: null });

function packagedLibrary(): string | null {
  try {
    const root = path.dirname(require.resolve('@julusian/jpeg-turbo/package.json'));
    const file = path.join(root, 'prebuilds', `jpeg-turbo-linux-${process.arch}`, 'libturbojpeg.so.0');
    return process.platform === 'linux' && existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

let root: string;
let jpegFile: string;
beforeAll(async () => {
  root = tempDir();
  jpegFile = path.join(root, 'photo.jpg');
  writeFileSync(jpegFile, await photoJpeg(320, 240, 5));
});
afterAll(() => removeDir(root));

/** What a fresh process with `env` loads, and its decode of the test photo. */
function inChild(env: Record<string, string>) {
  const code = `
    import { readFileSync } from 'node:fs';
    import { describeDecoder, nativeStatus, resolveDecoder } from './dist/src/native/addon.js';
    const s = nativeStatus();
    const out = new Uint8Array(64 * 48 * 3);
    const status = s.addon === null ? null : s.addon.decode(readFileSync(${JSON.stringify(jpegFile)}), out, new Int32Array(${JSON.stringify([...params])}), null, null);
    let required = null;
    try { resolveDecoder('jpeg-turbo'); } catch (err) { required = err.message; }
    console.log(JSON.stringify({ origin: s.origin ?? null, library: s.addon?.turbojpegPath() ?? null, line: describeDecoder(), auto: resolveDecoder('auto'), required, status, pixels: Buffer.from(out).toString('base64') }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: repo,
    env: { ...process.env, [BACKEND_ENV]: '', [LIBRARY_ENV]: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split('\n').pop() as string) as {
    origin: string | null;
    library: string | null;
    line: string;
    auto: string;
    required: string | null;
    status: number | null;
    pixels: string;
  };
}

describe('native library loading', () => {
  it.runIf(status.addon !== null && process.platform === 'linux' && spawnSync('readelf', ['--version']).status === 0)(
    'the addon links no libturbojpeg: it opens one at run time',
    () => {
      const needed = spawnSync('readelf', ['-d', status.addon === null ? '' : status.addonFile], { encoding: 'utf8' }).stdout;
      expect(needed).toMatch(/\(NEEDED\)\s+Shared library: \[libc\.so/);
      expect(needed).not.toMatch(/turbojpeg|libjpeg/);
    },
  );

  it.runIf(packagedLibrary() !== null && !process.env[LIBRARY_ENV] && process.env[BACKEND_ENV] !== 'sharp')('opens the npm package @julusian/jpeg-turbo\'s libturbojpeg by default', () => {
    if (status.addon === null) throw new Error(`the fast path is off with @julusian/jpeg-turbo installed: ${status.reason}`);
    expect(status.origin).toBe('@julusian/jpeg-turbo');
    expect(realpathSync(status.addon.turbojpegPath() as string)).toBe(realpathSync(packagedLibrary() as string));
  });

  it.runIf(status.addon !== null)('IMGSTREAM_TURBOJPEG=system opens the system library, which decodes the same pixels', (ctx) => {
    const packaged = inChild({});
    const system = inChild({ [LIBRARY_ENV]: 'system' });
    if (system.library === null) ctx.skip(); // no system libturbojpeg on this machine: nothing to compare
    expect(system.origin).toBe('system');
    expect(system.library).not.toBe(packaged.library);
    expect(system.line).toMatch(/^JPEG fast path on: libjpeg-turbo [\d.]+ from system/);
    expect([packaged.status, system.status]).toEqual([DecodeStatus.OK, DecodeStatus.OK]);
    const a = Buffer.from(packaged.pixels, 'base64');
    const b = Buffer.from(system.pixels, 'base64');
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it.runIf(status.addon !== null)('a library path that does not open turns the fast path off, naming the path and the fix', () => {
    const missing = path.join(root, 'no-such-libturbojpeg.so.0');
    const off = inChild({ [LIBRARY_ENV]: missing });
    expect(off.library).toBeNull();
    expect(off.auto).toBe('sharp');
    expect(off.line).toContain('JPEG fast path off, sharp decodes every JPEG: no libjpeg-turbo found');
    expect(off.line).toContain(missing);
    expect(off.line).toContain(`point ${LIBRARY_ENV} at a libturbojpeg file, or unset it`);
    expect(off.required).toContain(missing);
  });
});
