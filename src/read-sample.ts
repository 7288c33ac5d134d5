/**
 * Reading one sample's file and naming why it cannot become pixels, shared by the decode workers and
 * `imgstream inspect`, so that both give a bad file the same code.
 */
import { constants, promises as fsp } from 'node:fs';
import { boundText, type ErrorCode } from './errors.js';
import { nativeAddon, type NativeAddon } from './native/addon.js';

/** One file that cannot be used: a stable code and the reader's or decoder's own words, in bounded length. */
export class SampleError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(boundText(message, MAX_MESSAGE));
  }
}

/** Longest reason a skip record or error carries (a path can be as long as a CSV line). */
const MAX_MESSAGE = 1000;

/** Files larger than this are refused from their size, unread (`maxFileBytes`). */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024 * 1024;
/** One `read` call's most bytes: Node takes a 32-bit length. */
const READ_CHUNK = 1 << 30;

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
  private readonly maxBytes: number;

  /**
   * @param reserve - bytes to allocate at once, uninitialised: only the pages files fill become resident,
   *   and files up to that size never make the buffer grow (a replaced buffer is garbage until a full GC).
   * @param maxBytes - larger files are refused (`ERR_FILE_TOO_LARGE`) from their size, before a byte is read.
   */
  constructor(reserve = 0, maxBytes = DEFAULT_MAX_FILE_BYTES) {
    this.reserved = reserve;
    this.maxBytes = maxBytes;
    this.scratch = Buffer.allocUnsafeSlow(reserve);
  }

  /**
   * The file's bytes, in the reader's buffer: valid until its next `read`. Only a regular file is read, and
   * every read ends: `ERR_READ` when the file cannot be opened (missing, a folder, a dangling link, a NUL byte
   * in its name), `ERR_NOT_REGULAR_FILE` for a FIFO, a device or a socket (opened without blocking, never
   * read), `ERR_FILE_TOO_LARGE` above `maxBytes`, `ERR_EMPTY_FILE` at 0 bytes. A `Buffer` path is a name
   * by its bytes (one that is not valid UTF-8).
   */
  async read(file: string | Buffer): Promise<Buffer> {
    const nul = typeof file === 'string' ? file.indexOf('\0') : file.indexOf(0);
    if (nul !== -1) throw new SampleError('ERR_READ', `the path has a NUL byte at offset ${nul}: no file has that name`);
    let length: number;
    try {
      const addon = typeof file === 'string' ? nativeAddon() : null;
      length = addon === null ? -1 : await this.readNative(addon, file as string);
      if (length < 0) length = await this.readPortable(file);
    } catch (err) {
      if (err instanceof SampleError) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_NOT_REGULAR_FILE') throw new SampleError('ERR_NOT_REGULAR_FILE', e.message);
      throw new SampleError('ERR_READ', withCode(e));
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
      // Never more room than the bound: a larger file reports its size unread, and is refused from it.
      const room = this.scratch.length > this.maxBytes ? this.scratch.subarray(0, this.maxBytes) : this.scratch;
      const size = await addon.readInto(file, room);
      if (size <= room.length) return size;
      this.refuseAbove(size);
      this.reserve(size, 0);
    }
  }

  /** Node's promise API, with the native reader's rules: O_NONBLOCK, fstat first, a bounded read. */
  private async readPortable(file: string | Buffer): Promise<number> {
    let length = 0;
    const handle = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw Object.assign(new Error('illegal operation on a directory, read'), { code: 'EISDIR' });
      if (!st.isFile()) throw new SampleError('ERR_NOT_REGULAR_FILE', `not a regular file (${fileKind(st)}): only regular files are read`);
      this.refuseAbove(st.size);
      this.reserve(st.size, 0);
      for (;;) {
        // One byte past the bound is enough to know a file that grew (or reported 0, as procfs does) is too large.
        if (length === this.scratch.length) this.reserve(Math.min(length + 1, this.maxBytes + 1), length);
        const room = Math.min(this.scratch.length - length, READ_CHUNK);
        const { bytesRead } = await handle.read(this.scratch, length, room, null);
        length += bytesRead;
        this.refuseAbove(length);
        // The size from fstat ends the read; a file that reports 0 is read to its end, within the bound.
        if (bytesRead === 0 || (st.size > 0 && length >= st.size)) break;
      }
    } finally {
      await handle.close();
    }
    return length;
  }

  private refuseAbove(size: number): void {
    if (size > this.maxBytes) {
      throw new SampleError('ERR_FILE_TOO_LARGE', `file is ${size} bytes, above maxFileBytes (${this.maxBytes}); not read`);
    }
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

function fileKind(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The system's reason once: Node's messages already start with the code (`ENOENT: no such file ...`). */
function withCode(e: NodeJS.ErrnoException): string {
  const code = e.code ?? 'read error';
  return e.message.startsWith(`${code}:`) ? e.message : `${code}: ${e.message}`;
}

/**
 * The first `bytes` bytes of a file (all of it when shorter), with the reader's rules: a regular file only,
 * opened without blocking; the same codes as {@link SampleReader.read}.
 */
export async function readHead(file: string | Buffer, bytes: number): Promise<Buffer> {
  const nul = typeof file === 'string' ? file.indexOf('\0') : file.indexOf(0);
  if (nul !== -1) throw new SampleError('ERR_READ', `the path has a NUL byte at offset ${nul}: no file has that name`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new SampleError('ERR_READ', withCode(err as NodeJS.ErrnoException));
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new SampleError('ERR_NOT_REGULAR_FILE', `not a regular file (${fileKind(st)}): only regular files are read`);
    const out = Buffer.allocUnsafe(Math.min(bytes, st.size));
    let length = 0;
    while (length < out.length) {
      const { bytesRead } = await handle.read(out, length, out.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return out.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** The file's bytes in a buffer of its own; the same codes as {@link SampleReader.read}. */
export function readSample(file: string | Buffer, maxBytes = DEFAULT_MAX_FILE_BYTES): Promise<Buffer> {
  return new SampleReader(0, maxBytes).read(file);
}

/**
 * sharp's error for a file, as a code: over the pixel limit, not an image format it knows, or a bad decode.
 * With the file's bytes, what they show comes first (a PNG, JPEG or GIF that ends before its end marker):
 * libpng says only "read error", libvips "Warning treated as error due to failOn setting".
 */
export function classifyDecodeError(err: unknown, maxPixels: number, data?: Uint8Array): SampleError {
  if (err instanceof SampleError) return err;
  const message = (err instanceof Error ? err.message : String(err)).trim().split('\n').filter((l) => l !== '').join('; ');
  if (/pixel limit/i.test(message)) return new SampleError('ERR_TOO_MANY_PIXELS', `${message} (maxPixels ${maxPixels})`);
  if (/unsupported image format/i.test(message)) return new SampleError('ERR_NOT_IMAGE', message);
  const found = data === undefined ? null : truncation(data);
  if (found === null) {
    return new SampleError('ERR_DECODE', /warning treated as error/i.test(message) ? `the decoder warned about corrupt data (${message})` : message);
  }
  // What the bytes show comes first. libvips keeps one error buffer for all threads: with several decoding
  // at once, a message can be another file's (a JPEG decoder's words for a PNG); such words are left out.
  const foreign = data !== undefined && !decoderMatches(message, data);
  return new SampleError('ERR_DECODE', foreign ? found : `${found} (${message})`);
}

/** Whether `message` names no decoder, or the one for `data`'s format. */
function decoderMatches(message: string, data: Uint8Array): boolean {
  const names = { jpeg: /jpeg|jpg/i, png: /png/i, gif: /gif/i } as const;
  const format = data[0] === 0x89 && data[1] === 0x50 ? 'png' : data[0] === 0xff && data[1] === 0xd8 ? 'jpeg' : data[0] === 0x47 && data[1] === 0x49 ? 'gif' : null;
  const named = (Object.keys(names) as (keyof typeof names)[]).filter((f) => names[f].test(message));
  return named.length === 0 || (format !== null && named.includes(format));
}

/** Whether a PNG, JPEG or GIF stops before its end marker, in words; `null` when it does not (or is none of them). */
function truncation(data: Uint8Array): string | null {
  const size = `${data.length} bytes`;
  const endsWith = (tail: number[]) => tail.every((b, i) => data[data.length - tail.length + i] === b);
  if (data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e && data[3] === 0x47) {
    // The IEND chunk: length 0, type, CRC.
    return endsWith([0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]) ? null : `truncated PNG: the file ends at ${size}, before its IEND chunk`;
  }
  if (data[0] === 0xff && data[1] === 0xd8) {
    // Encoders may pad after the EOI marker; look for it near the end.
    for (let i = data.length - 2; i >= Math.max(0, data.length - 64); i--) if (data[i] === 0xff && data[i + 1] === 0xd9) return null;
    return `truncated JPEG: the file ends at ${size}, before its end-of-image marker`;
  }
  if (data[0] === 0x47 && data[1] === 0x49 && data[2] === 0x46) {
    return data[data.length - 1] === 0x3b ? null : `truncated GIF: the file ends at ${size}, before its trailer`;
  }
  return null;
}
