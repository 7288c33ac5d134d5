/**
 * A shard's samples, read front to back from its bytes with `tar-stream`: members are grouped by key as
 * WebDataset groups them. The key of `a/b/000123.seg.png` is `a/b/000123` (the path up to the first dot of its
 * last component) and its extension `seg.png` (lower-cased); consecutive members with one key are one sample.
 * Members whose name has no such split, top-level `__meta__` files and anything that is not a regular file
 * are passed over. Member names are only keys: nothing is ever written under them.
 */
import tar, { type Extract } from 'tar-stream';

type Entry = Extract extends AsyncIterable<infer E> ? E : never;

/** WebDataset's split of a member name into key and extension; `null` for a name it passes over. */
export function splitMemberName(name: string): { key: string; extension: string } | null {
  if (!name.includes('/') && name.startsWith('__') && name.endsWith('__')) return null;
  const m = /^((?:.*\/|)[^.]+)\.([^/]*)$/.exec(name);
  if (m === null) return null;
  return { key: m[1], extension: m[2].toLowerCase() };
}

/** One member of a sample: its extension, its size from the tar header, and its bytes when they were kept. */
export interface SampleMember {
  extension: string;
  size: number;
  /** `null` when the member was passed over (not asked for, or larger than the limit). */
  data: Buffer | null;
}

/** One group of members sharing a key, in shard order. */
export interface GroupedSample {
  key: string;
  members: SampleMember[];
  /** Why the group cannot be a sample whatever its members (a key seen before in this shard, a repeated extension). */
  problem: string | null;
}

export interface ReadSamplesOptions {
  /** Whether to keep a member's bytes, by extension; the others are read past. */
  keep: (extension: string) => boolean;
  /** Members above this size are never held: read past, their `data` left `null`. */
  maxMemberBytes: number;
}

async function memberBytes(entry: Entry, size: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for await (const chunk of entry) {
    // Chunks are Uint8Arrays (not Buffers) when the bytes come from fetch.
    const bytes = chunk as Uint8Array;
    out.set(bytes.subarray(0, Math.max(0, size - at)), at);
    at += bytes.length;
  }
  return at >= size ? out : out.subarray(0, at);
}

/**
 * The samples in a tar byte stream, in order. A tar that ends early or breaks throws (the samples before the
 * break have been yielded). Breaking out of the iteration stops reading.
 */
export async function* readSamples(chunks: AsyncIterable<Uint8Array>, options: ReadSamplesOptions): AsyncGenerator<GroupedSample, void, undefined> {
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
  const seen = new Set<string>();
  let current: GroupedSample | null = null;
  try {
    for await (const entry of extract) {
      const { name, type, size = 0 } = entry.header;
      const split = type === 'file' || type === 'contiguous-file' ? splitMemberName(name) : null;
      if (split === null) {
        entry.resume();
        continue;
      }
      if (current === null || current.key !== split.key) {
        if (current !== null) yield current;
        current = { key: split.key, members: [], problem: null };
        if (seen.has(split.key)) current.problem = `duplicate key '${split.key}' (it came earlier in this shard)`;
        seen.add(split.key);
      }
      if (current.members.some((m) => m.extension === split.extension)) {
        current.problem ??= `duplicate member '${name}' (two .${split.extension} members for one key)`;
      }
      const wanted = options.keep(split.extension) && size <= options.maxMemberBytes;
      const data = wanted ? await memberBytes(entry, size) : null;
      if (!wanted) entry.resume();
      current.members.push({ extension: split.extension, size, data });
    }
    if (feedError !== null) throw feedError;
    if (current !== null) yield current;
  } finally {
    stopped = true;
    if (!extract.destroyed) extract.destroy();
    await source.return?.(undefined)?.catch(() => undefined);
    await feeding;
  }
}
