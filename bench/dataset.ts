/**
 * The benchmark's image-classification folder, generated once and cached: JPEGs of ImageNet-like sizes
 * (shorter side 333..500 px, mixed aspect ratios, quality 75..95, a few PNG and grayscale files), about
 * 110 KB each, with real content (gradients, shapes, noise) because JPEG decode cost depends on content.
 *
 * One pool of files `pool/<class>/<n>.jpg` grows as larger sets are asked for; a set of `size` images is a
 * folder of hard links to the first `size` files of the pool (copies where links are not possible), so the
 * 1k, 10k and 50k sets share their files. Generation is resumable: a file counts once it is renamed into
 * place, and a marker records each finished set.
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import PQueue from 'p-queue';
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import sharp from 'sharp';

export const CLASSES = 10;
const MARKER = '.complete.json';
/** Bumped when the drawing changes, so that an old cache is regenerated. */
const VERSION = 1;

export interface DatasetOptions {
  /** Called after each file is generated or linked. */
  onProgress?: (done: number, total: number) => void;
  /** Files generated at once. Default: the number of cores. */
  concurrency?: number;
}

function int(rng: RandomGenerator, lo: number, hi: number): number {
  return unsafeUniformIntDistribution(lo, hi, rng);
}

function color(rng: RandomGenerator): string {
  return `rgb(${int(rng, 0, 255)},${int(rng, 0, 255)},${int(rng, 0, 255)})`;
}

/** The file name of pool entry `n` (its class is `n % CLASSES`). */
export function poolFile(n: number): string {
  const ext = n % 50 === 7 ? 'png' : 'jpg';
  return path.join(`class_${n % CLASSES}`, `${String(n).padStart(6, '0')}.${ext}`);
}

/** Draws pool entry `n`: a gradient, a few dozen shapes, then noise and a little blur, as real photos have. */
export async function renderImage(n: number): Promise<Buffer> {
  const rng = xoroshiro128plus((n * 2_654_435_761) | 0);
  const short = int(rng, 333, 500);
  const aspect = [1, 1.25, 1.33, 1.33, 1.5, 1.5, 1.78][int(rng, 0, 6)];
  const long = Math.round(short * aspect);
  const [width, height] = int(rng, 0, 3) === 0 ? [short, long] : [long, short];
  const shapes: string[] = [];
  const count = int(rng, 15, 40);
  for (let i = 0; i < count; i++) {
    const x = int(rng, 0, width);
    const y = int(rng, 0, height);
    const s = int(rng, 10, Math.round(short / 3));
    const fill = `fill="${color(rng)}" fill-opacity="${(int(rng, 30, 100) / 100).toFixed(2)}"`;
    const kind = int(rng, 0, 2);
    if (kind === 0) shapes.push(`<circle cx="${x}" cy="${y}" r="${s}" ${fill}/>`);
    else if (kind === 1) shapes.push(`<rect x="${x}" y="${y}" width="${s}" height="${int(rng, 10, s + 10)}" transform="rotate(${int(rng, 0, 89)} ${x} ${y})" ${fill}/>`);
    else shapes.push(`<ellipse cx="${x}" cy="${y}" rx="${s}" ry="${int(rng, 5, s)}" ${fill}/>`);
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="${int(rng, 0, 1)}" y2="1">` +
    `<stop offset="0" stop-color="${color(rng)}"/><stop offset="1" stop-color="${color(rng)}"/></linearGradient></defs>` +
    `<rect width="100%" height="100%" fill="url(#g)"/>${shapes.join('')}</svg>`;
  const sigma = int(rng, 14, 24);
  const noise = await sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma } } })
    .raw()
    .toBuffer();
  const base = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer();
  for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i] + noise[i] - 128));
  let image = sharp(base, { raw: { width, height, channels: 3 } }).blur(0.55);
  const grayscale = n % 40 === 13;
  if (grayscale) image = image.toColourspace('b-w');
  if (n % 50 === 7) return image.png({ compressionLevel: 6 }).toBuffer();
  return image.jpeg({ quality: int(rng, 75, 95) }).toBuffer();
}

interface Marker {
  version: number;
  size: number;
}

function isComplete(dir: string, size: number): boolean {
  try {
    const marker = JSON.parse(readFileSync(path.join(dir, MARKER), 'utf8')) as Marker;
    return marker.version === VERSION && marker.size === size;
  } catch {
    return false;
  }
}

/** The user's cache folder: `$XDG_CACHE_HOME` or `~/.cache` (Linux), `~/Library/Caches` (macOS), `%LOCALAPPDATA%` (Windows). */
function userCacheDir(): string {
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches');
  if (process.platform === 'win32') return process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local');
  return process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
}

/**
 * Where generated sets are cached unless `--cache-dir` says otherwise: `node_modules/.cache/imgstream/bench-data`
 * of the project the command runs in (the nearest folder up from `cwd` that has a `node_modules`, as Babel's
 * and ESLint's caches do), else `imgstream/bench-data` in the user's cache folder. Never the working folder itself.
 */
export function defaultCacheDir(cwd = process.cwd()): string {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules', '.cache', 'imgstream', 'bench-data');
    if (path.dirname(dir) === dir) return path.join(userCacheDir(), 'imgstream', 'bench-data');
  }
}

/** The folder of the `size`-image set under `cacheDir` (whether or not it exists yet). */
export function datasetDir(cacheDir: string, size: number): string {
  return path.join(cacheDir, `set-${size}`);
}

/**
 * Makes sure `cacheDir/set-<size>` holds `size` images in `CLASSES` class folders, generating only what the
 * cache lacks. Returns the folder.
 *
 * @example
 * const dir = await ensureDataset(defaultCacheDir(), 1000);
 */
export async function ensureDataset(cacheDir: string, size: number, options: DatasetOptions = {}): Promise<string> {
  const dir = datasetDir(cacheDir, size);
  if (isComplete(dir, size)) return dir;
  const pool = path.join(cacheDir, 'pool');
  const poolMarker = path.join(pool, `.version-${VERSION}`);
  if (existsSync(pool) && !existsSync(poolMarker)) await fsp.rm(pool, { recursive: true, force: true });
  for (let c = 0; c < CLASSES; c++) {
    await fsp.mkdir(path.join(pool, `class_${c}`), { recursive: true });
    await fsp.mkdir(path.join(dir, `class_${c}`), { recursive: true });
  }
  await fsp.writeFile(poolMarker, '');
  const queue = new PQueue({ concurrency: options.concurrency ?? Math.max(1, os.availableParallelism()) });
  let done = 0;
  for (let n = 0; n < size; n++) {
    void queue.add(async () => {
      const source = path.join(pool, poolFile(n));
      if (!existsSync(source)) {
        const data = await renderImage(n);
        const partial = `${source}.partial`;
        await fsp.writeFile(partial, data);
        await fsp.rename(partial, source);
      }
      const target = path.join(dir, poolFile(n));
      if (!existsSync(target)) {
        try {
          await fsp.link(source, target);
        } catch {
          await fsp.copyFile(source, target);
        }
      }
      done += 1;
      options.onProgress?.(done, size);
    });
    if (queue.size > 256) await queue.onSizeLessThan(64);
  }
  await queue.onIdle();
  await fsp.writeFile(path.join(dir, MARKER), JSON.stringify({ version: VERSION, size } satisfies Marker));
  return dir;
}

/** Sizes of the files of a folder, for the report: count, mean bytes, formats. */
export async function describeFolder(dir: string): Promise<{ files: number; meanBytes: number; formats: Record<string, number> }> {
  let files = 0;
  let bytes = 0;
  const formats: Record<string, number> = {};
  async function walk(d: string): Promise<void> {
    for (const entry of await fsp.readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else {
        const ext = path.extname(entry.name).slice(1).toLowerCase();
        if (!['jpg', 'jpeg', 'png', 'webp', 'bmp', 'gif', 'tif', 'tiff'].includes(ext)) continue;
        files += 1;
        bytes += (await fsp.stat(p)).size;
        formats[ext] = (formats[ext] ?? 0) + 1;
      }
    }
  }
  await walk(dir);
  return { files, meanBytes: files === 0 ? 0 : Math.round(bytes / files), formats };
}

const JPEG_EXTENSIONS = new Set(['jpg', 'jpeg']);

/**
 * The JPEG files of `dir` alone, for the rows read against the libjpeg-turbo decode-only row (which reads
 * JPEGs only): `dir` itself when it holds nothing else, else a folder under `cacheDir` of hard links (copies
 * where links are not possible) to its JPEGs, the same sub-folders, made anew each run. `left` counts the
 * image files left out, by extension.
 */
export async function jpegOnlyView(dir: string, cacheDir: string): Promise<{ dir: string; left: Record<string, number> }> {
  const { formats } = await describeFolder(dir);
  const left = Object.fromEntries(Object.entries(formats).filter(([ext]) => !JPEG_EXTENSIONS.has(ext)));
  if (Object.keys(left).length === 0) return { dir, left };
  const view = path.join(cacheDir, 'jpeg-only', path.resolve(dir).replace(/[^A-Za-z0-9._-]+/g, '_').slice(-120));
  await fsp.rm(view, { recursive: true, force: true });
  async function walk(from: string, to: string): Promise<void> {
    await fsp.mkdir(to, { recursive: true });
    for (const entry of await fsp.readdir(from, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const source = path.join(from, entry.name);
      const target = path.join(to, entry.name);
      if (entry.isDirectory()) await walk(source, target);
      else if (JPEG_EXTENSIONS.has(path.extname(entry.name).slice(1).toLowerCase())) {
        await fsp.link(source, target).catch(() => fsp.copyFile(source, target));
      }
    }
  }
  await walk(dir, view);
  return { dir: view, left };
}

