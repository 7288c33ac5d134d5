/**
 * The index: every sample's path and label, and nothing else, kept in memory. Paths are packed into one
 * SharedArrayBuffer of UTF-8 bytes plus a table of offsets, so a million paths cost tens of megabytes and
 * every decode worker reads them without a copy.
 */
import { promises as fsp, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import { Errors, type IndexWarning } from './errors.js';

/**
 * File extensions listed as images by default (case-insensitive): the formats libvips decodes. BMP files are
 * decoded too (by `bmp-ts`, sharp has no BMP loader) and listed under `compat` or when `extensions` names
 * them, not by default: their decode has no shrink-on-load, and a default listing that changed would change
 * every seeded order of existing datasets.
 */
export const IMAGE_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'];

/** Integer labels given without class names make `max + 1` classes; past this many they are refused. */
export const MAX_INFERRED_CLASSES = 100_000;

/**
 * File names are kept as Python's `os.fsdecode` keeps them: bytes that are not UTF-8 become lone surrogates
 * U+DC80..U+DCFF (surrogateescape), so that such a name sorts, prints and goes back to its exact bytes.
 */
const ESCAPED_BYTE = /[\uDC80-\uDCFF]/;

/** The bytes `name` stands for: UTF-8, with escaped bytes put back as they were. */
export function fsEncode(name: string): Buffer {
  if (!ESCAPED_BYTE.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    const lone = unit >= 0xdc80 && unit <= 0xdcff && !(i > 0 && isHighSurrogate(name.charCodeAt(i - 1)));
    if (!lone) continue;
    parts.push(Buffer.from(name.slice(start, i), 'utf8'), Buffer.from([unit - 0xdc00]));
    start = i + 1;
  }
  parts.push(Buffer.from(name.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** `bytes` as a string: UTF-8 where they are, each other byte escaped (the inverse of {@link fsEncode}). */
export function fsDecode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    let cp = need === 0 ? b : need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = need >= 0 && i + need < bytes.length;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (ok && ((need === 2 && cp < 0x800) || (need === 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += need + 1;
    } else {
      out += String.fromCharCode(0xdc00 + b);
      i += 1;
    }
  }
  return out;
}

/** A path for `fs` calls: the string itself, or its exact bytes when it holds escaped ones. */
function fsPath(p: string): string | Buffer {
  return ESCAPED_BYTE.test(p) ? fsEncode(p) : p;
}

/** Grows a packed path table one path at a time, without keeping the strings. */
export class PathPacker {
  private bytes = Buffer.alloc(1 << 16);
  private offsets = new Float64Array(1 << 10);
  private count = 0;
  private used = 0;

  push(p: string): void {
    if (ESCAPED_BYTE.test(p)) {
      this.pushBytes(fsEncode(p));
      return;
    }
    this.reserve(p.length * 3);
    // Buffer#write, unlike TextEncoder#encodeInto, makes no view and no result object per path.
    this.used += this.bytes.write(p, this.used);
    this.count += 1;
    this.offsets[this.count] = this.used;
  }

  /** Room for one more path of up to `byteLength` bytes and its offset. */
  private reserve(byteLength: number): void {
    const need = this.used + byteLength;
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
  }

  private pushBytes(bytes: Buffer): void {
    this.reserve(bytes.length);
    this.used += bytes.copy(this.bytes, this.used);
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
 * Path `i` as the file system takes it: the string, or its bytes when they are not UTF-8 (the string shows
 * U+FFFD for those, and would open another name). A name with a real U+FFFD is read by its bytes too; they
 * are the same file.
 */
export function readPackedFileName(text: Buffer, offsets: Float64Array, i: number): string | Buffer {
  const name = readPackedPath(text, offsets, i);
  return name.includes('\uFFFD') ? text.subarray(offsets[i], offsets[i + 1]) : name;
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
  /**
   * What the listing left out or found doubtful, each with its path: folder links not followed, class
   * folders without images, class names that differ only in Unicode normalization. Also emitted once as a
   * process warning (`ImgstreamWarning`).
   */
  readonly warnings: readonly IndexWarning[];
  private readonly offsets: Float64Array;
  private readonly text: Buffer;

  /** @internal use {@link fromDirectory} or {@link fromList}. */
  constructor(parts: {
    pathBytes: SharedArrayBuffer;
    pathOffsets: SharedArrayBuffer;
    labels: Int32Array | null;
    classNames: readonly string[];
    root: string | null;
    warnings?: readonly IndexWarning[];
  }) {
    this.pathBytes = parts.pathBytes;
    this.pathOffsets = parts.pathOffsets;
    this.offsets = new Float64Array(parts.pathOffsets);
    this.text = Buffer.from(parts.pathBytes);
    this.size = this.offsets.length - 1;
    this.labels = parts.labels;
    this.classNames = Object.freeze([...parts.classNames]);
    this.root = parts.root;
    this.warnings = Object.freeze([...(parts.warnings ?? [])]);
    Object.freeze(this);
  }

  /** The path of entry `i` (bytes that are not UTF-8 show as U+FFFD; {@link FileIndex.fileName} has them). */
  path(i: number): string {
    return readPackedPath(this.text, this.offsets, i);
  }

  /** The path of entry `i` for `fs` calls: a string, or its bytes when they are not UTF-8. */
  fileName(i: number): string | Buffer {
    return readPackedFileName(this.text, this.offsets, i);
  }

  /** Bytes held by the packed paths, offsets and labels. */
  get byteLength(): number {
    return this.pathBytes.byteLength + this.pathOffsets.byteLength + (this.labels?.byteLength ?? 0);
  }
}

function packIndex(paths: Iterable<string>, root: string, warnings: IndexWarning[]): FileIndex {
  const packer = new PathPacker();
  for (const p of paths) packer.push(p);
  return new FileIndex({ ...packer.finish(), labels: null, classNames: [], root, warnings });
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
      if (!opts.classNames && v >= MAX_INFERRED_CLASSES) {
        throw Errors.invalidOption(
          `labels[${i}]`,
          `an integer below ${MAX_INFERRED_CLASSES} (or classNames naming every class)`,
          v,
        );
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

/** Hidden entries, and the folder macOS' zip tool adds beside every archive's content (`__MACOSX`). */
export function isHidden(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX';
}

export function hasImageExtension(name: string, extensions: ReadonlySet<string>): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && extensions.has(name.slice(dot + 1).toLowerCase());
}

interface Listing {
  files: string[];
  dirs: string[];
  /** Links to folders that were not entered (`followLinks: false`). */
  links: string[];
}

/** Entries of `dir` by name; a name that is not UTF-8 is read again as bytes and kept escaped ({@link fsDecode}). */
async function readEntries(dir: string): Promise<{ name: string; entry: Dirent }[]> {
  const entries = await fsp.readdir(fsPath(dir) as string, { withFileTypes: true });
  if (!entries.some((e) => e.name.includes('\uFFFD'))) return entries.map((entry) => ({ name: entry.name, entry }));
  const raw = (await fsp.readdir(fsPath(dir) as string, { withFileTypes: true, encoding: 'buffer' })) as unknown as Dirent[];
  return raw.map((entry) => ({ name: fsDecode(entry.name as unknown as Buffer), entry }));
}

/**
 * Lists a folder as Keras' `os.walk` does: a link to a folder is a folder (entered only when `followLinks`,
 * else returned in `links`), anything else with an image extension is a file — a dangling link, a FIFO or a
 * device included, for the reader to refuse with its reason rather than for the listing to drop unsaid.
 */
async function listFolder(dir: string, extensions: ReadonlySet<string>, followLinks: boolean): Promise<Listing> {
  const files: string[] = [];
  const dirs: string[] = [];
  const links: string[] = [];
  for (const { name, entry } of await readEntries(dir)) {
    if (isHidden(name)) continue;
    let isDir = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      const target: Stats | null = await fsp.stat(fsPath(path.join(dir, name))).catch(() => null);
      isDir = target?.isDirectory() ?? false;
      if (isDir && !followLinks) {
        links.push(name);
        continue;
      }
    }
    if (isDir) dirs.push(name);
    else if (hasImageExtension(name, extensions)) files.push(name);
  }
  return { files, dirs, links };
}

interface Walk {
  extensions: ReadonlySet<string>;
  followLinks: boolean;
  visited: Set<string>;
  warnings: IndexWarning[];
}

/**
 * Every image below `dir`, in Keras' order: folders sorted by their full path, files sorted within each.
 * `dir` itself is entered even when it is a link (as `os.walk(top)` does). A folder already visited
 * (through a link loop or a second link) is not entered twice.
 */
async function walkImages(dir: string, walk: Walk): Promise<string[]> {
  const groups: { root: string; files: string[] }[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    const st = await fsp.stat(fsPath(current));
    const id = `${st.dev}:${st.ino}`;
    if (walk.visited.has(id)) continue;
    walk.visited.add(id);
    const listing = await listFolder(current, walk.extensions, walk.followLinks);
    groups.push({ root: current, files: listing.files });
    for (const sub of listing.dirs) pending.push(path.join(current, sub));
    for (const link of listing.links.sort(compareCodePoints)) {
      const at = path.join(current, link);
      walk.warnings.push({
        path: at,
        code: 'WARN_LINK_NOT_FOLLOWED',
        message: `${at} is a link to a folder and was not entered (followLinks: false)`,
      });
    }
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
  /**
   * Whether links to folders below the root's class folders (or below the root, unlabeled) are entered, as
   * Keras' `follow_links`. Links to files are listed either way (and read only when they end at a regular
   * file); a class folder that is itself a link is a class either way, as in Keras. A link not followed is
   * reported in {@link FileIndex.warnings}.
   *
   * @default false
   */
  followLinks?: boolean;
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
  const followLinks = opts.followLinks ?? false;
  if (typeof followLinks !== 'boolean') throw Errors.invalidOption('followLinks', 'a boolean', followLinks);
  const extensions = new Set(extList.map((e) => e.replace(/^\./, '').toLowerCase()));
  const st = await fsp.stat(dir).catch(() => null);
  if (st === null || !st.isDirectory()) throw Errors.notFound(dir, 'Directory');

  const warnings: IndexWarning[] = [];
  const walk: Walk = { extensions, followLinks, visited: new Set<string>(), warnings };
  // The root's own sub-folders are classes, links to folders included (Keras lists them with isdir).
  const top = await listFolder(dir, extensions, true);
  let classNames = [...top.dirs].sort(compareCodePoints);
  if (opts.classNames !== undefined) {
    const missing = opts.classNames.filter((c) => !classNames.includes(c));
    if (missing.length > 0) {
      throw Errors.invalidOption('classNames', `names of sub-folders of ${dir} (${classNames.join(', ')})`, missing);
    }
    classNames = [...opts.classNames];
  }

  if (labelsMode === null || classNames.length === 0) {
    const files = await walkImages(dir, walk);
    if (files.length === 0) throw Errors.noImages(dir, [...extensions]);
    return withWarnings(packIndex(files, dir, warnings));
  }

  warnSameNames(dir, classNames, warnings);
  walk.visited.add(`${st.dev}:${st.ino}`);
  // Packed class by class: only one class's path strings are alive at a time.
  const packer = new PathPacker();
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    const files = await walkImages(path.join(dir, classNames[c]), walk);
    if (files.length === 0) {
      const at = path.join(dir, classNames[c]);
      warnings.push({ path: at, code: 'WARN_EMPTY_CLASS', message: `class '${classNames[c]}' (${at}) has no image files; it keeps its label` });
    }
    for (const file of files) {
      packer.push(file);
      labels.push(c);
    }
  }
  if (labels.length === 0) throw Errors.noImages(dir, [...extensions]);
  return withWarnings(new FileIndex({ ...packer.finish(), labels: Int32Array.from(labels), classNames, root: dir, warnings }));
}

/** Class names that print the same (NFC and NFD spellings of one name) but are two folders, two classes. */
function warnSameNames(dir: string, classNames: readonly string[], warnings: IndexWarning[]): void {
  const byForm = new Map<string, string>();
  for (const name of classNames) {
    const form = name.normalize('NFC');
    const other = byForm.get(form);
    if (other === undefined) {
      byForm.set(form, name);
      continue;
    }
    const spell = (n: string) => `'${n}' (${[...n].map((ch) => `U+${(ch.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`).join(' ')})`;
    warnings.push({
      path: path.join(dir, name),
      code: 'WARN_SAME_NAME_CLASSES',
      message: `class folders ${spell(other)} and ${spell(name)} are one name in two Unicode spellings (NFC/NFD); they are two classes`,
    });
  }
}

function withWarnings(index: FileIndex): FileIndex {
  for (const w of index.warnings) process.emitWarning(w.message, { type: 'ImgstreamWarning', code: w.code });
  return index;
}
