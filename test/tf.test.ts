import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoader, fromDirectory, imageDatasetFromDirectory } from '../src/index.js';
import { fileSystem, predict, tf, toTfDataset, type TensorBatch } from '../src/tf/index.js';
import type { Tensor } from '@tensorflow/tfjs';
import { removeDir, tempDir } from './fixtures/images.js';
import { collect } from './fixtures/pipeline.js';
import { makeBrightnessFolders } from './fixtures/tf-data.js';

let root: string;
let files: string[];
let labels: number[];

beforeAll(async () => {
  root = tempDir('imgstream-tf-');
  ({ files, labels } = await makeBrightnessFolders(path.join(root, 'data'), ['a', 'b', 'c'], 7));
});
afterAll(() => removeDir(root));

const base = { imageSize: [6, 6] as [number, number], batchSize: 8, workers: 1, shuffle: false, normalize: 'unit' as const };

async function firstBatch(ds: ReturnType<typeof toTfDataset>): Promise<{ xs: number[][]; ys: number[] | number[][]; xsShape: number[]; ysShape: number[]; ysDtype: string }> {
  const it = await ds.iterator();
  const { value } = (await it.next()) as { value: TensorBatch };
  const out = {
    xs: [] as number[][],
    ys: (await value.ys.array()) as number[] | number[][],
    xsShape: value.xs.shape,
    ysShape: value.ys.shape,
    ysDtype: value.ys.dtype,
  };
  tf.dispose(value);
  return out;
}

describe('toTfDataset', () => {
  it('gives xs [n,h,w,c] float32 and class indices for labelMode int', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base, colorMode: 'rgb' });
    const b = await firstBatch(toTfDataset(loader));
    expect(b.xsShape).toEqual([8, 6, 6, 3]);
    expect(b.ysShape).toEqual([8]);
    expect(b.ysDtype).toBe('float32');
    expect(b.ys).toEqual(labels.slice(0, 8));
    await loader.close();
  });

  it('gives one-hot labels for categorical and for int with oneHot, [n,1] for binary', async () => {
    const cat = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base, labelMode: 'categorical' });
    const hot = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base });
    const expected = labels.slice(0, 8).map((l) => [0, 1, 2].map((c) => (c === l ? 1 : 0)));
    const a = await firstBatch(toTfDataset(cat));
    const b = await firstBatch(toTfDataset(hot, { oneHot: true }));
    expect(a.ysShape).toEqual([8, 3]);
    expect(a.ys).toEqual(expected);
    expect(b.ys).toEqual(expected);
    const index = await fromDirectory(path.join(root, 'data'), { classNames: ['a', 'b'] });
    const bin = new ImageLoader(index, { ...base, labelMode: 'binary', batchSize: 14 });
    const c = await firstBatch(toTfDataset(bin));
    expect(c.ysShape).toEqual([14, 1]);
    expect((c.ys as number[][]).map((r) => r[0])).toEqual(labels.slice(0, 14));
    await Promise.all([cat.close(), hot.close(), bin.close()]);
  });

  it('refuses an unlabeled loader with a typed error', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base, labelMode: null });
    expect(() => toTfDataset(loader)).toThrow(expect.objectContaining({ code: 'ERR_OPTION' }));
    await loader.close();
  });

  it('runs one loader epoch per fitDataset epoch and leaks no tensor', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base, shuffle: true });
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [6, 6, 3] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
    const tensorsAtEpochEnd: number[] = [];
    let batches = 0;
    await model.fitDataset(toTfDataset(loader), {
      epochs: 4,
      verbose: 0,
      callbacks: { onBatchEnd: async () => void batches++, onEpochEnd: async () => void tensorsAtEpochEnd.push(tf.memory().numTensors) },
    });
    expect(batches).toBe(4 * loader.batchesPerEpoch);
    expect(loader.stats.epochs).toBe(4);
    expect(new Set(tensorsAtEpochEnd.slice(1)).size).toBe(1);
    model.dispose();
    await loader.close();
  });

  it('hands the arrays of batches whose tensors are gone back to the loader, and never those of live ones', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base, shuffle: false, batchSize: 2 });
    const handedBack: Batch[] = [];
    const recycle = loader.recycle.bind(loader);
    loader.recycle = (batch) => {
      handedBack.push(batch);
      recycle(batch);
    };
    const kept: TensorBatch[] = [];
    const iterator = await toTfDataset(loader).iterator();
    for (let i = 0; i < 3; i++) {
      const { value } = await iterator.next();
      // A clone shares the first batch's pixel data and keeps it alive after the original is disposed.
      if (i === 0) kept.push({ xs: value.xs.clone(), ys: value.ys.clone() });
      tf.dispose([value.xs, value.ys]);
    }
    // The first batch's data lives on in the clone: not handed back. The second's tensors are gone: it is.
    expect(handedBack).toHaveLength(1);
    const firstPixels = await kept[0].xs.data();
    const expected = (await collect(loader))[0].images;
    expect(Array.from(firstPixels)).toEqual(Array.from(expected));
    tf.dispose([kept[0].xs, kept[0].ys]);
    await loader.close();
  });
});

describe('fileSystem IO handler', () => {
  it('saves model.json + weights.bin and loads back a model with the same predictions', async () => {
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [6, 6, 3] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    const dir = path.join(root, 'saved');
    await model.save(fileSystem(dir));
    expect(existsSync(path.join(dir, 'model.json'))).toBe(true);
    expect(existsSync(path.join(dir, 'weights.bin'))).toBe(true);
    const x = tf.randomUniform([4, 6, 6, 3]);
    const loaded = await tf.loadLayersModel(fileSystem(dir));
    const viaUrl = await tf.loadLayersModel(`file://${path.join(dir, 'model.json')}`);
    const want = await (model.predict(x) as Tensor).array();
    expect(await (loaded.predict(x) as Tensor).array()).toEqual(want);
    expect(await (viaUrl.predict(x) as Tensor).array()).toEqual(want);
    await expect(tf.loadLayersModel(fileSystem(path.join(root, 'missing')))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
  });
});

describe('predict', () => {
  it('returns one row per file, in index order, from a shuffled unlabeled loader', async () => {
    const loader = await imageDatasetFromDirectory(path.join(root, 'data'), { ...base, shuffle: true, labelMode: null, seed: 3 });
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [6, 6, 3] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const before = tf.memory().numTensors;
    const result = await predict(model, loader);
    expect(tf.memory().numTensors).toBe(before);
    expect(result.paths).toEqual(files);
    expect(result.predictions).toHaveLength(files.length);
    expect(result.predictions.every((r) => r.length === 2)).toBe(true);
    // Each row belongs to its path: compare with a prediction made on that file alone.
    const single = new ImageLoader(await fromDirectory(path.join(root, 'data')), { ...base, labelMode: null, batchSize: 1 });
    const alone = await predict(model, single);
    alone.predictions.forEach((row, i) => expect(Array.from(row)).toEqual(Array.from(result.predictions[i]).map((v) => expect.closeTo(v, 5)) as unknown as number[]));
    await Promise.all([loader.close(), single.close()]);
  });
});
