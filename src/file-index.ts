/**
 * The index: every sample's path and label, and nothing else, kept in memory. Paths are packed into one
 * SharedArrayBuffer of UTF-8 bytes plus a table of offsets, so a million paths cost tens of megabytes and
 * every decode worker reads them without a copy.
 */
import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { Errors } from './errors.js';

/** File extensions recognised as images (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif'];

/** Grows a packed path table one path at a time, without keeping the strings. */
export class PathPacker {
  private bytes = Buffer.alloc(1 << 16);
  private offsets = new Float64Array(1 << 10);
  private count = 0;
  private used = 0;

  push(p: string): void {
    const need = this.used + p.length * 3;
    if (need > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(need, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    if (this.count + 2 > this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    // Buffer#write, unlike TextEncoder#encodeInto, makes no view and no result object per path.
    this.used += this.bytes.write(p, this.used);
    this.count += 1;
    this.offsets[this.count] = this.used;
  }

  get size(): number {
    return this.count;
  }

  finish(): { pathBytes: SharedArrayBuffer; pathOffsets: SharedArrayBuffer } {
    const pathBytes = new SharedArrayBuffer(this.used);
    new Uint8Array(pathBytes).set(this.bytes.subarray(0, this.used));
    const pathOffsets = new SharedArrayBuffer((this.count + 1) * 8);
    new Float64Array(pathOffsets).set(this.offsets.subarray(0, this.count + 1));
    this.bytes = Buffer.alloc(0);
    this.offsets = new Float64Array(0);
    return { pathBytes, pathOffsets };
  }
}

/**
 * Reads path `i` out of a packed table (also used by the decode workers). `text` is one Buffer over the
 * whole of `pathBytes`, made once: decoding a range of it makes no view per path.
 */
export function readPackedPath(text: Buffer, offsets: Float64Array, i: number): string {
  return text.toString('utf8', offsets[i], offsets[i + 1]);
}

/**
 * An immutable list of samples: packed paths, optional integer labels and the class names they index.
 * Build one with {@link fromDirectory} or {@link fromList}.
 */
export class FileIndex {
  readonly size: number;
  readonly classNames: readonly string[];
  /** One label per entry, or `null` for an unlabeled index. */
  readonly labels: Int32Array | null;
  readonly pathBytes: SharedArrayBuffer;
  readonly pathOffsets: SharedArrayBuffer;
  /** The folder the index was read from, when it was read from one. */
  readonly root: string | null;
  private readonly offsets: Float64Array;
  private readonly text: Buffer;

  /** @internal use {@link fromDirectory} or {@link fromList}. */
  constructor(parts: {
    pathBytes: SharedArrayBuffer;
    pathOffsets: SharedArrayBuffer;
    labels: Int32Array | null;
    classNames: readonly string[];
    root: string | null;
  }) {
    this.pathBytes = parts.pathBytes;
    this.pathOffsets = parts.pathOffsets;
    this.offsets = new Float64Array(parts.pathOffsets);
    this.text = Buffer.from(parts.pathBytes);
    this.size = this.offsets.length - 1;
    this.labels = parts.labels;
    this.classNames = Object.freeze([...parts.classNames]);
    this.root = parts.root;
    Object.freeze(this);
  }

  /** The path of entry `i`. */
  path(i: number): string {
    return readPackedPath(this.text, this.offsets, i);
  }

  /** Bytes held by the packed paths, offsets and labels. */
  get byteLength(): number {
    return this.pathBytes.byteLength + this.pathOffsets.byteLength + (this.labels?.byteLength ?? 0);
  }
}

function packIndex(paths: Iterable<string>, root: string): FileIndex {
  const packer = new PathPacker();
  for (const p of paths) packer.push(p);
  return new FileIndex({ ...packer.finish(), labels: null, classNames: [], root });
}

/**
 * An index over explicit paths, with optional integer labels.
 *
 * @example
 * const index = fromList(['a/cat.jpg', 'b/dog.png'], [0, 1], { classNames: ['cat', 'dog'] });
 *
 * @param paths - any iterable (a generator keeps even millions of paths from being held twice).
 * @param labels - one integer label per path, in `[0, numClasses)`; omit for an unlabeled index.
 * @param opts.classNames - names of the classes; default `['0', '1', ...]` up to the largest label.
 */
export function fromList(
  paths: Iterable<string>,
  labels?: ArrayLike<number> | Iterable<number> | null,
  opts: { classNames?: readonly string[] } = {},
): FileIndex {
  if (paths === null || paths === undefined || typeof (paths as Iterable<string>)[Symbol.iterator] !== 'function') {
    throw Errors.invalidOption('paths', 'an iterable of strings', paths);
  }
  const packer = new PathPacker();
  for (const p of paths) {
    if (typeof p !== 'string' || p.length === 0) {
      throw Errors.invalidOption(`paths[${packer.size}]`, 'a non-empty string', p);
    }
    packer.push(p);
  }
  const size = packer.size;
  let labelArray: Int32Array | null = null;
  let classNames: readonly string[] = opts.classNames ?? [];
  if (labels !== undefined && labels !== null) {
    const values = Array.from(labels as ArrayLike<number>);
    if (values.length !== size) {
      throw Errors.invalidOption('labels', `${size} labels, one per path`, `${values.length} labels`);
    }
    let max = -1;
    values.forEach((v, i) => {
      if (!Number.isInteger(v) || v < 0) throw Errors.invalidOption(`labels[${i}]`, 'a non-negative integer', v);
      if (opts.classNames && v >= opts.classNames.length) {
        throw Errors.invalidOption(`labels[${i}]`, `an integer below ${opts.classNames.length} (classNames.length)`, v);
      }
      max = Math.max(max, v);
    });
    if (!opts.classNames) classNames = Array.from({ length: max + 1 }, (_, i) => String(i));
    labelArray = Int32Array.from(values);
  }
  if (size === 0) throw Errors.invalidOption('paths', 'at least one path', '0 paths');
  return new FileIndex({ ...packer.finish(), labels: labelArray, classNames, root: null });
}

/**
 * UTF-16 code units with the surrogates moved above U+E000..U+FFFF: compared unit by unit, these sort as
 * code points do (a surrogate belongs to a code point above U+FFFF).
 */
function codePointOrderUnit(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

/**
 * Python's `sorted()` on str compares code points. Compared in place, not as encoded copies: a sort of a
 * folder of n files makes n log n comparisons, and garbage per comparison grows the young generation.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrderUnit(x) - codePointOrderUnit(y);
  }
  return a.length - b.length;
}

export function isHidden(name: string): boolean {
  return name.startsWith('.');
}

export function hasImageExtension(name: string, extensions: ReadonlySet<string>): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && extensions.has(name.slice(dot + 1).toLowerCase());
}

interface Listing {
  files: string[];
  dirs: string[];
}

/** Lists a folder, following links: a link to a folder is a folder, a dangling link is a file. */
async function listFolder(dir: string, extensions: ReadonlySet<string>): Promise<Listing> {
  const files: string[] = [];
  const dirs: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    if (isHidden(entry.name)) continue;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target: Stats | null = await fsp.stat(path.join(dir, entry.name)).catch(() => null);
      isDir = target?.isDirectory() ?? false;
      isFile = !isDir;
    }
    if (isDir) dirs.push(entry.name);
    else if (isFile && hasImageExtension(entry.name, extensions)) files.push(entry.name);
  }
  return { files, dirs };
}

/**
 * Every image below `dir`, in Keras' order: folders sorted by their full path, files sorted within each.
 * A folder already visited (through a link loop or a second link) is not entered twice.
 */
async function walkImages(dir: string, extensions: ReadonlySet<string>, visited: Set<string>): Promise<string[]> {
  const groups: { root: string; files: string[] }[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    const st = await fsp.stat(current);
    const id = `${st.dev}:${st.ino}`;
    if (visited.has(id)) continue;
    visited.add(id);
    const listing = await listFolder(current, extensions);
    groups.push({ root: current, files: listing.files });
    for (const sub of listing.dirs) pending.push(path.join(current, sub));
  }
  groups.sort((a, b) => compareCodePoints(a.root, b.root));
  const out: string[] = [];
  for (const g of groups) {
    g.files.sort(compareCodePoints);
    const folder = path.normalize(g.root);
    for (const f of g.files) out.push(joinEntry(folder, f));
  }
  return out;
}

/**
 * `path.join(folder, name)` for a normalized folder and a name read from it, without normalizing the whole
 * path again for every file (which makes most of a large scan's garbage).
 */
function joinEntry(folder: string, name: string): string {
  if (folder === '.') return name;
  return folder.endsWith(path.sep) ? folder + name : folder + path.sep + name;
}

export interface FromDirectoryOptions {
  /**
   * Image file extensions to take (case-insensitive, with or without the dot).
   *
   * @default {@link IMAGE_EXTENSIONS}
   */
  extensions?: readonly string[];
  /**
   * `'inferred'`: one class per sub-folder, sorted by name as Keras does, files directly in the root ignored;
   * a root without sub-folders gives an unlabeled index of its images. `null`: an unlabeled index of every
   * image below the root.
   *
   * @default 'inferred'
   */
  labels?: 'inferred' | null;
  /**
   * Use only these class folders, in this order (labels follow it).
   *
   * @default every class folder, sorted
   */
  classNames?: readonly string[];
}

/**
 * An index of the images below `dir`, labeled by class folder like Keras' `image_dataset_from_directory`.
 *
 * @example
 * const index = await fromDirectory('data/train'); // data/train/cat/*.jpg, data/train/dog/*.jpg
 * index.classNames; // ['cat', 'dog']
 */
export async function fromDirectory(dir: string, opts: FromDirectoryOptions = {}): Promise<FileIndex> {
  if (typeof dir !== 'string' || dir.length === 0) throw Errors.invalidOption('directory', 'a folder path', dir);
  const extList = opts.extensions ?? IMAGE_EXTENSIONS;
  if (!Array.isArray(extList) || extList.length === 0 || extList.some((e) => typeof e !== 'string' || e === '')) {
    throw Errors.invalidOption('extensions', 'a non-empty array of extensions such as ["jpg", "png"]', extList);
  }
  const labelsMode = opts.labels === undefined ? 'inferred' : opts.labels;
  if (labelsMode !== 'inferred' && labelsMode !== null) {
    throw Errors.invalidOption('labels', "one of 'inferred', null", labelsMode);
  }
  const extensions = new Set(extList.map((e) => e.replace(/^\./, '').toLowerCase()));
  const st = await fsp.stat(dir).catch(() => null);
  if (st === null || !st.isDirectory()) throw Errors.notFound(dir, 'Directory');

  const visited = new Set<string>();
  const top = await listFolder(dir, extensions);
  let classNames = [...top.dirs].sort(compareCodePoints);
  if (opts.classNames !== undefined) {
    const missing = opts.classNames.filter((c) => !classNames.includes(c));
    if (missing.length > 0) {
      throw Errors.invalidOption('classNames', `names of sub-folders of ${dir} (${classNames.join(', ')})`, missing);
    }
    classNames = [...opts.classNames];
  }

  if (labelsMode === null || classNames.length === 0) {
    const files = await walkImages(dir, extensions, visited);
    if (files.length === 0) throw Errors.noImages(dir, [...extensions]);
    return packIndex(files, dir);
  }

  const rootStat = await fsp.stat(dir);
  visited.add(`${rootStat.dev}:${rootStat.ino}`);
  // Packed class by class: only one class's path strings are alive at a time.
  const packer = new PathPacker();
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    for (const file of await walkImages(path.join(dir, classNames[c]), extensions, visited)) {
      packer.push(file);
      labels.push(c);
    }
  }
  if (labels.length === 0) throw Errors.noImages(dir, [...extensions]);
  return new FileIndex({ ...packer.finish(), labels: Int32Array.from(labels), classNames, root: dir });
}
