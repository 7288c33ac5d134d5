/**
 * The adapter from loader batches to tensors: `toTfDataset` wraps a loader in a `tf.data.Dataset` of
 * `{ xs, ys }` that `model.fitDataset` consumes, one loader epoch per dataset iteration.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Batch, ImageLoader } from '../index.js';
import { Errors } from '../errors.js';
import { boolean, func, invalid, object } from '../validate.js';
import { tf } from './backend.js';

/** What `toTfDataset` needs from a loader: batches, and the resolved options that describe them. */
export type BatchSource = AsyncIterable<Batch> & {
  readonly options: Pick<ImageLoader['options'], 'labelMode' | 'numClasses'>;
  /** When present, batches whose tensors are gone are handed back to be filled again (see `ImageLoader.recycle`). */
  recycle?: (batch: Batch) => void;
};

export interface TfDatasetOptions {
  /** `labelMode: 'int'` only: one-hot float32 `[n, numClasses]` labels instead of class indices `[n]`. Default `false`. */
  oneHot?: boolean;
  /**
   * Each iteration of the dataset runs the loader's epochs back to back without end, as a repeated
   * `tf.data` dataset does; pair it with `batchesPerEpoch`. Default `false`: one iteration = one loader epoch.
   */
  repeat?: boolean;
}

export interface TensorBatch extends tfTypes.TensorContainerObject {
  xs: tfTypes.Tensor4D;
  ys: tfTypes.Tensor;
}

/** Open loader epochs of each dataset, so that a caller can end them when it stops early. */
const openEpochs = new WeakMap<object, Set<AsyncIterator<Batch>>>();

/** Turns one loader batch into `{ xs, ys }` tensors (the caller owns and disposes them). */
export function batchToTensors(batch: Batch, labelMode: BatchSource['options']['labelMode'], numClasses: number, oneHot = false): TensorBatch {
  const images = batch.images instanceof Float32Array ? batch.images : Float32Array.from(batch.images);
  const xs = tf.tensor4d(images, batch.shape, 'float32');
  const n = batch.shape[0];
  const labels = batch.labels;
  if (labels === null) {
    xs.dispose();
    throw Errors.optionConflict("Expected a loader with labels for training (labelMode 'int', 'categorical' or 'binary') but received labelMode null");
  }
  let ys: tfTypes.Tensor;
  if (labelMode === 'categorical') ys = tf.tensor2d(labels as Float32Array, [n, numClasses], 'float32');
  else if (labelMode === 'binary') ys = tf.tensor2d(Float32Array.from(labels), [n, 1], 'float32');
  else if (oneHot) {
    const hot = new Float32Array(n * numClasses);
    for (let i = 0; i < n; i++) hot[i * numClasses + labels[i]] = 1;
    ys = tf.tensor2d(hot, [n, numClasses], 'float32');
  } else ys = tf.tensor1d(Float32Array.from(labels), 'float32');
  return { xs, ys };
}

/**
 * A `tf.data.Dataset` of `{ xs, ys }` over a loader: `xs` float32 `[n, h, w, c]` (uint8 pixels are widened),
 * `ys` by `labelMode`: `'int'` float32 `[n]` of class indices (tfjs' `sparseCategoricalCrossentropy`
 * floors its targets, which it only accepts as float32), or one-hot float32 `[n, numClasses]` with `oneHot`),
 * `'categorical'` float32 `[n, numClasses]`, `'binary'` float32 `[n, 1]`. Each `iterator()` call (tfjs makes
 * one per `fitDataset` epoch) runs one loader epoch. Tensors are made one batch at a time; `fitDataset`
 * disposes each batch after its step, so nothing accumulates.
 *
 * @example
 * import * as tf from '@tensorflow/tfjs';
 * import { imageDatasetFromDirectory } from 'imgstream';
 * import { toTfDataset } from 'imgstream/tf';
 * const [train, val] = await imageDatasetFromDirectory('data', {
 *   imageSize: [64, 64], validationSplit: 0.2, subset: 'both', normalize: 'unit',
 * });
 * await model.fitDataset(toTfDataset(train), { epochs: 5, validationData: toTfDataset(val) });
 * await train.close(); await val.close();
 */
export function toTfDataset(loader: BatchSource, options: TfDatasetOptions = {}): tfTypes.data.Dataset<TensorBatch> {
  if (!object(loader) || !func(loader[Symbol.asyncIterator]) || !loader.options) {
    throw invalid('loader', 'an ImageLoader', loader);
  }
  const { oneHot = false, repeat = false } = options ?? {};
  boolean('oneHot', oneHot);
  boolean('repeat', repeat);
  const { labelMode, numClasses } = loader.options;
  if (labelMode === null) {
    throw Errors.optionConflict(
      "Expected a loader with labels for toTfDataset (labelMode 'int', 'categorical' or 'binary') but received labelMode null; use predict() for unlabeled images",
    );
  }
  if (oneHot && labelMode !== 'int') {
    throw Errors.optionConflict(`Expected labelMode 'int' with oneHot but received labelMode '${labelMode}'`);
  }
  const open = new Set<AsyncIterator<Batch>>();
  const recycle = typeof loader.recycle === 'function' ? loader.recycle.bind(loader) : null;
  // Batches whose arrays may back tensors still alive; handed back to the loader once no tensor uses them.
  const lent: { batch: Batch; tensors: TensorBatch }[] = [];
  const giveBack = () => {
    const backend = tf.backend();
    for (let i = lent.length - 1; i >= 0; i--) {
      const { batch, tensors: t } = lent[i];
      // refCount, not isDisposed: a clone of a tensor shares its data and keeps it alive.
      if (backend.refCount(t.xs.dataId) === 0 && backend.refCount(t.ys.dataId) === 0) {
        recycle?.(batch);
        lent.splice(i, 1);
      }
    }
  };
  async function* tensors(): AsyncGenerator<TensorBatch, void, undefined> {
    do {
      const epoch = loader[Symbol.asyncIterator]();
      open.add(epoch);
      try {
        for (;;) {
          if (recycle !== null) giveBack();
          const next = await epoch.next();
          if (next.done) break;
          if (next.value.shape[0] === 0) continue;
          const t = batchToTensors(next.value, labelMode, numClasses, oneHot);
          if (recycle !== null) lent.push({ batch: next.value, tensors: t });
          yield t;
        }
      } finally {
        open.delete(epoch);
        lent.length = 0;
      }
    } while (repeat);
  }
  const dataset = tf.data.generator(tensors as unknown as () => Iterator<TensorBatch>) as tfTypes.data.Dataset<TensorBatch>;
  openEpochs.set(dataset, open);
  return dataset;
}

/**
 * Ends the loader epochs a dataset from {@link toTfDataset} left open (tfjs never finishes an iterator it
 * stops reading, e.g. after `batchesPerEpoch` steps or an early stop). Their decode work stops; the loader
 * stays usable.
 */
export async function releaseDataset(dataset: object): Promise<void> {
  const open = openEpochs.get(dataset);
  if (open === undefined) return;
  const epochs = [...open];
  open.clear();
  await Promise.all(epochs.map((epoch) => epoch.return?.()));
}
