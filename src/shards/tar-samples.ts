/**
 * A shard's samples, from its tar entries in order (`tar-entries`): members are grouped by key as
 * WebDataset groups them. The key of `a/b/000123.seg.png` is `a/b/000123` (the path up to the first dot of its
 * last component) and its extension `seg.png` (lower-cased); consecutive members with one key are one sample.
 * Members whose name has no such split, top-level `__meta__` files and anything that is not a regular file
 * are passed over. Member names are only keys: nothing is ever written under them.
 */
import type { TarEntry } from './tar-entries.js';

/** WebDataset's split of a member name into key and extension; `null` for a name it passes over. */
export function splitMemberName(name: string): { key: string; extension: string } | null {
  if (!name.includes('/') && name.startsWith('__') && name.endsWith('__')) return null;
  const m = /^((?:.*\/|)[^.]+)\.([^/]*)$/.exec(name);
  if (m === null) return null;
  return { key: m[1], extension: m[2].toLowerCase() };
}

/** One member of a sample: its extension, its size and place from the tar header, and its bytes when kept. */
export interface SampleMember {
  extension: string;
  size: number;
  /** Byte offset of the member's data in the shard. */
  offset: number;
  /** The bytes (a buffer of their own: one, as both tar walks read them); `null` when passed over (not asked for, or larger than the limit). */
  data: Uint8Array[] | null;
}

/** One group of members sharing a key, in shard order. */
export interface GroupedSample {
  key: string;
  members: SampleMember[];
  /** Why the group cannot be a sample whatever its members (a key seen before in this shard, a repeated extension). */
  problem: string | null;
  /** Byte offset of the group's first header in the shard: a reader started there meets this sample first. */
  start: number;
}

export interface ReadSamplesOptions {
  /** Whether to keep a member's bytes, by extension; the others are passed over. */
  keep: (extension: string) => boolean;
  /** Members above this size are never held: passed over, their `data` left `null`. */
  maxMemberBytes: number;
}

/**
 * The samples in a shard's tar entries ({@link streamEntries} or {@link fileEntries}), in order. A tar that ends
 * early or breaks throws (the samples before the break have been yielded). Breaking out of the iteration stops
 * reading. With `seen`, keys met earlier in the shard (before a resumed reader's start) count as seen.
 */
export async function* groupSamples(entries: AsyncIterable<TarEntry>, options: ReadSamplesOptions, seen = new Set<string>()): AsyncGenerator<GroupedSample, void, undefined> {
  let current: GroupedSample | null = null;
  for await (const entry of entries) {
    const { name, type, size } = entry;
    const split = type === 'file' || type === 'contiguous-file' ? splitMemberName(name) : null;
    if (split === null) continue;
    if (current === null || current.key !== split.key) {
      if (current !== null) yield current;
      current = { key: split.key, members: [], problem: null, start: entry.start };
      if (seen.has(split.key)) current.problem = `duplicate key '${split.key}' (it came earlier in this shard)`;
      seen.add(split.key);
    }
    if (current.members.some((m) => m.extension === split.extension)) {
      current.problem ??= `duplicate member '${name}' (two .${split.extension} members for one key)`;
    }
    const wanted = options.keep(split.extension) && size <= options.maxMemberBytes;
    const data = wanted ? await entry.read() : null;
    current.members.push({ extension: split.extension, size, offset: entry.dataOffset, data });
  }
  if (current !== null) yield current;
}

/** A member's bytes as one buffer (a label's text, an image for inspection); copies only when it spans chunks. */
export function memberBytes(data: readonly Uint8Array[]): Buffer {
  if (data.length === 1) return Buffer.from(data[0].buffer, data[0].byteOffset, data[0].byteLength);
  return Buffer.concat(data);
}
