/**
 * The demo's image-classification data: ten classes of seven-segment digits drawn in software (no fonts
 * needed), each with its own size, position, slant, rotation, stroke, colours and noise, written as PNG and
 * JPEG files of varied sizes with sharp. Deterministic for a seed; generated once into a cache folder.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import sharp from 'sharp';

export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** Segments a..g of a digit 0.6 wide and 1 high: [x0, y0, x1, y1]. */
const SEGMENTS: Record<string, [number, number, number, number]> = {
  a: [0, 0, 0.6, 0],
  b: [0.6, 0, 0.6, 0.5],
  c: [0.6, 0.5, 0.6, 1],
  d: [0, 1, 0.6, 1],
  e: [0, 0.5, 0, 1],
  f: [0, 0, 0, 0.5],
  g: [0, 0.5, 0.6, 0.5],
};
const DIGITS = ['abcdef', 'bc', 'abged', 'abgcd', 'fgbc', 'afgcd', 'afgecd', 'abc', 'abcdefg', 'abcdfg'];

const MARKER = '.complete.json';
/** Bumped when the drawing changes, so that an old cache is regenerated. */
const VERSION = 2;

export interface DigitsOptions {
  /** Images per class. Default `300`. */
  perClass?: number;
  /** Seed of every random choice. Default `7`. */
  seed?: number;
  /** Called after each file is written. */
  onProgress?: (done: number, total: number) => void;
}

function uniform(rng: RandomGenerator, lo: number, hi: number): number {
  return lo + (unsafeUniformIntDistribution(0, 0xffffff, rng) / 0xffffff) * (hi - lo);
}

function int(rng: RandomGenerator, lo: number, hi: number): number {
  return unsafeUniformIntDistribution(lo, hi, rng);
}

function distanceToSegment(px: number, py: number, s: [number, number, number, number]): number {
  const [x0, y0, x1, y1] = s;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const t = Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
}

function luminance([r, g, b]: number[]): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** Draws one digit as raw RGB pixels. */
export function drawDigit(digit: number, rng: RandomGenerator): { data: Buffer; width: number; height: number } {
  const width = int(rng, 32, 56);
  const height = int(rng, 32, 56);
  const background = [int(rng, 0, 255), int(rng, 0, 255), int(rng, 0, 255)];
  let ink = [int(rng, 0, 255), int(rng, 0, 255), int(rng, 0, 255)];
  while (Math.abs(luminance(ink) - luminance(background)) < 70) ink = [int(rng, 0, 255), int(rng, 0, 255), int(rng, 0, 255)];
  const scale = Math.min(width, height) * uniform(rng, 0.6, 0.8);
  const angle = uniform(rng, -0.2, 0.2);
  const slant = uniform(rng, -0.25, 0.1);
  const stroke = uniform(rng, 0.12, 0.2);
  const cx = width / 2 + uniform(rng, -0.12, 0.12) * width;
  const cy = height / 2 + uniform(rng, -0.1, 0.1) * height;
  const noise = uniform(rng, 10, 45);
  const segments = [...DIGITS[digit]].map((s) => SEGMENTS[s]);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Pixel -> digit space: undo translation, rotation, scale, then slant.
      const rx = (x + 0.5 - cx) / scale;
      const ry = (y + 0.5 - cy) / scale;
      let u = cos * rx + sin * ry;
      const v = -sin * rx + cos * ry + 0.5;
      u = u - slant * (v - 0.5) + 0.3;
      let d = Infinity;
      for (const s of segments) d = Math.min(d, distanceToSegment(u, v, s));
      const edge = (stroke / 2 - d) * scale;
      const coverage = Math.max(0, Math.min(1, edge + 0.5));
      for (let c = 0; c < 3; c++) {
        const value = background[c] + (ink[c] - background[c]) * coverage + uniform(rng, -noise, noise);
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return { data, width, height };
}

/** True when `dir` holds a complete dataset made with these settings. */
export function isGenerated(dir: string, perClass: number, seed: number): boolean {
  try {
    const marker = JSON.parse(readFileSync(path.join(dir, MARKER), 'utf8')) as { perClass: number; seed: number; version: number };
    return marker.perClass === perClass && marker.seed === seed && marker.version === VERSION;
  } catch {
    return false;
  }
}

/**
 * Writes `dir/<digit>/<i>.png|jpg`, `perClass` images per class, unless `dir` already holds the same set.
 * Returns whether it generated anything.
 *
 * @example
 * await generateDigits('.cache/demo-data', { perClass: 300 }); // 3000 files, seed 7
 */
export async function generateDigits(dir: string, options: DigitsOptions = {}): Promise<boolean> {
  const { perClass = 300, seed = 7, onProgress } = options;
  if (isGenerated(dir, perClass, seed)) return false;
  await fsp.rm(dir, { recursive: true, force: true });
  for (const name of DIGIT_CLASSES) await fsp.mkdir(path.join(dir, name), { recursive: true });
  const total = perClass * DIGIT_CLASSES.length;
  const queue = new PQueue({ concurrency: 8 });
  let done = 0;
  for (let i = 0; i < perClass; i++) {
    for (let digit = 0; digit < DIGIT_CLASSES.length; digit++) {
      const rng = xoroshiro128plus((seed * 1_000_003 + i * 10 + digit) | 0);
      const { data, width, height } = drawDigit(digit, rng);
      const jpeg = (i + digit) % 2 === 0;
      const file = path.join(dir, DIGIT_CLASSES[digit], `${String(i).padStart(5, '0')}.${jpeg ? 'jpg' : 'png'}`);
      const image = sharp(data, { raw: { width, height, channels: 3 } });
      void queue.add(async () => {
        await (jpeg ? image.jpeg({ quality: 85 }) : image.png()).toFile(file);
        done += 1;
        onProgress?.(done, total);
      });
      if (queue.size > 64) await queue.onSizeLessThan(32);
    }
  }
  await queue.onIdle();
  await fsp.writeFile(path.join(dir, MARKER), JSON.stringify({ perClass, seed, version: VERSION, classes: DIGIT_CLASSES.length }));
  return true;
}
