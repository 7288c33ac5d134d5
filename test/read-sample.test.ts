import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { SampleError, SampleReader, classifyDecodeError, readSample } from '../src/read-sample.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { describeBothPaths } from './fixtures/pipeline.js';

let root: string;
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

beforeAll(() => {
  root = tempDir();
  writeFileSync(path.join(root, 'small'), bytes(1000, 1));
  writeFileSync(path.join(root, 'large'), bytes(300_000, 2));
  writeFileSync(path.join(root, 'smaller'), bytes(10, 3));
  writeFileSync(path.join(root, 'empty'), Buffer.alloc(0));
  mkdirSync(path.join(root, 'folder'));
  symlinkSync(path.join(root, 'nowhere'), path.join(root, 'dangling'));
});
afterAll(() => removeDir(root));

async function codeOf(read: Promise<unknown>): Promise<string> {
  const err = await read.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SampleError);
  return (err as SampleError).code;
}

describeBothPaths('SampleReader', () => {
  it('reads each file whole into one buffer it grows and then reuses', async () => {
    const reader = new SampleReader();
    const small = await reader.read(path.join(root, 'small'));
    expect(Buffer.compare(small, bytes(1000, 1))).toBe(0);
    const large = await reader.read(path.join(root, 'large'));
    expect(Buffer.compare(large, bytes(300_000, 2))).toBe(0);
    const smaller = await reader.read(path.join(root, 'smaller'));
    expect(Buffer.compare(smaller, bytes(10, 3))).toBe(0);
    // No new memory for a file that fits: the same bytes as the larger file's.
    expect(smaller.buffer).toBe(large.buffer);
  });

  it('reads files up to its reserve without growing, and does not keep a buffer grown past 16 MiB', async () => {
    const reserved = new SampleReader(512 * 1024);
    const small = await reserved.read(path.join(root, 'small'));
    const large = await reserved.read(path.join(root, 'large'));
    expect(large.buffer).toBe(small.buffer);
    expect(large.buffer.byteLength).toBe(512 * 1024);

    const huge = path.join(root, 'huge');
    const hugeBytes = bytes(17 * 1024 * 1024, 4);
    writeFileSync(huge, hugeBytes);
    const reader = new SampleReader();
    const whole = await reader.read(huge);
    expect(Buffer.compare(whole, hugeBytes)).toBe(0);
    const after = await reader.read(path.join(root, 'small'));
    expect(after.buffer).not.toBe(whole.buffer);
    expect(after.buffer.byteLength).toBeLessThan(1024 * 1024);
  });

  it('names why a file cannot be read, and goes on reading after a failure', async () => {
    const reader = new SampleReader();
    expect(await codeOf(reader.read(path.join(root, 'missing')))).toBe('ERR_READ');
    expect(await codeOf(reader.read(path.join(root, 'dangling')))).toBe('ERR_READ');
    expect(await codeOf(reader.read(path.join(root, 'folder')))).toBe('ERR_READ');
    // The system's reason comes first, as Node words it, with the path (native and portable reads alike).
    const missing = await reader.read(path.join(root, 'missing')).catch((e: SampleError) => e);
    expect((missing as SampleError).message).toMatch(/^ENOENT: .*missing/);
    const folder = await reader.read(path.join(root, 'folder')).catch((e: SampleError) => e);
    expect((folder as SampleError).message).toMatch(/^EISDIR: /);
    expect(await codeOf(reader.read(path.join(root, 'empty')))).toBe('ERR_EMPTY_FILE');
    const small = await reader.read(path.join(root, 'small'));
    expect(Buffer.compare(small, bytes(1000, 1))).toBe(0);
  });

  it('reads a file exactly the size of its buffer, and one that outgrows it, whole', async () => {
    const reader = new SampleReader(1000);
    const exact = await reader.read(path.join(root, 'small'));
    expect(Buffer.compare(exact, bytes(1000, 1))).toBe(0);
    expect(exact.buffer.byteLength).toBe(1000);
    const large = await reader.read(path.join(root, 'large'));
    expect(Buffer.compare(large, bytes(300_000, 2))).toBe(0);
  });

  it('readSample gives a buffer of its own', async () => {
    const a = await readSample(path.join(root, 'small'));
    const b = await readSample(path.join(root, 'small'));
    expect(a.buffer).not.toBe(b.buffer);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(await codeOf(readSample(path.join(root, 'empty')))).toBe('ERR_EMPTY_FILE');
  });
});

describe('classifyDecodeError', () => {
  it('says what was wrong with the file when the decoder does not, once, in bounded length', async () => {
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } }).png().toBuffer();
    const cut = png.subarray(0, png.length - 20);
    // What sharp really says about this file:
    const said = await sharp(cut, { failOn: 'warning' }).raw().toBuffer().then(() => null, (e: Error) => e);
    expect(said).toBeInstanceOf(Error);
    const e = classifyDecodeError(said, 1e8, cut);
    expect(e.code).toBe('ERR_DECODE');
    expect(e.message).toBe(`truncated PNG: the file ends at ${cut.length} bytes, before its IEND chunk (${(said as Error).message})`);
    const warned = classifyDecodeError(new Error('Warning treated as error due to failOn setting'), 1e8, cut);
    expect(warned.message).toMatch(/^truncated PNG: .*\(Warning treated as error due to failOn setting\)$/);
    // libvips' one error buffer can hand a thread another file's words: a JPEG decoder's message for a PNG.
    const foreign = classifyDecodeError(new Error('VipsJpeg: Corrupt JPEG data: premature end of data segment'), 1e8, cut);
    expect(foreign.message).toBe(`truncated PNG: the file ends at ${cut.length} bytes, before its IEND chunk`);
    // A whole file gets the decoder's words alone.
    expect(classifyDecodeError(new Error('vipspng: libpng read error'), 1e8, png).message).toBe('vipspng: libpng read error');
    expect(classifyDecodeError(new Error('x'.repeat(100_000)), 1e8).message.length).toBeLessThanOrEqual(1000);
  });
});
