/**
 * `previewAugmentation` and `imgstream preview`: a PNG grid that shows what an augmentation does, one row per
 * sample, the plain decode in the first column and draws of successive epochs in the next ones. It runs the
 * loader itself, so the grid shows exactly what training sees.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { OverlayOptions } from 'sharp';
import type { AugmentOptions } from './augment-options.js';
import { Errors } from './errors.js';
import { fromDirectory, fromList, type FileIndex } from './file-index.js';
import { ImageLoader } from './loader.js';
import { invalid, nonEmptyString, object, positiveInteger } from './validate.js';

export interface PreviewOptions {
  /** The PNG file to write. */
  out: string;
  /** Rows: samples taken evenly across the index. Default `6`. */
  samples?: number;
  /** Augmented columns per sample, one epoch each. Default `4`. */
  variants?: number;
  /** Cell `[height, width]`. Default `[128, 128]`. */
  imageSize?: readonly [number, number];
  /** Seed of the draws. Default `0`. */
  seed?: number;
  /** Decode threads. Default `2`. */
  workers?: number;
}

export interface PreviewResult {
  out: string;
  width: number;
  height: number;
  rows: number;
  columns: number;
  paths: string[];
}

const GAP = 4;

const count = positiveInteger;

/**
 * Writes a grid of original vs augmented samples to `options.out` (PNG).
 *
 * @example
 * await previewAugmentation('data/train', { randomResizedCrop: true, horizontalFlip: 0.5 }, { out: 'grid.png' });
 */
export async function previewAugmentation(
  source: string | FileIndex,
  augment: AugmentOptions,
  options: PreviewOptions,
): Promise<PreviewResult> {
  if (!object(options) || !nonEmptyString(options.out)) {
    throw invalid('out', 'a file name', options?.out);
  }
  const rows = count('samples', options.samples ?? 6, 256);
  const variants = count('variants', options.variants ?? 4, 64);
  const imageSize = options.imageSize ?? ([128, 128] as const);
  const index = typeof source === 'string' ? await fromDirectory(source) : source;
  const picked = Math.min(rows, index.size);
  const paths = Array.from({ length: picked }, (_, i) => index.path(Math.floor((i * index.size) / picked)));
  const list = fromList(paths);
  const common = {
    imageSize,
    colorMode: 'rgb' as const,
    labelMode: null,
    dtype: 'uint8' as const,
    shuffle: false,
    batchSize: picked,
    seed: options.seed ?? 0,
    workers: options.workers ?? 2,
    onError: 'skip' as const,
    maxSkipShare: 1,
  };
  const plain = new ImageLoader(list, common);
  const augmented = new ImageLoader(list, { ...common, augment });
  const columns: Uint8Array[] = [];
  let shown: string[] = [];
  try {
    for (const loader of [plain, ...Array<ImageLoader>(variants).fill(augmented)]) {
      for await (const batch of loader) {
        columns.push(batch.images.slice() as Uint8Array);
        shown = batch.paths;
      }
    }
  } finally {
    await Promise.all([plain.close(), augmented.close()]);
  }
  // Files that cannot be decoded are left out (the same ones in every column).
  if (columns.length !== variants + 1 || shown.length === 0) {
    throw Errors.nothingDecodable(typeof source === 'string' ? source : 'the index', picked);
  }
  const rowsShown = shown.length;

  const [h, w] = imageSize;
  const cell = h * w * 3;
  const width = (variants + 1) * w + (variants + 4) * GAP;
  const height = rowsShown * h + (rowsShown + 1) * GAP;
  const tiles: OverlayOptions[] = [];
  columns.forEach((images, col) => {
    for (let row = 0; row < rowsShown; row++) {
      tiles.push({
        input: Buffer.from(images.buffer, images.byteOffset + row * cell, cell),
        raw: { width: w, height: h, channels: 3 },
        // The original column stands apart from the augmented ones by a wider gap.
        left: GAP + col * (w + GAP) + (col > 0 ? 2 * GAP : 0),
        top: GAP + row * (h + GAP),
      });
    }
  });
  mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
  // Loaded here, not at import: a training process that never previews keeps libvips out of its main thread.
  const { default: sharp } = await import('sharp');
  await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(tiles)
    .png()
    .toFile(options.out);
  return { out: options.out, width, height, rows: rowsShown, columns: variants + 1, paths: shown };
}
