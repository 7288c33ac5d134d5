/**
 * Keras-style training over loaders: `fit(model, train, { epochs, validation, callbacks })` wraps
 * `model.fitDataset` with the loader adapter, `stepsPerEpoch`/`validationSteps` as Keras reads them, and a
 * progress bar per epoch (loss, metrics, images/s, peak RSS).
 */
import cliProgress from 'cli-progress';
import type * as tfTypes from '@tensorflow/tfjs';
import { Errors } from '../errors.js';
import { func, inArray, integerBetween, integerIn, invalid, object } from '../validate.js';
import { announceBackend, tf } from './backend.js';
import { resolveLogs, type UnresolvedLogs } from './callbacks.js';
import { releaseDataset, toTfDataset, type BatchSource, type TensorBatch } from './dataset.js';

type TfDataset = tfTypes.data.Dataset<TensorBatch> | tfTypes.data.Dataset<tfTypes.TensorContainer>;
type AnyCallback = tfTypes.Callback | tfTypes.CustomCallbackArgs;

/** tfjs takes either callback objects or plain `{ onEpochEnd, ... }` objects, not a mix: make them all objects. */
function asCallback(c: AnyCallback): tfTypes.Callback {
  const candidate = c as tfTypes.Callback;
  if (typeof candidate?.setModel === 'function' && typeof candidate?.setParams === 'function') return candidate;
  if (!object(c)) throw invalid('callbacks[]', 'a tf.Callback or an object of callback functions', c);
  return new tf.CustomCallback(c as tfTypes.CustomCallbackArgs) as unknown as tfTypes.Callback;
}

export interface FitOptions {
  /** Epochs to train. Default `1`. */
  epochs?: number;
  /** Validation data: a loader, a `tf.data.Dataset` of `{ xs, ys }`, or `[xs, ys]` tensors. Default none. */
  validation?: BatchSource | TfDataset | [tfTypes.Tensor, tfTypes.Tensor] | null;
  /** tfjs callbacks (`modelCheckpoint`, `earlyStopping`, `tf.Callback`s or `{ onEpochEnd, ... }` objects). */
  callbacks?: AnyCallback[];
  /**
   * Batches per epoch. Default: one full pass over `train`. When set, the stream runs on from where the last
   * epoch stopped, starting the next loader epoch when one ends, as Keras does with a repeating dataset or a
   * generator (`steps_per_epoch`).
   */
  stepsPerEpoch?: number | null;
  /** Batches per validation pass, from the start of the validation data each time. Default: all of it. */
  validationSteps?: number | null;
  /** `1` prints the engine's line once per process and a progress bar per epoch (to stderr), `0` prints nothing. Default `1`. */
  verbose?: 0 | 1;
  /** Epoch to start at (for resumed runs; numbering only). Default `0`. */
  initialEpoch?: number;
  /** `labelMode: 'int'` only: train on one-hot labels (for `categoricalCrossentropy`). Default `false`. */
  oneHot?: boolean;
}

function isLoader(value: unknown): value is BatchSource {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value && 'options' in value;
}

function isDataset(value: unknown): value is TfDataset {
  return value !== null && typeof value === 'object' && typeof (value as TfDataset).iterator === 'function';
}

function optionalCount(option: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (!integerIn(value, 1, Infinity)) throw invalid(option, 'a positive integer', value);
  return value;
}

function formatMetric(value: number): string {
  return Math.abs(value) >= 1000 ? value.toFixed(0) : value.toFixed(4);
}

function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** The per-epoch progress bar: a live bar on a terminal, one finished line per epoch otherwise. */
class ProgressLogger extends tf.Callback {
  private bar: cliProgress.SingleBar | null = null;
  private readonly stream = process.stderr;
  private sums: Record<string, number> = {};
  private seen = 0;
  private steps = 0;
  private started = 0;
  private trainSeconds = 0;

  constructor(
    private readonly epochs: number,
    private readonly stepsPerEpoch: () => number | null,
  ) {
    super();
  }

  private line(epoch: number, epochLogs: Record<string, number> | null): string {
    const total = this.stepsPerEpoch();
    const width = 20;
    const done = total ? Math.min(width, Math.round((this.steps / total) * width)) : width;
    const bar = '█'.repeat(done) + '░'.repeat(width - done);
    const metrics: string[] = [];
    const averages = Object.entries(this.sums).map(([k, v]) => [k, v / Math.max(1, this.seen)] as const);
    for (const [key, value] of averages) metrics.push(`${key} ${formatMetric(epochLogs?.[key] ?? value)}`);
    if (epochLogs) {
      for (const [key, value] of Object.entries(epochLogs)) if (key.startsWith('val_')) metrics.push(`${key} ${formatMetric(value)}`);
    }
    const seconds = epochLogs ? this.trainSeconds : (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? this.seen / seconds : 0;
    return (
      `Epoch ${epoch + 1}/${this.epochs} ${bar} ${this.steps}/${total ?? '?'} | ${metrics.join(' ')} | ` +
      `${rate.toFixed(0)} img/s | peak RSS ${peakRssMB().toFixed(0)} MB | ${seconds.toFixed(1)}s`
    );
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.sums = {};
    this.seen = 0;
    this.steps = 0;
    this.started = performance.now();
    if (this.stream.isTTY) {
      this.bar = new cliProgress.SingleBar({
        format: () => this.line(epoch, null),
        stream: this.stream,
        hideCursor: true,
        clearOnComplete: true,
        linewrap: false,
        fps: 5,
      });
      this.bar.start(this.stepsPerEpoch() ?? 1, 0);
    }
  }

  override async onBatchEnd(_batch: number, logs?: tfTypes.Logs): Promise<void> {
    const values = await resolveLogs(logs as UnresolvedLogs);
    const size = values.size ?? 0;
    for (const [key, value] of Object.entries(values)) {
      if (key === 'batch' || key === 'size') continue;
      this.sums[key] = (this.sums[key] ?? 0) + value * size;
    }
    this.seen += size;
    this.steps += 1;
    this.trainSeconds = (performance.now() - this.started) / 1000;
    this.bar?.update(this.steps);
  }

  override async onEpochEnd(epoch: number, logs?: tfTypes.Logs): Promise<void> {
    const values = await resolveLogs(logs as UnresolvedLogs);
    this.bar?.stop();
    this.bar = null;
    this.stream.write(`${this.line(epoch, values)}\n`);
  }

  override async onTrainEnd(): Promise<void> {
    this.bar?.stop();
    this.bar = null;
  }
}

/**
 * Trains `model` on a loader (or any `tf.data.Dataset` of `{ xs, ys }`) the way Keras' `model.fit` does:
 * epochs, validation after each epoch, callbacks, `stepsPerEpoch`, `validationSteps`. Wraps
 * `model.fitDataset`; the model must be compiled. Returns tfjs' `History`.
 *
 * @example
 * const [train, val] = await imageDatasetFromDirectory('data', {
 *   imageSize: [32, 32], validationSplit: 0.2, subset: 'both', normalize: 'unit', memoryBudget: '64MiB',
 * });
 * const history = await fit(model, train, {
 *   epochs: 20, validation: val,                       // defaults: epochs 1, verbose 1
 *   callbacks: [modelCheckpoint({ dir: 'best-model' }), earlyStopping({ patience: 3, restoreBestWeights: true })],
 * });
 */
export async function fit(
  model: tfTypes.LayersModel,
  train: BatchSource | TfDataset,
  options: FitOptions = {},
): Promise<tfTypes.History> {
  if (!object(model) || !func((model as tfTypes.LayersModel).fitDataset)) {
    throw invalid('model', 'a compiled tf.LayersModel', model);
  }
  const { epochs = 1, validation = null, callbacks = [], verbose = 1, initialEpoch = 0, oneHot = false } = options ?? {};
  if (!integerIn(epochs, 1, Infinity)) throw invalid('epochs', 'a positive integer', epochs);
  integerBetween('initialEpoch', initialEpoch, 0, epochs - 1);
  if (!inArray(verbose, [0, 1])) throw invalid('verbose', '0 or 1', verbose);
  if (!Array.isArray(callbacks)) throw invalid('callbacks', 'an array of callbacks', callbacks);
  const stepsPerEpoch = optionalCount('stepsPerEpoch', options?.stepsPerEpoch);
  const validationSteps = optionalCount('validationSteps', options?.validationSteps);

  const made: object[] = [];
  let trainData: TfDataset;
  let loaderBatches: (() => number) | null = null;
  if (isLoader(train)) {
    trainData = toTfDataset(train, { oneHot, repeat: stepsPerEpoch !== null });
    made.push(trainData);
    if ('batchesPerEpoch' in train) loaderBatches = () => (train as unknown as { batchesPerEpoch: number }).batchesPerEpoch;
  } else if (isDataset(train)) {
    trainData = train;
  } else {
    throw invalid('train', 'an ImageLoader or a tf.data.Dataset of { xs, ys }', train);
  }

  let validationData: TfDataset | [tfTypes.Tensor, tfTypes.Tensor] | undefined;
  if (validation === null || validation === undefined) validationData = undefined;
  else if (isLoader(validation)) {
    validationData = toTfDataset(validation, { oneHot });
    made.push(validationData);
  } else if (isDataset(validation) || Array.isArray(validation)) validationData = validation;
  else throw invalid('validation', 'an ImageLoader, a tf.data.Dataset or [xs, ys] tensors', validation);
  if (validationSteps !== null && (validationData === undefined || Array.isArray(validationData))) {
    throw Errors.optionConflict('Expected validation as a loader or a dataset with validationSteps but received ' + (validationData ? 'tensors' : 'none'));
  }

  const all: tfTypes.Callback[] = [];
  if (verbose === 1) announceBackend();
  if (verbose === 1) all.push(new ProgressLogger(epochs, () => stepsPerEpoch ?? loaderBatches?.() ?? null));
  all.push(...callbacks.map(asCallback));
  try {
    return await model.fitDataset(trainData as tfTypes.data.Dataset<TensorBatch>, {
      epochs,
      initialEpoch,
      verbose: 0,
      callbacks: all,
      ...(stepsPerEpoch !== null ? { batchesPerEpoch: stepsPerEpoch } : {}),
      ...(validationData !== undefined ? { validationData: validationData as tfTypes.data.Dataset<TensorBatch> } : {}),
      ...(validationSteps !== null ? { validationBatches: validationSteps } : {}),
    });
  } finally {
    await Promise.all(made.map((d) => releaseDataset(d)));
  }
}
