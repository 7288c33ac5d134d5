/**
 * imgstream/tf: train TensorFlow.js models from a loader. Loads `@tensorflow/tfjs-node` when it is installed and
 * loads, else `@tensorflow/tfjs` (see {@link loadBackend}); without either, importing it fails with
 * `ERR_NOT_INSTALLED` naming what to install.
 *
 * @example
 * import { imageDatasetFromDirectory } from 'imgstream';
 * import { fit, modelCheckpoint, earlyStopping, toTfDataset } from 'imgstream/tf';
 * const [train, val] = await imageDatasetFromDirectory('data', { imageSize: [32, 32], validationSplit: 0.2, subset: 'both' });
 * await fit(model, train, { epochs: 10, validation: val, callbacks: [modelCheckpoint({ dir: 'best' }), earlyStopping({ patience: 2 })] });
 */
import { registerFileRouter } from './file-io.js';

export { announceBackend, backendInfo, describeBackend, loadBackend, tf } from './backend.js';
export type { BackendInfo, Tf } from './backend.js';
export { batchToTensors, releaseDataset, toTfDataset } from './dataset.js';
export type { BatchSource, TensorBatch, TfDatasetOptions } from './dataset.js';
export { fit } from './fit.js';
export type { FitOptions } from './fit.js';
export { EarlyStopping, ModelCheckpoint, earlyStopping, modelCheckpoint, resolveLogs } from './callbacks.js';
export type { EarlyStoppingOptions, ModelCheckpointOptions, MonitorMode } from './callbacks.js';
export { fileSystem, registerFileRouter, MODEL_JSON, WEIGHTS_BIN } from './file-io.js';
export { predict } from './predict.js';
export type { PredictResult } from './predict.js';

registerFileRouter();
