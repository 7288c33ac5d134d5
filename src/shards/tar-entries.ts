/**
 * A shard's tar entries, two ways, one shape ({@link TarEntry}):
 * - {@link streamEntries}: from a byte stream (a socket, an object store) through `tar-stream`'s extractor;
 *   an entry's data are the extractor's own chunks, never copied;
 * - {@link fileEntries}: from a local file by seeking: only the header blocks (and the bytes of the entries
 *   asked for) are read, the other entries' data are seeked over. The headers are decoded by `tar-stream`'s
 *   own header code (`headers.js`, the decoder its extractor uses), and the walk follows its extractor's
 *   rules: pax and GNU long-name headers apply to the next entry, bodies are padded to 512 bytes, zero blocks
 *   are passed over, bytes that end before a whole header or body are an `Unexpected end of data`.
 *
 * Either way the entries come with their byte offsets in the shard, so that a reader can start at a
 * sample's first header (a resumed epoch) and a local image can be read later straight into shared memory.
 */
import { promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';
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
  /** The entry's data as chunks (views, not copies); when not called before the next entry, they are passed over. */
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

/** The entries of a tar byte stream that starts at byte `base` of its shard. */
export async function* streamEntries(chunks: AsyncIterable<Uint8Array>, base = 0): AsyncGenerator<TarEntry, void, undefined> {
  const extract = tar.extract();
  let feedError: unknown = null;
  const source = chunks[Symbol.asyncIterator]();
  let stopped = false;
  // Feeds the extractor with backpressure; a failed source destroys it, so that its iteration throws.
  const feeding = (async () => {
    try {
      for (;;) {
        if (stopped) break;
        const next = await source.next();
        if (next.done || stopped) break;
        if (!extract.write(next.value as Buffer)) {
          // Until it drains, or closes (destroyed when the reader stops early).
          await new Promise<void>((resolve) => {
            const done = () => {
              extract.off('drain', done);
              extract.off('close', done);
              resolve();
            };
            extract.on('drain', done);
            extract.on('close', done);
          });
        }
      }
      if (!stopped) extract.end(undefined);
    } catch (err) {
      feedError = err;
      extract.destroy(err as Error);
    }
  })();
  let start = base;
  try {
    for await (const entry of extract) {
      const { name, type, size = 0 } = entry.header;
      // The extractor's offset of the entry's data, counted from the first byte it was given.
      const dataOffset = base + ((entry.header as { byteOffset?: number }).byteOffset ?? 0);
      let taken = false;
      // Events rather than the entry's async iterator: a promise per member instead of one per chunk.
      const read = () => {
        taken = true;
        return new Promise<Uint8Array[]>((resolve, reject) => {
          const out: Uint8Array[] = [];
          entry.on('data', (chunk: unknown) => out.push(chunk as Uint8Array));
          entry.once('end', () => resolve(out));
          entry.once('error', reject);
          entry.once('close', () => reject(new Error('Unexpected end of data')));
        });
      };
      yield { name, type: type ?? 'file', size, dataOffset, start, read };
      if (!taken) entry.resume();
      start = type === 'directory' || size === 0 ? dataOffset : dataOffset + padded(size);
    }
    if (feedError !== null) throw feedError;
  } finally {
    stopped = true;
    if (!extract.destroyed) extract.destroy();
    await source.return?.(undefined)?.catch(() => undefined);
    await feeding;
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
    let pax: Record<string, string> | null = null;
    let paxGlobal: Record<string, string> | null = null;
    let longPath: string | null = null;
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
      if (type === 'gnu-long-path' || type === 'gnu-long-link-path' || type === 'pax-global-header' || type === 'pax-header') {
        if (header.size > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        if (pos + header.size > fileSize) throw new Error('Unexpected end of data');
        // Copied: the window moves on before the next header is decoded.
        const body = Buffer.from(await bytesAt(pos, header.size));
        if (type === 'gnu-long-path') longPath = headerCode.decodeLongPath(body, 'utf-8');
        else if (type === 'pax-global-header') paxGlobal = headerCode.decodePax(body);
        else if (type === 'pax-header') pax = paxGlobal === null ? headerCode.decodePax(body) : { ...paxGlobal, ...headerCode.decodePax(body) };
        pos += padded(header.size);
        continue;
      }
      let { name, size } = header;
      if (longPath !== null) name = longPath;
      if (pax !== null) {
        if (pax.path) name = pax.path;
        if (pax.size) size = parseInt(pax.size, 10);
      }
      longPath = null;
      pax = null;
      if (!(size >= 0)) throw new Error('Invalid header');
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
