/**
 * `imgstream inspect <dir>`: what a folder holds before training on it — class counts, image sizes and
 * formats — and a scan that decodes every file (sharp metadata, then a real decode, in parallel) and lists the
 * ones that cannot be loaded, with the same codes the loader gives them.
 */
import os from 'node:os';
import path from 'node:path';
import cliProgress from 'cli-progress';
import PQueue from 'p-queue';
import sharp from 'sharp';
import { DEFAULTS } from './options.js';
import type { ErrorCode, SkippedSample } from './errors.js';
import { fromDirectory } from './file-index.js';
import { classifyDecodeError, readSample, type SampleError } from './read-sample.js';

export interface InspectOptions {
  /** Files decoded at once. Default: twice the number of cores. */
  concurrency?: number;
  /** Files above this many pixels are reported as decompression bombs. Default the loader's `maxPixels`. */
  maxPixels?: number;
  /** Show a progress bar on stderr. Default `true`. */
  progress?: boolean;
}

export interface InspectReport {
  root: string;
  files: number;
  classes: { name: string; count: number }[];
  /** Width and height summaries over the readable files. */
  sizes: { width: Summary; height: Summary } | null;
  formats: Record<string, number>;
  bad: SkippedSample[];
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

type Scan = { ok: true; width: number; height: number; format: string } | { ok: false; code: ErrorCode; message: string };

async function scanFile(file: string, maxPixels: number): Promise<Scan> {
  let data: Buffer;
  try {
    data = await readSample(file);
  } catch (err) {
    const e = err as SampleError;
    return { ok: false, code: e.code, message: e.message };
  }
  return scanBytes(data, maxPixels);
}

/** An image's size and format, or why the loader could not decode it (the loader's codes). */
export async function scanBytes(data: Buffer, maxPixels: number): Promise<Scan> {
  try {
    const meta = await sharp(data, { limitInputPixels: maxPixels }).metadata();
    // A full decode: metadata alone reads only the header and misses truncated or corrupt pixel data.
    await sharp(data, { limitInputPixels: maxPixels, failOn: 'warning' }).raw().toBuffer();
    return { ok: true, width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? 'unknown' };
  } catch (err) {
    const e = classifyDecodeError(err, maxPixels);
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
  const { concurrency = 2 * os.availableParallelism(), maxPixels = DEFAULTS.maxPixels, progress = true } = options;
  const index = await fromDirectory(dir);
  const counts = new Map<number, number>();
  const widths: number[] = [];
  const heights: number[] = [];
  const formats: Record<string, number> = {};
  const bad: SkippedSample[] = [];
  const bar = progress
    ? new cliProgress.SingleBar(
        { format: 'Scanning {bar} {value}/{total} files | {bad} bad', stream: process.stderr, hideCursor: true, noTTYOutput: false },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(index.size, 0, { bad: 0 });
  const queue = new PQueue({ concurrency });
  let done = 0;
  for (let i = 0; i < index.size; i++) {
    const file = index.path(i);
    if (index.labels) counts.set(index.labels[i], (counts.get(index.labels[i]) ?? 0) + 1);
    void queue.add(async () => {
      const result = await scanFile(file, maxPixels);
      if (result.ok) {
        widths.push(result.width);
        heights.push(result.height);
        formats[result.format] = (formats[result.format] ?? 0) + 1;
      } else {
        bad.push({ path: file, code: result.code, message: result.message });
      }
      done += 1;
      bar?.update(done, { bad: bad.length });
    });
    if (queue.size > 4 * concurrency) await queue.onSizeLessThan(2 * concurrency);
  }
  await queue.onIdle();
  bar?.stop();
  bad.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    root: dir,
    files: index.size,
    classes: index.classNames.map((name, c) => ({ name, count: counts.get(c) ?? 0 })),
    sizes: widths.length > 0 ? { width: summarize(widths), height: summarize(heights) } : null,
    formats,
    bad,
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
  if (report.bad.length === 0) lines.push('All files decode.');
  else {
    lines.push(`${report.bad.length} file(s) cannot be decoded (the loader skips them):`);
    for (const b of report.bad) lines.push(`  ${b.path}: ${b.code} ${b.message}`);
  }
  return lines.join('\n');
}
