/**
 * A shard's tar entries, two ways, one shape ({@link TarEntry}), one walk over the headers:
 * - {@link streamEntries}: from a byte stream (a socket, an object store), over its chunks as they arrive; the
 *   data asked for are copied once, out of the chunks, and the others passed over;
 * - {@link fileEntries}: from a local file by seeking: only the header blocks (and the bytes of the entries
 *   asked for) are read, the other entries' data are seeked over.
 *
 * Both decode the headers with `tar-stream`'s own header code (`headers.js`, the decoder its extractor uses)
 * and follow its extractor's rules: pax and GNU long-name headers apply to the next entry, bodies are padded
 * to 512 bytes, zero blocks are passed over, bytes that end before a whole header, body or padding are an
 * `Unexpected end of data`. No stream object, event or buffer is made per entry.
 *
 * Either way the entries come with their byte offsets in the shard, so that a reader can start at a
 * sample's first header (a resumed epoch) and a local image can be read later straight into shared memory.
 */
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardReadError } from './openers.js';

/** One tar entry, in shard order. */
export interface TarEntry {
  name: string;
  /** tar-stream's type name: `'file'`, `'directory'`, `'symlink'`, ... */
  type: string;
  size: number;
  /** Byte offset of the entry's data in the shard. */
  dataOffset: number;
  /** Byte offset of the entry's first header block (its pax or long-name header when it has one). */
  start: number;
  /** The entry's data, in one buffer of its own; when not called before the next entry, they are passed over. */
  read(): Promise<Uint8Array[]>;
}

interface DecodedHeader {
  name: string;
  type: string | null;
  size: number;
  linkname?: string | null;
}

interface TarHeaderCode {
  decode(block: Uint8Array, filenameEncoding: string, allowUnknownFormat: boolean): DecodedHeader | null;
  decodePax(buf: Uint8Array): Record<string, string>;
  decodeLongPath(buf: Uint8Array, encoding: string): string;
}

// The package exports only its entry point; its header module sits next to it.
const require = createRequire(import.meta.url);
const headerCode = require(path.join(path.dirname(require.resolve('tar-stream')), 'headers.js')) as TarHeaderCode;

const BLOCK = 512;
/** As tar-stream's extractor: longer pax or long-name headers are refused. */
const MAX_HEADER_SIZE = 4 * 1024 * 1024;
const padded = (size: number) => size + ((BLOCK - (size % BLOCK)) % BLOCK);

/**
 * The extractor's rules for the headers that apply to the next entry: GNU long names and pax records (a
 * global pax header stays under every later one). Both walks keep one of these per shard.
 */
class LongHeaders {
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private longPath: string | null = null;

  /** Whether a header of `type` is one whose body applies to the next entry. */
  static holds(type: string): boolean {
    return type === 'gnu-long-path' || type === 'gnu-long-link-path' || type === 'pax-global-header' || type === 'pax-header';
  }

  /** Takes the body of such a header. */
  take(type: string, body: Uint8Array): void {
    if (type === 'gnu-long-path') this.longPath = headerCode.decodeLongPath(body, 'utf-8');
    else if (type === 'pax-global-header') this.paxGlobal = headerCode.decodePax(body);
    else if (type === 'pax-header') this.pax = this.paxGlobal === null ? headerCode.decodePax(body) : { ...this.paxGlobal, ...headerCode.decodePax(body) };
  }

  /** The entry's name and size once the headers before it are applied (and forgotten). */
  apply(header: DecodedHeader): { name: string; size: number } {
    let { name, size } = header;
    if (this.longPath !== null) name = this.longPath;
    if (this.pax !== null) {
      if (this.pax.path) name = this.pax.path;
      if (this.pax.size) size = parseInt(this.pax.size, 10);
    }
    this.longPath = null;
    this.pax = null;
    if (!(size >= 0)) throw new Error('Invalid header');
    return { name, size };
  }
}

const NO_BYTES = new Uint8Array(0);

/**
 * The entries of a tar byte stream that starts at byte `base` of its shard, walked header by header over the
 * chunks as they arrive: a header is decoded where it lies (copied only when it straddles two chunks), the
 * data of an entry asked for are copied once into a buffer of their own (so that a chunk is let go as soon as
 * it is walked, and what a sample holds is its bytes), the others are passed over. A chunk is not looked at
 * again once the next one is asked for. The rules are the local walk's.
 * A stream that ends inside a header, a body or its padding is an `Unexpected end of data`; the source's own
 * error (a shard that could not be read) is thrown as it is. Breaking out of the iteration ends the source.
 */
export async function* streamEntries(
  chunks: AsyncIterable<Uint8Array>,
  base = 0,
  /** Where the data asked for are copied to: a buffer of `n` bytes. */
  allocate: (n: number) => Buffer = Buffer.allocUnsafe,
): AsyncGenerator<TarEntry, void, undefined> {
  const source = chunks[Symbol.asyncIterator]();
  let chunk: Uint8Array = NO_BYTES;
  let at = 0;
  /** Byte offset in the shard of `chunk[at]`. */
  let pos = base;
  const scratch = Buffer.allocUnsafe(BLOCK);
  /** The next non-empty chunk; `false` at the end of the stream. */
  const more = async (): Promise<boolean> => {
    for (;;) {
      const next = await source.next();
      if (next.done === true) return false;
      if (next.value.length === 0) continue;
      chunk = next.value;
      at = 0;
      return true;
    }
  };
  /** Walks `n` bytes on, copying them into `out` when one is given. */
  const advance = async (n: number, out: Uint8Array | null): Promise<void> => {
    let done = 0;
    while (done < n) {
      if (at === chunk.length && !(await more())) throw new Error('Unexpected end of data');
      const k = Math.min(n - done, chunk.length - at);
      if (out !== null) out.set(chunk.subarray(at, at + k), done);
      at += k;
      pos += k;
      done += k;
    }
  };
  /** The next `n` bytes, copied into a buffer of their own: nothing held keeps a chunk alive. */
  const take = async (n: number, into: (n: number) => Buffer = Buffer.allocUnsafe): Promise<Buffer> => {
    const out = into(n);
    await advance(n, out);
    return out;
  };
  const pass = (n: number): Promise<void> => advance(n, null);
  /** The next 512-byte block, or `null` at the end of the stream (which must fall between blocks). */
  const block = async (): Promise<Uint8Array | null> => {
    if (at === chunk.length && !(await more())) return null;
    if (chunk.length - at >= BLOCK) {
      const view = chunk.subarray(at, at + BLOCK);
      at += BLOCK;
      pos += BLOCK;
      return view;
    }
    // Straddles two chunks: copied.
    await advance(BLOCK, scratch);
    return scratch;
  };
  const long = new LongHeaders();
  let groupStart = pos;
  try {
    for (;;) {
      const bytes = await block();
      if (bytes === null) return;
      const header = headerCode.decode(bytes, 'utf-8', false);
      if (header === null) {
        groupStart = pos;
        continue;
      }
      const type = header.type ?? 'file';
      if (LongHeaders.holds(type)) {
        if (header.size > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        long.take(type, await take(header.size));
        await pass(padded(header.size) - header.size);
        continue;
      }
      const { name, size } = long.apply(header);
      const dataOffset = pos;
      const hasBody = size > 0 && type !== 'directory';
      let taken = false;
      let data: Promise<Buffer> | null = null;
      // Valid until the walk moves on: the data are taken from the stream when asked for.
      const read = (): Promise<Uint8Array[]> => {
        if (!hasBody) return Promise.resolve([]);
        taken = true;
        data ??= take(size, allocate);
        return data.then((bytes) => [bytes]);
      };
      yield { name, type, size, dataOffset, start: groupStart, read };
      if (hasBody) {
        if (taken) await data;
        else await pass(size);
        await pass(padded(size) - size);
      }
      groupStart = pos;
    }
  } finally {
    await source.return?.(undefined)?.catch(() => undefined);
  }
}

/** The local file of a path or `file:` URL. */
export function localFile(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

/** Bytes read per header visit: the header, a small member after it (a label) and the next header, at once. */
const WINDOW = 16 * 1024;

/** Counts what a walk read, for stats and tests. */
export interface WalkCounters {
  bytesRead: number;
}

/**
 * The entries of the local shard `file` from byte `start` on (a header boundary), reading headers and asked-for
 * data only; an entry's data are its own copy. A missing file is a {@link ShardReadError}; a tar that breaks throws after the entries before the
 * break. Breaking out of the iteration closes the file.
 */
export async function* fileEntries(file: string, start = 0, counters: WalkCounters = { bytesRead: 0 }): AsyncGenerator<TarEntry, void, undefined> {
  let handle: fsp.FileHandle;
  let fileSize: number;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ShardReadError(code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`, { retryable: false, cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ShardReadError(`not a regular file: ${file}`, { retryable: false });
    fileSize = st.size;
    // One window, reused: a header's block, and a small entry's data, are views on it until the next read.
    const window = Buffer.allocUnsafeSlow(WINDOW);
    let windowAt = 0;
    let windowLength = 0;
    const bytesAt = async (at: number, length: number): Promise<Uint8Array> => {
      if (at >= windowAt && at + length <= windowAt + windowLength) return window.subarray(at - windowAt, at - windowAt + length);
      if (length > WINDOW) {
        const out = Buffer.allocUnsafe(length);
        await readFully(handle, out, at, counters);
        return out;
      }
      windowAt = at;
      windowLength = Math.min(WINDOW, fileSize - at);
      await readFully(handle, window.subarray(0, windowLength), at, counters);
      return window.subarray(0, length);
    };
    let pos = start;
    let groupStart = pos;
    const long = new LongHeaders();
    for (;;) {
      if (pos === fileSize) return;
      if (pos + BLOCK > fileSize) throw new Error('Unexpected end of data');
      const header = headerCode.decode(await bytesAt(pos, BLOCK), 'utf-8', false);
      pos += BLOCK;
      if (header === null) {
        groupStart = pos;
        continue;
      }
      const type = header.type ?? 'file';
      if (LongHeaders.holds(type)) {
        if (header.size > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        if (pos + header.size > fileSize) throw new Error('Unexpected end of data');
        // Copied: the window moves on before the next header is decoded.
        long.take(type, Buffer.from(await bytesAt(pos, header.size)));
        pos += padded(header.size);
        continue;
      }
      const { name, size } = long.apply(header);
      const dataOffset = pos;
      const hasBody = size > 0 && type !== 'directory';
      const read = async (): Promise<Uint8Array[]> => {
        if (!hasBody) return [];
        if (dataOffset + size > fileSize) throw new Error('Unexpected end of data');
        // A copy: the window moves on with the next header, the sample keeps its members until it is whole.
        const bytes = await bytesAt(dataOffset, size);
        return [size > WINDOW ? bytes : Buffer.from(bytes)];
      };
      yield { name, type, size, dataOffset, start: groupStart, read };
      if (hasBody) {
        if (dataOffset + size > fileSize) throw new Error('Unexpected end of data');
        pos = dataOffset + padded(size);
      }
      groupStart = pos;
    }
  } finally {
    await handle.close();
  }
}

async function readFully(handle: fsp.FileHandle, into: Uint8Array, position: number, counters: WalkCounters): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error('Unexpected end of data');
    done += bytesRead;
    counters.bytesRead += bytesRead;
  }
}
