import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageDatasetFromDirectory, type ImageLoader } from '../src/index.js';
import { earlyStopping, fileSystem, fit, modelCheckpoint, tf, toTfDataset } from '../src/tf/index.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { makeBrightnessFolders } from './fixtures/tf-data.js';

let root: string;
let train: ImageLoader;
let val: ImageLoader;

beforeAll(async () => {
  root = tempDir('imgstream-fit-');
  await makeBrightnessFolders(path.join(root, 'data'), ['dark', 'light'], 16);
  [train, val] = await imageDatasetFromDirectory(path.join(root, 'data'), {
    imageSize: [6, 6],
    batchSize: 8,
    workers: 1,
    normalize: 'unit',
    validationSplit: 0.25,
    subset: 'both',
    seed: 5,
  });
});
afterAll(async () => {
  await Promise.all([train?.close(), val?.close()]);
  removeDir(root);
});

function tinyModel(learningRate = 0.05): LayersModel {
  // Seeded weights: with the loader's seeded order, every run trains the same way (no flaky loss curve).
  const dense = tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) });
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [6, 6, 3] }), dense] });
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
  return model;
}

describe('training from a folder', () => {
  it('model.fitDataset over the loader lowers the loss', async () => {
    const model = tinyModel();
    const history = await model.fitDataset(toTfDataset(train), { epochs: 6, verbose: 0 });
    const loss = history.history.loss as number[];
    expect(loss).toHaveLength(6);
    expect(loss[5]).toBeLessThan(loss[0] * 0.8);
    model.dispose();
  });

  it('fit validates every epoch and the checkpoint loads back with the same predictions', async () => {
    const model = tinyModel();
    const dir = path.join(root, 'best');
    const checkpoint = modelCheckpoint({ dir });
    const history = await fit(model, train, { epochs: 4, validation: val, callbacks: [checkpoint], verbose: 0 });
    const valLoss = history.history.val_loss as number[];
    expect(valLoss).toHaveLength(4);
    expect(checkpoint.best).toBe(Math.min(...valLoss));
    expect(checkpoint.bestEpoch).toBe(valLoss.indexOf(Math.min(...valLoss)));
    expect(existsSync(path.join(dir, 'model.json'))).toBe(true);

    // The saved model is the one of the best epoch; save the final one too and compare both ways.
    const last = path.join(root, 'last');
    const every = modelCheckpoint({ dir: last, saveBestOnly: false });
    await fit(model, train, { epochs: 1, validation: val, callbacks: [every], verbose: 0 });
    const restored = await tf.loadLayersModel(fileSystem(last));
    const x = tf.randomUniform([5, 6, 6, 3]);
    expect(await (restored.predict(x) as Tensor).array()).toEqual(await (model.predict(x) as Tensor).array());
    tf.dispose([x, restored, model]);
  });

  it('saves only on improvement of the monitored metric', async () => {
    const model = tinyModel();
    const checkpoint = modelCheckpoint({ dir: path.join(root, 'by-hand'), monitor: 'val_acc' });
    expect(checkpoint.mode).toBe('max');
    checkpoint.setModel(model);
    await checkpoint.onEpochEnd(0, { val_acc: 0.5 });
    await checkpoint.onEpochEnd(1, { val_acc: 0.9 });
    await checkpoint.onEpochEnd(2, { val_acc: 0.7 });
    expect([checkpoint.best, checkpoint.bestEpoch]).toEqual([0.9, 1]);
    model.dispose();
  });

  it('early stopping stops when val_loss stops improving', async () => {
    const model = tinyModel(0);
    const stop = earlyStopping({ patience: 1 });
    const history = await fit(model, train, { epochs: 10, validation: val, callbacks: [stop], verbose: 0 });
    expect(history.epoch).toEqual([0, 1]);
    expect(stop.stoppedEpoch).toBe(1);
    model.dispose();
  });

  it('early stopping restores the best weights', async () => {
    const model = tinyModel();
    const stop = earlyStopping({ patience: 1, restoreBestWeights: true, minDelta: 0.01 });
    stop.setModel(model);
    await stop.onTrainBegin();
    const best = model.getWeights().map((w) => w.arraySync());
    await stop.onEpochEnd(0, { val_loss: 1 });
    model.setWeights(model.getWeights().map((w) => tf.onesLike(w)));
    await stop.onEpochEnd(1, { val_loss: 0.995 }); // within minDelta: not an improvement
    expect(model.stopTraining).toBe(true);
    expect(model.getWeights().map((w) => w.arraySync())).toEqual(best);
    await stop.onTrainEnd();
    model.dispose();
  });

  it('honours stepsPerEpoch across loader epochs and validationSteps, without leaking tensors', async () => {
    const model = tinyModel();
    let steps = 0;
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    // 24 training images in batches of 8: 3 batches per loader epoch; 5 steps per fit epoch run on into the next one.
    await fit(model, train, {
      epochs: 3,
      stepsPerEpoch: 5,
      validation: val,
      validationSteps: 1,
      verbose: 0,
      callbacks: [{ onBatchEnd: async () => void steps++, onEpochEnd: async () => void counts.push(tf.memory().numTensors) }],
    });
    expect(steps).toBe(15);
    expect(train.stats.epochs).toBeGreaterThanOrEqual(5);
    expect(new Set(counts).size).toBe(1);
    model.optimizer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  });

  it('rejects bad options with the option name', async () => {
    const model = tinyModel();
    await expect(fit(model, train, { epochs: 0 })).rejects.toThrow(/for epochs but received 0/);
    await expect(fit(model, train, { stepsPerEpoch: -1 })).rejects.toThrow(/for stepsPerEpoch/);
    expect(() => earlyStopping({ patience: 1.5 })).toThrow(/earlyStopping.patience/);
    model.dispose();
  });
});
