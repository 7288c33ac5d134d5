/**
 * `imgstream pack`: a folder (or CSV) of images into WebDataset tar shards plus their `shards.json` index.
 * Each sample is `<key>.<ext>` (the image's bytes, or re-encoded after `maxSide` shrinks it) and `<key>.cls`
 * (its label) next to each other; the key is the image's path below the root without its extension. Shards
 * are plain POSIX (pax) tar files with fixed times and owners, so the same input packs to the same bytes.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import sharp from 'sharp';
import tar from 'tar-stream';
import { fromCsv } from '../csv-index.js';
import { Errors, type SkippedSample } from '../errors.js';
import { fromDirectory, type FileIndex } from '../file-index.js';
import { readSample, type SampleError } from '../read-sample.js';
import { epochOrder } from '../sampler.js';
import { INDEX_FILE, makeShardIndex, type ShardEntry } from './shard-index.js';

export interface PackOptions {
  /** Start a new shard before one grows past this many bytes. Default 256 MiB. */
  shardSize?: number;
  /** Start a new shard after this many samples. Default: no limit (by size only). */
  samplesPerShard?: number | null;
  /** Shrink images whose longer side is above this (re-encoded in their own format); `null` keeps the bytes. Default `null`. */
  maxSide?: number | null;
  /** Shuffle the samples before packing, so that each shard mixes the classes. Default `true`. */
  shuffle?: boolean;
  /** Seed of that shuffle. Default `0`. */
  seed?: number;
  /** Shard file names: `<prefix>-000000.tar`, ... Default `'shard'`. */
  prefix?: string;
  /** Images read (and resized) at once. Default: 2 x cores. */
  concurrency?: number;
  /** A progress bar on stderr. Default `false`. */
  progress?: boolean;
}

export interface PackResult {
  outDir: string;
  index: string;
  shards: ShardEntry[];
  samples: number;
  bytes: number;
  /** Files that could not be read, with the reason; they are not in the shards. */
  skipped: SkippedSample[];
  seconds: number;
}

/** tar pads each member to 512-byte blocks after a 512-byte header. */
const memberBytes = (size: number) => 512 + Math.ceil(size / 512) * 512;
const FIXED_TIME = new Date(0);

/**
 * The WebDataset key of `file` below `root`: its relative path with `/` separators and without its extension;
 * dots in the last component become `_` (a dot there would end the key), `.`/`..` segments are dropped.
 */
export function keyFor(root: string, file: string): string {
  const rel = path.relative(root, file).split(path.sep).filter((s) => s !== '' && s !== '.' && s !== '..');
  const last = rel.pop() ?? 'sample';
  const dot = last.lastIndexOf('.');
  const stem = (dot > 0 ? last.slice(0, dot) : last).replace(/\./g, '_') || 'sample';
  return [...rel, stem].join('/');
}

function extensionOf(file: string): string {
  return path.extname(file).slice(1).toLowerCase() || 'jpg';
}

async function shrink(data: Buffer, ext: string, maxSide: number): Promise<{ data: Buffer; ext: string }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(data).metadata();
  } catch {
    // Not decodable: packed as it is, so that the loader reports it exactly as it would from the folder.
    return { data, ext };
  }
  const oriented = (meta.orientation ?? 1) >= 5;
  const w = (oriented ? meta.height : meta.width) ?? 0;
  const h = (oriented ? meta.width : meta.height) ?? 0;
  if (Math.max(w, h) <= maxSide) return { data, ext };
  const image = sharp(data).autoOrient().resize(maxSide, maxSide, { fit: 'inside' });
  if (ext === 'jpg' || ext === 'jpeg') return { data: await image.jpeg({ quality: 95 }).toBuffer(), ext };
  if (ext === 'webp') return { data: await image.webp({ quality: 95 }).toBuffer(), ext };
  return { data: await image.png().toBuffer(), ext: 'png' };
}

async function openIndex(source: string): Promise<{ index: FileIndex; root: string }> {
  const st = await fsp.stat(source).catch(() => null);
  if (st === null) throw Errors.notFound(source, 'Folder or CSV');
  if (st.isDirectory()) return { index: await fromDirectory(source), root: source };
  return { index: await fromCsv(source), root: path.dirname(source) };
}

/**
 * Packs the images of `source` (a class-folder tree or a CSV of `path,label`) into shards in `outDir`.
 *
 * @example
 * const result = await packShards('data/train', 'shards/train', { shardSize: 256 * 2 ** 20, maxSide: 512 });
 * // shards/train/shard-000000.tar, ..., shards/train/shards.json
 */
export async function packShards(source: string, outDir: string, options: PackOptions = {}): Promise<PackResult> {
  const started = performance.now();
  const shardSize = options.shardSize ?? 256 * 2 ** 20;
  const perShard = options.samplesPerShard ?? null;
  const maxSide = options.maxSide ?? null;
  const prefix = options.prefix ?? 'shard';
  const concurrency = options.concurrency ?? 2 * os.availableParallelism();
  if (!Number.isFinite(shardSize) || shardSize < 1024) throw Errors.invalidOption('shardSize', 'at least 1 KiB', shardSize);
  if (perShard !== null && (!Number.isInteger(perShard) || perShard < 1)) throw Errors.invalidOption('samplesPerShard', 'a positive integer', perShard);
  if (maxSide !== null && (!Number.isInteger(maxSide) || maxSide < 1)) throw Errors.invalidOption('maxSide', 'a positive integer', maxSide);
  if (!/^[\w.-]+$/.test(prefix)) throw Errors.invalidOption('prefix', 'letters, digits, ., _ or -', prefix);

  const { index, root } = await openIndex(source);
  mkdirSync(outDir, { recursive: true });
  const order = epochOrder(index.size, { shuffle: options.shuffle ?? true, seed: options.seed ?? 0, epoch: 0 });
  const keys = new Set<string>();
  const skipped: SkippedSample[] = [];
  const shards: ShardEntry[] = [];
  const bar = options.progress
    ? new cliProgress.SingleBar(
        { format: 'Packing {bar} {value}/{total} images | {shards} shards', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(index.size, 0, { shards: 0 });

  let pack: tar.Pack | null = null;
  let done: Promise<void> = Promise.resolve();
  let current: ShardEntry | null = null;
  const closeShard = async () => {
    if (pack === null || current === null) return;
    pack.finalize();
    await done;
    current.filesize = (await fsp.stat(path.join(outDir, current.url))).size;
    shards.push(current);
    pack = null;
    current = null;
  };
  const openShard = () => {
    const name = `${prefix}-${String(shards.length).padStart(6, '0')}.tar`;
    pack = tar.pack();
    const out = createWriteStream(path.join(outDir, name));
    pack.pipe(out);
    done = finished(out);
    current = { url: name, nsamples: 0, filesize: 1024, maxSampleBytes: 0 };
  };
  const write = (p: tar.Pack, name: string, data: Buffer) =>
    new Promise<void>((resolve, reject) => {
      p.entry({ name, size: data.length, mode: 0o644, mtime: FIXED_TIME, uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, data, (err) =>
        err ? reject(err) : resolve(),
      );
    });

  const prepare = async (entry: number) => {
    const file = index.path(entry);
    try {
      const data = await readSample(file);
      const ext = extensionOf(file);
      return { file, entry, ...(maxSide === null ? { data, ext } : await shrink(data, ext, maxSide)) };
    } catch (err) {
      const e = err as SampleError;
      return { file, entry, error: { path: file, code: e.code ?? 'ERR_READ', message: e.message } as SkippedSample };
    }
  };
  const ahead: Promise<Awaited<ReturnType<typeof prepare>>>[] = [];
  let next = 0;
  const fill = () => {
    while (ahead.length < concurrency && next < order.length) ahead.push(prepare(order[next++]));
  };
  fill();
  let samples = 0;
  let total = 0;
  while (ahead.length > 0) {
    const item = await (ahead.shift() as Promise<Awaited<ReturnType<typeof prepare>>>);
    fill();
    bar?.increment(1, { shards: shards.length + (current ? 1 : 0) });
    if ('error' in item && item.error) {
      skipped.push(item.error);
      continue;
    }
    const { data, ext } = item as { data: Buffer; ext: string };
    let key = keyFor(root, item.file);
    if (keys.has(key)) key = `${key}_${item.entry}`;
    keys.add(key);
    const label = index.labels === null ? null : Buffer.from(String(index.labels[item.entry]));
    const size = memberBytes(data.length) + (label === null ? 0 : memberBytes(label.length));
    const shard = current as ShardEntry | null;
    if (shard !== null && shard.nsamples > 0 && ((perShard !== null && shard.nsamples >= perShard) || shard.filesize + size > shardSize)) {
      await closeShard();
    }
    if (current === null) openShard();
    const p = pack as unknown as tar.Pack;
    const c = current as unknown as ShardEntry;
    await write(p, `${key}.${ext}`, data);
    if (label !== null) await write(p, `${key}.cls`, label);
    c.nsamples += 1;
    c.filesize += size;
    c.maxSampleBytes = Math.max(c.maxSampleBytes, data.length);
    samples += 1;
    total += data.length;
  }
  await closeShard();
  bar?.stop();
  if (samples === 0) throw Errors.nothingDecodable(source, index.size);
  const indexFile = path.join(outDir, INDEX_FILE);
  const classNames = index.labels === null ? null : index.classNames;
  await fsp.writeFile(indexFile, `${JSON.stringify(makeShardIndex(classNames, shards), null, 1)}\n`);
  return { outDir, index: indexFile, shards, samples, bytes: total, skipped, seconds: (performance.now() - started) / 1000 };
}
