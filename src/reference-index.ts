/**
 * The file lists of the reference loaders, for `compat`: Keras' `index_directory` (class folders from
 * `os.listdir`, hidden ones dropped; files from `os.walk`, hidden ones kept; links to sub-folders entered only
 * with `followLinks`; bmp/gif/jpeg/jpg/png) and torchvision's `ImageFolder` (every sub-folder a class, hidden
 * ones too; `os.walk(followlinks=True)`; its nine extensions). Both sort folders by their whole path and files
 * by name, comparing code points as Python does; names are used as the file system stores them (NFC and NFD
 * spellings are different names, as they are to Python on Linux).
 *
 * Where a reference would recurse through a link loop until the OS refuses, the walk stops at the first
 * folder that is its own ancestor.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { Errors } from './errors.js';
import { compareCodePoints } from './file-index.js';

/** Keras' `ALLOWLIST_FORMATS` for `image_dataset_from_directory`. */
export const KERAS_EXTENSIONS: readonly string[] = ['.bmp', '.gif', '.jpeg', '.jpg', '.png'];
/** torchvision's `IMG_EXTENSIONS` for `ImageFolder`. */
export const TORCHVISION_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];

export type ReferenceLoader = 'keras' | 'torchvision';

/** A reference loader's file list: paths (joined to the root), their labels, the class names. */
export interface ReferenceListing {
  readonly paths: string[];
  /** `null` for an unlabeled listing (Keras' `labels=None`). */
  readonly labels: number[] | null;
  readonly classNames: string[];
}

const pyJoin = (a: string, b: string) => (a === '' ? b : a.endsWith('/') ? a + b : `${a}/${b}`);

async function isDirectory(full: string, entry?: Dirent): Promise<boolean> {
  if (entry !== undefined && !entry.isSymbolicLink()) return entry.isDirectory();
  const st = await fsp.stat(full).catch(() => null);
  return st?.isDirectory() ?? false;
}

/**
 * `os.walk(top, followlinks)`: every folder below `top` with the names of its non-folder entries (a link to a
 * folder counts as a folder, a dangling link as a file). Unreadable folders are left out, as `os.walk` does.
 */
async function pyWalk(top: string, followLinks: boolean): Promise<Array<{ root: string; files: string[] }>> {
  const out: Array<{ root: string; files: string[] }> = [];
  const visit = async (root: string, ancestors: ReadonlySet<string>) => {
    const st = await fsp.stat(root).catch(() => null);
    if (st === null) return;
    const id = `${st.dev}:${st.ino}`;
    if (ancestors.has(id)) return;
    const entries = await fsp.readdir(root, { withFileTypes: true }).catch(() => null);
    if (entries === null) return;
    const files: string[] = [];
    const below: string[] = [];
    for (const entry of entries) {
      const full = pyJoin(root, entry.name);
      if (await isDirectory(full, entry)) {
        if (followLinks || !entry.isSymbolicLink()) below.push(full);
      } else {
        files.push(entry.name);
      }
    }
    out.push({ root, files });
    const inner = new Set(ancestors).add(id);
    for (const dir of below) await visit(dir, inner);
  };
  await visit(top, new Set());
  return out;
}

const lowerEndsWith = (name: string, extensions: readonly string[]) => {
  const lower = name.toLowerCase();
  return extensions.some((e) => lower.endsWith(e));
};

/** The files below one class folder in the reference's order, as paths relative to the dataset root. */
async function classFiles(root: string, className: string, followLinks: boolean, extensions: readonly string[]): Promise<string[]> {
  const top = pyJoin(root, className);
  const groups = await pyWalk(top, followLinks);
  groups.sort((a, b) => compareCodePoints(a.root, b.root));
  const out: string[] = [];
  for (const { root: folder, files } of groups) {
    files.sort(compareCodePoints);
    const rel = folder.slice(top.length).replace(/^\/+/, '');
    for (const f of files) if (lowerEndsWith(f, extensions)) out.push(path.join(className, rel, f));
  }
  return out;
}

export interface ReferenceListingOptions {
  /** Enter links to sub-folders inside class folders (Keras' `follow_links`; torchvision always does). */
  readonly followLinks?: boolean;
  /** Use only these class folders, in this order. */
  readonly classNames?: readonly string[];
  /** `null`: one unlabeled list of every file below the root (Keras' `labels=None`). */
  readonly labels?: 'inferred' | null;
  /** Extensions with their dot, lower case. */
  readonly extensions?: readonly string[];
}

/**
 * Lists `dir` as `loader` does. Throws `ERR_NOT_FOUND` for a missing root, `ERR_NO_IMAGES` when no file
 * qualifies, and (torchvision) when a class folder holds none, as `ImageFolder` refuses such a folder.
 */
export async function referenceListing(
  loader: ReferenceLoader,
  dir: string,
  opts: ReferenceListingOptions = {},
): Promise<ReferenceListing> {
  const st = await fsp.stat(dir).catch(() => null);
  if (st === null || !st.isDirectory()) throw Errors.notFound(dir, 'Directory');
  const keras = loader === 'keras';
  const followLinks = keras ? opts.followLinks ?? false : true;
  const extensions = opts.extensions ?? (keras ? KERAS_EXTENSIONS : TORCHVISION_EXTENSIONS);
  const labelled = (opts.labels === undefined ? 'inferred' : opts.labels) === 'inferred';

  if (!labelled) {
    const paths = (await classFiles(dir, '', followLinks, extensions)).map((p) => path.join(dir, p));
    if (paths.length === 0) throw Errors.noImages(dir, extensions.map((e) => e.replace(/^\./, "")));
    return { paths, labels: null, classNames: [] };
  }

  const names = (await fsp.readdir(dir)).sort(compareCodePoints);
  const folders: string[] = [];
  for (const name of names) {
    if (keras && name.startsWith('.')) continue;
    if (await isDirectory(pyJoin(dir, name))) folders.push(name);
  }
  let classNames = folders;
  if (opts.classNames !== undefined) {
    const missing = opts.classNames.filter((c) => !folders.includes(c));
    if (missing.length > 0) {
      throw Errors.invalidOption('classNames', `names of sub-folders of ${dir} (${folders.join(', ')})`, missing);
    }
    classNames = [...opts.classNames];
  }
  const paths: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  for (const [label, name] of classNames.entries()) {
    const files = await classFiles(dir, name, followLinks, extensions);
    if (files.length === 0) empty.push(name);
    for (const f of files) {
      paths.push(path.join(dir, f));
      labels.push(label);
    }
  }
  if (paths.length === 0) throw Errors.noImages(dir, extensions.map((e) => e.replace(/^\./, "")));
  if (!keras && empty.length > 0) {
    throw Errors.invalidOption('classNames', `class folders holding at least one ${extensions.join('/')} file`, empty);
  }
  return { paths, labels, classNames };
}
