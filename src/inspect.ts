/**
 * `imgstream inspect <dir>`: what a folder holds before training on it — class counts, image sizes and
 * formats — and which files cannot be loaded. The check is one epoch of the loader itself (same reader, same
 * decoders, same shrink-on-load, same ring), so that a file is listed exactly when training would skip it,
 * with the code it would get, in the memory a loader takes. Sizes and formats come from each file's header.
 */
import os from 'node:os';
import cliProgress from 'cli-progress';
import PQueue from 'p-queue';
import sharp from 'sharp';
import { DEFAULTS } from './options.js';
import type { ErrorCode, IndexWarning, SkippedSample } from './errors.js';
import { fromDirectory } from './file-index.js';
import { ImageLoader } from './loader.js';
import { classifyDecodeError, readHead } from './read-sample.js';
import { describeDecoder } from './native/addon.js';

export interface InspectOptions {
  /** Files whose headers are read at once. Default: twice the number of cores. */
  concurrency?: number;
  /** Files above this many pixels are reported as decompression bombs. Default the loader's `maxPixels`. */
  maxPixels?: number;
  /** The size the check decodes to, as the loader would (`[height, width]`). Default the loader's `imageSize`. */
  imageSize?: readonly [number, number];
  /** Links to folders below the class folders are entered (as the loader's `followLinks`). Default `false`. */
  followLinks?: boolean;
  /** Show a progress bar on stderr (only when stderr is a terminal). Default `true`. */
  progress?: boolean;
}

export interface InspectReport {
  root: string;
  files: number;
  classes: { name: string; count: number }[];
  /** Width and height summaries over the readable files. */
  sizes: { width: Summary; height: Summary } | null;
  formats: Record<string, number>;
  /** Files the loader cannot load, with the code and reason it gives them. */
  bad: SkippedSample[];
  /** What the listing left out or found doubtful (links not followed, empty classes, ...). */
  warnings: IndexWarning[];
  /** The JPEG decoder a loader uses here (the fast path and its library, or why it is off), in one line. */
  decoder: string;
}

export interface Summary {
  min: number;
  median: number;
  max: number;
}

function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
}

/** Enough of a file for its header (JPEG APP segments come before the frame header; 64 KiB each at most). */
const HEADER_BYTES = 512 * 1024;

type Scan = { ok: true; width: number; height: number; format: string } | { ok: false; code: ErrorCode; message: string };

/** An image's size and format, or why the loader could not decode it (the loader's codes). */
export async function scanBytes(data: Buffer, maxPixels: number): Promise<Scan> {
  try {
    const meta = await sharp(data, { limitInputPixels: maxPixels }).metadata();
    // A full decode: metadata alone reads only the header and misses truncated or corrupt pixel data.
    await sharp(data, { limitInputPixels: maxPixels, failOn: 'warning' }).raw().toBuffer();
    return { ok: true, width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? 'unknown' };
  } catch (err) {
    const e = classifyDecodeError(err, maxPixels, data);
    return { ok: false, code: e.code, message: e.message.split('\n')[0] };
  }
}

/**
 * Scans every image below `dir` (class sub-folders as the loader reads them).
 *
 * @example
 * const report = await inspectDirectory('data/train'); // concurrency: 2 × cores, progress: true
 * if (report.bad.length > 0) console.log(report.bad);
 */
export async function inspectDirectory(dir: string, options: InspectOptions = {}): Promise<InspectReport> {
  const {
    concurrency = 2 * os.availableParallelism(),
    maxPixels = DEFAULTS.maxPixels,
    imageSize = DEFAULTS.imageSize,
    followLinks = false,
    progress = true,
  } = options;
  const index = await fromDirectory(dir, { followLinks });
  const bar = progress && process.stderr.isTTY === true
    ? new cliProgress.SingleBar(
        { format: 'Scanning {bar} {value}/{total} files | {bad} bad', stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(index.size, 0, { bad: 0 });
  const loader = new ImageLoader(index, {
    imageSize,
    maxPixels,
    labelMode: index.labels === null ? null : 'int',
    shuffle: false,
    dtype: 'uint8',
    onError: 'skip',
    // Every file is listed, however many are bad.
    maxSkipShare: 1,
  });
  const badPositions = new Set<string>();
  try {
    for await (const batch of loader) {
      void batch;
      bar?.update(loader.stats.position, { bad: loader.stats.skipped.length });
    }
  } finally {
    await loader.close();
  }
  const bad = [...loader.stats.skipped];
  for (const b of bad) badPositions.add(b.path);
  bar?.update(index.size, { bad: bad.length });
  bar?.stop();

  const counts = new Map<number, number>();
  const widths: number[] = [];
  const heights: number[] = [];
  const formats: Record<string, number> = {};
  const queue = new PQueue({ concurrency });
  for (let i = 0; i < index.size; i++) {
    if (index.labels) counts.set(index.labels[i], (counts.get(index.labels[i]) ?? 0) + 1);
    if (badPositions.has(index.path(i))) continue;
    const file = index.fileName(i);
    void queue.add(async () => {
      const meta = await readHead(file, HEADER_BYTES)
        .then((head) => sharp(head, { limitInputPixels: maxPixels }).metadata())
        .catch(() => null);
      if (meta === null || meta.width === undefined || meta.height === undefined) return;
      widths.push(meta.width);
      heights.push(meta.height);
      formats[meta.format ?? 'unknown'] = (formats[meta.format ?? 'unknown'] ?? 0) + 1;
    });
    if (queue.size > 4 * concurrency) await queue.onSizeLessThan(2 * concurrency);
  }
  await queue.onIdle();
  bad.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    root: dir,
    files: index.size,
    classes: index.classNames.map((name, c) => ({ name, count: counts.get(c) ?? 0 })),
    sizes: widths.length > 0 ? { width: summarize(widths), height: summarize(heights) } : null,
    formats,
    bad,
    warnings: [...index.warnings],
    decoder: describeDecoder(),
  };
}

/** The report as the CLI prints it. */
export function formatReport(report: InspectReport): string {
  const lines: string[] = [];
  lines.push(`${report.root}: ${report.files} image files`);
  if (report.classes.length > 0) {
    const width = Math.max(...report.classes.map((c) => c.name.length));
    lines.push(`Classes (${report.classes.length}):`);
    for (const c of report.classes) lines.push(`  ${c.name.padEnd(width)}  ${c.count}`);
  } else {
    lines.push('Classes: none (no class sub-folders; the images are unlabeled)');
  }
  if (report.sizes) {
    const { width: w, height: h } = report.sizes;
    lines.push(`Image sizes: width ${w.min}..${w.max} (median ${w.median}), height ${h.min}..${h.max} (median ${h.median})`);
  }
  const formats = Object.entries(report.formats).map(([f, n]) => `${f} ${n}`);
  if (formats.length > 0) lines.push(`Formats: ${formats.join(', ')}`);
  for (const w of report.warnings) lines.push(`Warning: ${w.message}`);
  if (report.bad.length === 0) lines.push('All files decode.');
  else {
    lines.push(`${report.bad.length} file(s) cannot be decoded (the loader skips them):`);
    for (const b of report.bad) lines.push(`  ${b.path}: ${b.code} ${b.message}`);
  }
  lines.push(report.decoder);
  return lines.join('\n');
}
