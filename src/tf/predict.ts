/**
 * Inference over a loader: one prediction row per file, in index order, with its path.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Batch, ImageLoader, SkippedSample } from '../index.js';
import { Errors } from '../errors.js';
import { func, invalid, object } from '../validate.js';
import { tf } from './backend.js';

export interface PredictResult {
  /** Path of each row, in index order (the order of `fromDirectory`/`fromList`). */
  paths: string[];
  /** One row of model outputs per file (views into one buffer). */
  predictions: Float32Array[];
  /** Files that could not be decoded, so have no row. */
  skipped: SkippedSample[];
}

type PredictSource = AsyncIterable<Batch> & Partial<Pick<ImageLoader, 'index' | 'entries' | 'stats'>>;

/** The rank of each path in index order; duplicates of a path take its ranks in turn. */
function indexRanks(loader: PredictSource): ((path: string) => number) | null {
  const { index, entries } = loader;
  if (!index || !entries) return null;
  const ranks = new Map<string, number[]>();
  for (let i = 0; i < entries.length; i++) {
    const p = index.path(entries[i]);
    const list = ranks.get(p);
    if (list) list.push(i);
    else ranks.set(p, [i]);
  }
  return (p) => ranks.get(p)?.shift() ?? Number.MAX_SAFE_INTEGER;
}

/**
 * Runs `model` over one epoch of `loader` (usually `labelMode: null`; labels are ignored) and returns the
 * predictions in index order, whatever the loader's shuffling, with the path of each row. Files the loader
 * skipped are listed in `skipped`. Tensors are made and freed one batch at a time.
 *
 * @example
 * const images = await imageDatasetFromDirectory('to-classify', { imageSize: [32, 32], labelMode: null, normalize: 'unit' });
 * const { paths, predictions } = await predict(model, images);
 * paths.forEach((p, i) => console.log(p, predictions[i].indexOf(Math.max(...predictions[i]))));
 */
export async function predict(model: tfTypes.LayersModel, loader: PredictSource): Promise<PredictResult> {
  if (!object(model) || !func(model.predict)) throw invalid('model', 'a tf.LayersModel', model);
  if (!object(loader) || !func(loader[Symbol.asyncIterator])) throw invalid('loader', 'an ImageLoader', loader);
  const rankOf = indexRanks(loader);
  const rows: { rank: number; path: string; start: number }[] = [];
  const chunks: Float32Array[] = [];
  let width = -1;
  let offset = 0;
  for await (const batch of loader) {
    const n = batch.shape[0];
    if (n === 0) continue;
    const images = batch.images instanceof Float32Array ? batch.images : Float32Array.from(batch.images);
    const values = tf.tidy(() => {
      const xs = tf.tensor4d(images, batch.shape, 'float32');
      const out = model.predict(xs);
      if (Array.isArray(out)) throw Errors.optionConflict('Expected a model with one output for predict but received a model with several');
      return out.reshape([n, -1]);
    });
    const data = (await values.data()) as Float32Array;
    if (width === -1) width = values.shape[1] as number;
    values.dispose();
    chunks.push(data);
    for (let i = 0; i < n; i++) {
      const p = batch.paths[i];
      rows.push({ rank: rankOf ? rankOf(p) : rows.length, path: p, start: offset + i * width });
    }
    offset += n * width;
  }
  const all = new Float32Array(offset);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  rows.sort((a, b) => a.rank - b.rank);
  return {
    paths: rows.map((r) => r.path),
    predictions: rows.map((r) => all.subarray(r.start, r.start + width)),
    skipped: [...(loader.stats?.skipped ?? [])],
  };
}
