/**
 * The index of a bucket of class folders: `s3://bucket/prefix/<class>/.../<image>` listed with ListObjectsV2
 * page by page, keys packed as they arrive (as the folder index packs paths: a million keys are one byte
 * buffer, not a million strings), labels from the first path level below the prefix, sorted as Keras sorts.
 * The index holds full `s3://` URLs.
 */
import { Errors } from '../errors.js';
import {
  compareCodePoints,
  FileIndex,
  hasImageExtension,
  IMAGE_EXTENSIONS,
  isHidden,
  PathPacker,
  readPackedPath,
  type FromDirectoryOptions,
} from '../file-index.js';
import { sendAborting, type S3Context } from './client.js';
import { withRetries } from './retry.js';
import { formatS3Url, parseS3Url } from './url.js';

interface Page {
  keys: string[];
  /** Bytes of each key's object. */
  sizes: number[];
  prefixes: string[];
}

/** What a listing learned of the objects' sizes (to size the memory that holds them in flight). */
export interface ListedBytes {
  total: number;
  largest: number;
}

/** The pages of a listing of `prefix`, one request each, each retried as any request. */
async function* listPages(ctx: S3Context, bucket: string, prefix: string, delimiter?: string): AsyncGenerator<Page> {
  let token: string | undefined;
  const url = formatS3Url({ bucket, key: prefix });
  do {
    const out = await withRetries(ctx, url, (abortSignal) =>
      sendAborting(abortSignal, () =>
        ctx.client.send(
          new ctx.sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            MaxKeys: ctx.options.pageSize,
            ...(delimiter !== undefined ? { Delimiter: delimiter } : {}),
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
        ),
      ),
    );
    const contents = (out.Contents ?? []).filter((c) => (c.Key ?? '') !== '');
    yield {
      keys: contents.map((c) => c.Key as string),
      sizes: contents.map((c) => c.Size ?? 0),
      prefixes: (out.CommonPrefixes ?? []).map((p) => p.Prefix ?? '').filter((p) => p !== ''),
    };
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token !== undefined);
}

/** A key below the prefix that a folder walk would take: no hidden segment, an image extension, not a folder marker. */
function isImageKey(rel: string, extensions: ReadonlySet<string>): boolean {
  if (rel === '' || rel.endsWith('/')) return false;
  const parts = rel.split('/');
  return !parts.some((p) => p === '' || isHidden(p)) && hasImageExtension(parts[parts.length - 1], extensions);
}

/**
 * The entries of `packed` in the folder walk's order: folders sorted by their path, files sorted within each.
 * A listing comes in plain key order, which differs from that only when a class holds sub-folders; the
 * comparison runs on the packed UTF-8 bytes (byte order is code point order), with no string per entry.
 */
function folderOrder(packed: { pathBytes: SharedArrayBuffer; pathOffsets: SharedArrayBuffer }): Int32Array {
  const text = Buffer.from(packed.pathBytes);
  const offsets = new Float64Array(packed.pathOffsets);
  const n = offsets.length - 1;
  const slash = new Float64Array(n);
  for (let i = 0; i < n; i++) slash[i] = text.lastIndexOf(0x2f, offsets[i + 1] - 1);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => {
    const byDir = text.compare(text, offsets[j], slash[j], offsets[i], slash[i]);
    return byDir !== 0 ? byDir : text.compare(text, slash[j], offsets[j + 1], slash[i], offsets[i + 1]);
  });
  return order;
}

/** Class folders listed at once: their pages are sequential, the classes need not be. */
const CLASSES_LISTED_AT_ONCE = 8;

/** The images below `prefix` (one class, or the whole root), packed in folder-walk order. */
async function packImages(
  ctx: S3Context,
  bucket: string,
  prefix: string,
  extensions: ReadonlySet<string>,
  listed: ListedBytes,
): Promise<PathPacker> {
  const group = new PathPacker();
  let nested = false;
  for await (const page of listPages(ctx, bucket, prefix)) {
    page.keys.forEach((key, i) => {
      const rel = key.slice(prefix.length);
      if (!isImageKey(rel, extensions)) return;
      if (rel.includes('/')) nested = true;
      group.push(formatS3Url({ bucket, key }));
      listed.total += page.sizes[i];
      listed.largest = Math.max(listed.largest, page.sizes[i]);
    });
  }
  if (!nested) return group;
  const packed = group.finish();
  const text = Buffer.from(packed.pathBytes);
  const offsets = new Float64Array(packed.pathOffsets);
  const ordered = new PathPacker();
  for (const i of folderOrder(packed)) ordered.push(readPackedPath(text, offsets, i));
  return ordered;
}

/** Appends the paths of `group` to `out`, in order; returns how many. */
function appendPacked(out: PathPacker, group: PathPacker): number {
  const count = group.size;
  const packed = group.finish();
  const text = Buffer.from(packed.pathBytes);
  const offsets = new Float64Array(packed.pathOffsets);
  for (let i = 0; i < count; i++) out.push(readPackedPath(text, offsets, i));
  return count;
}

/**
 * An index of the images below an `s3://bucket/prefix` URL, labeled by class folder exactly as
 * {@link fromDirectory} labels a local folder (same classes, same order, same options).
 */
export async function fromS3Directory(
  ctx: S3Context,
  url: string,
  opts: FromDirectoryOptions = {},
  listed: ListedBytes = { total: 0, largest: 0 },
): Promise<FileIndex> {
  const loc = parseS3Url(url, 'directory');
  const extList = opts.extensions ?? IMAGE_EXTENSIONS;
  if (!Array.isArray(extList) || extList.length === 0 || extList.some((e) => typeof e !== 'string' || e === '')) {
    throw Errors.invalidOption('extensions', 'a non-empty array of extensions such as ["jpg", "png"]', extList);
  }
  // A bucket has no links: `true` would promise something a listing cannot do.
  if (opts.followLinks !== undefined && opts.followLinks !== false) {
    throw Errors.invalidOption('followLinks', 'false or unset for an s3:// directory (a bucket has no links to follow)', opts.followLinks);
  }
  const labelsMode = opts.labels === undefined ? 'inferred' : opts.labels;
  if (labelsMode !== 'inferred' && labelsMode !== null) {
    throw Errors.invalidOption('labels', "one of 'inferred', null", labelsMode);
  }
  const extensions = new Set(extList.map((e) => e.replace(/^\./, '').toLowerCase()));
  const prefix = loc.key === '' || loc.key.endsWith('/') ? loc.key : `${loc.key}/`;
  const root = formatS3Url({ bucket: loc.bucket, key: prefix });

  let found = false;
  const dirs: string[] = [];
  for await (const page of listPages(ctx, loc.bucket, prefix, '/')) {
    if (page.keys.length > 0 || page.prefixes.length > 0) found = true;
    for (const p of page.prefixes) {
      const name = p.slice(prefix.length, -1);
      if (name !== '' && !isHidden(name)) dirs.push(name);
    }
  }
  if (!found) throw Errors.notFound(root, 'Directory');
  let classNames = dirs.sort(compareCodePoints);
  if (opts.classNames !== undefined) {
    const missing = opts.classNames.filter((c) => !classNames.includes(c));
    if (missing.length > 0) {
      throw Errors.invalidOption('classNames', `names of sub-folders of ${root} (${classNames.join(', ')})`, missing);
    }
    classNames = [...opts.classNames];
  }

  const packer = new PathPacker();
  if (labelsMode === null || classNames.length === 0) {
    if (appendPacked(packer, await packImages(ctx, loc.bucket, prefix, extensions, listed)) === 0) throw Errors.noImages(root, [...extensions]);
    return new FileIndex({ ...packer.finish(), labels: null, classNames: [], root });
  }
  // Several classes are listed at once (each one's pages in order), then appended in class order: with
  // many classes, the listing's round trips overlap instead of adding up.
  const groups: Promise<PathPacker>[] = new Array(classNames.length);
  let started = 0;
  const startNext = (): void => {
    if (started >= classNames.length) return;
    const c = started++;
    groups[c] = packImages(ctx, loc.bucket, `${prefix}${classNames[c]}/`, extensions, listed);
    groups[c].then(startNext, () => undefined);
  };
  for (let i = 0; i < CLASSES_LISTED_AT_ONCE; i++) startNext();
  let labels = new Int32Array(1024);
  for (let c = 0; c < classNames.length; c++) {
    const before = packer.size;
    appendPacked(packer, await groups[c]);
    if (packer.size > labels.length) {
      const grown = new Int32Array(Math.max(packer.size, labels.length * 2));
      grown.set(labels);
      labels = grown;
    }
    labels.fill(c, before, packer.size);
  }
  if (packer.size === 0) throw Errors.noImages(root, [...extensions]);
  return new FileIndex({ ...packer.finish(), labels: labels.slice(0, packer.size), classNames, root });
}
