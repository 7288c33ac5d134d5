/**
 * Reading one sample's file and naming why it cannot become pixels, shared by the decode workers and
 * `imgstream inspect`, so that both give a bad file the same code.
 */
import { promises as fsp } from 'node:fs';
import type { ErrorCode } from './errors.js';
import { nativeAddon, type NativeAddon } from './native/addon.js';

/** One file that cannot be used: a stable code and the reader's or decoder's own words. */
export class SampleError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A scratch buffer larger than this is not kept after the read that needed it. */
const KEEP_AT_MOST = 16 * 1024 * 1024;
const MIN_SCRATCH = 64 * 1024;

/**
 * Reads files into one buffer it keeps and grows, so that a worker reading thousands of files does not leave
 * a dead buffer per file for its garbage collector (V8 frees those only when its external-memory pressure
 * triggers a collection, tens of megabytes later).
 */
export class SampleReader {
  private scratch: Buffer;
  private readonly reserved: number;

  /**
   * @param reserve - bytes to allocate at once, uninitialised: only the pages files fill become resident,
   *   and files up to that size never make the buffer grow (a replaced buffer is garbage until a full GC).
   */
  constructor(reserve = 0) {
    this.reserved = reserve;
    this.scratch = Buffer.allocUnsafeSlow(reserve);
  }

  /**
   * The file's bytes, in the reader's buffer: valid until its next `read`. `ERR_READ` when the file cannot
   * be read (missing, a folder, a dangling link), `ERR_EMPTY_FILE` at 0 bytes.
   */
  async read(file: string): Promise<Buffer> {
    let length: number;
    try {
      const addon = nativeAddon();
      length = addon === null ? -1 : await this.readNative(addon, file);
      if (length < 0) length = await this.readPortable(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new SampleError('ERR_READ', `${e.code ?? 'read error'}: ${e.message}`);
    }
    if (length === 0) throw new SampleError('ERR_EMPTY_FILE', 'file is empty (0 bytes)');
    const data = this.scratch.subarray(0, length);
    if (this.scratch.length > Math.max(KEEP_AT_MOST, this.reserved)) this.scratch = Buffer.allocUnsafeSlow(this.reserved);
    return data;
  }

  /**
   * One pool task per file with the native addon (Node's promise API takes four: open, stat, read, close;
   * about 0.09 against 0.17 ms of CPU per file from the page cache). -1: left to {@link readPortable}.
   */
  private async readNative(addon: NativeAddon, file: string): Promise<number> {
    for (;;) {
      const size = await addon.readInto(file, this.scratch);
      if (size <= this.scratch.length) return size;
      this.reserve(size, 0);
    }
  }

  private async readPortable(file: string): Promise<number> {
    let length = 0;
    const handle = await fsp.open(file, 'r');
    try {
      const { size } = await handle.stat();
      this.reserve(size, 0);
      for (;;) {
        if (length === this.scratch.length) this.reserve(length + 1, length);
        const { bytesRead } = await handle.read(this.scratch, length, this.scratch.length - length, null);
        length += bytesRead;
        // The size from fstat ends a regular file's read in one call; anything else is read to EOF.
        if (bytesRead === 0 || (size > 0 && length >= size)) break;
      }
    } finally {
      await handle.close();
    }
    return length;
  }

  /**
   * Makes room for `bytes`, keeping the first `keep` bytes read so far. Sizes are powers of two, so that a
   * run of ever larger files grows the buffer a few times, not once per file (each old buffer is garbage).
   */
  private reserve(bytes: number, keep: number): void {
    if (bytes <= this.scratch.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(MIN_SCRATCH, 2 ** Math.ceil(Math.log2(bytes))));
    this.scratch.copy(grown, 0, 0, keep);
    this.scratch = grown;
  }
}

/** The file's bytes in a buffer of its own; the same codes as {@link SampleReader.read}. */
export function readSample(file: string): Promise<Buffer> {
  return new SampleReader().read(file);
}

/** sharp's error for a file, as a code: over the pixel limit, not an image format it knows, or a bad decode. */
export function classifyDecodeError(err: unknown, maxPixels: number): SampleError {
  if (err instanceof SampleError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new SampleError('ERR_TOO_MANY_PIXELS', `${message} (maxPixels ${maxPixels})`);
  if (/unsupported image format/i.test(message)) return new SampleError('ERR_NOT_IMAGE', message);
  return new SampleError('ERR_DECODE', message);
}
