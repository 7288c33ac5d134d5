/**
 * The shard index: a small JSON file next to the shards (`shards.json`, written by `imgstream pack`) that
 * lists every shard with its sample count, its size and its largest image, plus the class names. It is a
 * superset of WebDataset's `wids` shard index (`__kind__`, `wids_version`, `shardlist[].url/nsamples`), so
 * `wids` reads it too. Without one, local shards are counted by a first pass over their tar headers alone.
 */
import { Errors, ImgstreamError } from '../errors.js';
import { promises as fsp } from 'node:fs';
import { displayUrl, openerFor, readShard, schemeOf, ShardReadError, type RetryPolicy, type ShardOpener } from './openers.js';
import { fileEntries, localFile, streamEntries, type WalkCounters } from './tar-entries.js';
import { groupSamples } from './tar-samples.js';

/** The index's file name, next to the shards. */
export const INDEX_FILE = 'shards.json';
export const INDEX_FORMAT = 'imgstream-shards';
export const INDEX_VERSION = 1;

export interface ShardEntry {
  /** The shard's URL or path, relative to the index's location unless absolute. */
  url: string;
  /** Samples (keys) in the shard. */
  nsamples: number;
  /** Bytes of the tar file. */
  filesize: number;
  /** Bytes of the shard's largest image member. */
  maxSampleBytes: number;
}

export interface ShardIndexFile {
  __kind__: 'wids-shard-index-v1';
  wids_version: 1;
  format: typeof INDEX_FORMAT;
  version: typeof INDEX_VERSION;
  /** Class names in label order, or `null` for unlabeled shards. */
  classNames: string[] | null;
  shardlist: ShardEntry[];
}

export function makeShardIndex(classNames: readonly string[] | null, shardlist: ShardEntry[]): ShardIndexFile {
  return {
    __kind__: 'wids-shard-index-v1',
    wids_version: 1,
    format: INDEX_FORMAT,
    version: INDEX_VERSION,
    classNames: classNames === null ? null : [...classNames],
    shardlist,
  };
}

const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Checks a parsed index; `where` names it in messages. */
export function validateShardIndex(value: unknown, where: string): ShardIndexFile {
  const bad = (what: string) => new ImgstreamError('ERR_OPTION', `Shard index ${where}: ${what}`);
  if (value === null || typeof value !== 'object') throw bad('not a JSON object');
  const v = value as Partial<ShardIndexFile>;
  if (v.format !== undefined && (v.format !== INDEX_FORMAT || v.version !== INDEX_VERSION)) {
    throw bad(`format ${String(v.format)} version ${String(v.version)} (this version reads ${INDEX_FORMAT} version ${INDEX_VERSION})`);
  }
  if (!Array.isArray(v.shardlist) || v.shardlist.length === 0) throw bad('no shardlist');
  v.shardlist.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || typeof s.url !== 'string' || !count(s.nsamples)) {
      throw bad(`shardlist[${i}] needs a url and an integer nsamples`);
    }
  });
  const classNames = v.classNames ?? null;
  if (classNames !== null && (!Array.isArray(classNames) || classNames.some((c) => typeof c !== 'string'))) {
    throw bad('classNames must be an array of strings');
  }
  return {
    ...makeShardIndex(classNames, []),
    shardlist: v.shardlist.map((s) => ({
      url: s.url,
      nsamples: s.nsamples,
      filesize: count(s.filesize) ? s.filesize : 0,
      maxSampleBytes: count(s.maxSampleBytes) ? s.maxSampleBytes : 0,
    })),
  };
}

/** The location of `name` next to `url` (a path or a URL). */
export function siblingOf(url: string, name: string): string {
  const slash = url.lastIndexOf('/');
  return slash === -1 ? name : `${url.slice(0, slash + 1)}${name}`;
}

/** `entry` resolved against the index's location, unless it is absolute. */
export function resolveAgainst(indexLocation: string, entry: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || entry.startsWith('/')) return entry;
  return siblingOf(indexLocation, entry);
}

/** The bytes of a small object (the index) through the shard openers; `null` when it does not exist. */
async function readSmall(location: string, policy: RetryPolicy): Promise<Buffer | null> {
  const opener = openerFor(location);
  if (opener === null) return null;
  const chunks: Buffer[] = [];
  let total = 0;
  const controller = new AbortController();
  try {
    for await (const chunk of readShard(location, opener, policy, controller.signal)) {
      chunks.push(Buffer.from(chunk));
      total += chunk.length;
      if (total > 64 << 20) throw new ImgstreamError('ERR_OPTION', `Shard index ${displayUrl(location)} is larger than 64 MiB`);
    }
  } catch (err) {
    if (err instanceof ShardReadError && !err.retryable && (err.status === 404 || /not found/.test(err.message))) return null;
    if (err instanceof ShardReadError) {
      throw new ImgstreamError('ERR_SHARD_READ', `Cannot read the shard index ${displayUrl(location)}: ${err.message}`, { path: displayUrl(location) });
    }
    throw err;
  }
  return Buffer.concat(chunks);
}

/** Reads and checks the index at `location`; `null` when there is none there. */
export async function loadShardIndex(location: string, policy: RetryPolicy): Promise<ShardIndexFile | null> {
  const bytes = await readSmall(location, policy);
  if (bytes === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ImgstreamError('ERR_OPTION', `Shard index ${displayUrl(location)}: not valid JSON (${(err as Error).message})`);
  }
  return validateShardIndex(parsed, displayUrl(location));
}

/**
 * Counts a shard's samples, keeping nothing but tar headers: a local file by reading its header blocks only
 * and seeking over every member's data, another URL by reading it once. The grouping is the one the loader
 * reads with, so the counts agree with what it will find.
 */
export async function countShard(url: string, policy: RetryPolicy, isImage: (extension: string) => boolean, counters?: WalkCounters): Promise<ShardEntry> {
  const opener = openerFor(url);
  if (opener === null) throw Errors.invalidOption('urls', 'paths, http(s):// or s3:// URLs of shards', url);
  let nsamples = 0;
  let filesize = 0;
  let maxSampleBytes = 0;
  const controller = new AbortController();
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of readShard(url, opener as ShardOpener, policy, controller.signal)) {
      filesize += chunk.length;
      yield chunk;
    }
  }
  const local = schemeOf(url) === 'file:';
  const entries = local ? fileEntries(localFile(url), 0, counters) : streamEntries(counted());
  try {
    for await (const sample of groupSamples(entries, { keep: () => false, maxMemberBytes: 0 })) {
      nsamples += 1;
      for (const m of sample.members) if (isImage(m.extension)) maxSampleBytes = Math.max(maxSampleBytes, m.size);
    }
    if (local) filesize = (await fsp.stat(localFile(url))).size;
  } catch (err) {
    // A shard that cannot be read through is counted up to its break; the loader reports it when it meets it.
    if (nsamples === 0 && err instanceof ShardReadError && !err.retryable) {
      throw new ImgstreamError('ERR_SHARD_READ', `Cannot read shard ${displayUrl(url)}: ${err.message}`, { path: displayUrl(url) });
    }
  }
  return { url, nsamples, filesize, maxSampleBytes };
}
