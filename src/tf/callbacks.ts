/**
 * Keras-style training callbacks for `model.fitDataset` / {@link fit}: `modelCheckpoint` keeps the best model
 * on disk, `earlyStopping` stops when a monitored metric stops improving and can restore the best weights.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { Errors } from '../errors.js';
import { boolean, integerIn, invalid, nonEmptyString, number, oneOf } from '../validate.js';
import { tf } from './backend.js';
import { fileSystem } from './file-io.js';

/** Logs as tfjs hands them to callbacks: numbers, or scalar tensors not read yet. */
export type UnresolvedLogs = Record<string, number | tfTypes.Scalar>;

/** Replaces scalar tensors in `logs` by their values (in place, as tfjs' own callbacks do) and frees them. */
export async function resolveLogs(logs: UnresolvedLogs | undefined): Promise<Record<string, number>> {
  if (logs === undefined || logs === null) return {};
  for (const key of Object.keys(logs)) {
    const value = logs[key];
    if (typeof value !== 'number') {
      logs[key] = (await value.data())[0];
      value.dispose();
    }
  }
  return logs as Record<string, number>;
}

export type MonitorMode = 'auto' | 'min' | 'max';

/** Keras' rule for `mode: 'auto'`: accuracy-like metrics are maximised, everything else minimised. */
function resolveMode(option: string, mode: unknown, monitor: string): 'min' | 'max' {
  if (oneOf(option, mode, ['auto', 'min', 'max'] as const) !== 'auto') return mode as 'min' | 'max';
  return /acc|auc|precision|recall|fmeasure/i.test(monitor) ? 'max' : 'min';
}

function isImprovement(mode: 'min' | 'max', current: number, best: number, minDelta: number): boolean {
  return mode === 'min' ? current < best - minDelta : current > best + minDelta;
}

export interface ModelCheckpointOptions {
  /** Folder the model is saved to (`model.json` + `weights.bin`). Required. */
  dir: string;
  /** Metric to compare epochs by. Default `'val_loss'`. */
  monitor?: string;
  /** `'min'`, `'max'`, or `'auto'` (max for accuracy-like names, else min). Default `'auto'`. */
  mode?: MonitorMode;
  /** Save only when the monitored metric improves on the best so far. Default `true`. */
  saveBestOnly?: boolean;
  /** Print a line for each save. Default `false`. */
  verbose?: boolean;
}

/**
 * Saves the model to `dir` at the end of each epoch where `monitor` improved (or every epoch with
 * `saveBestOnly: false`), through {@link fileSystem}: `tf.loadLayersModel(fileSystem(dir))` loads it back.
 * `best`, `bestEpoch` and `savedTo` tell what was kept.
 *
 * @example
 * const checkpoint = modelCheckpoint({ dir: 'checkpoints/best' }); // monitor 'val_loss', mode 'auto', saveBestOnly true
 * await fit(model, train, { epochs: 20, validation: val, callbacks: [checkpoint] });
 * console.log(`best val_loss ${checkpoint.best} at epoch ${checkpoint.bestEpoch + 1}`);
 */
export class ModelCheckpoint extends tf.Callback {
  readonly dir: string;
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  readonly saveBestOnly: boolean;
  readonly verbose: boolean;
  /** Best value of `monitor` so far (`Infinity`/`-Infinity` before the first save). */
  best: number;
  /** Epoch (0-based) of the last save, or -1. */
  bestEpoch = -1;
  /** Where the model was last saved, or `null`. */
  savedTo: string | null = null;
  private warned = false;

  constructor(options: ModelCheckpointOptions) {
    super();
    const { dir, monitor = 'val_loss', mode = 'auto', saveBestOnly = true, verbose = false } = options ?? ({} as ModelCheckpointOptions);
    if (!nonEmptyString(dir)) throw invalid('modelCheckpoint.dir', 'a folder path', dir);
    if (!nonEmptyString(monitor)) throw invalid('modelCheckpoint.monitor', 'a metric name', monitor);
    boolean('modelCheckpoint.saveBestOnly', saveBestOnly);
    this.dir = dir;
    this.monitor = monitor;
    this.mode = resolveMode('modelCheckpoint.mode', mode, monitor);
    this.saveBestOnly = saveBestOnly;
    this.verbose = verbose === true;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  override async onEpochEnd(epoch: number, logs?: tfTypes.Logs): Promise<void> {
    const values = await resolveLogs(logs as UnresolvedLogs);
    const current = values[this.monitor];
    if (this.saveBestOnly) {
      if (typeof current !== 'number' || Number.isNaN(current)) {
        if (!this.warned) {
          this.warned = true;
          console.warn(`modelCheckpoint: metric '${this.monitor}' is not in the logs (${Object.keys(values).join(', ')}); nothing saved`);
        }
        return;
      }
      if (!isImprovement(this.mode, current, this.best, 0)) return;
      this.best = current;
    } else if (typeof current === 'number') {
      this.best = current;
    }
    await this.model.save(fileSystem(this.dir));
    this.bestEpoch = epoch;
    this.savedTo = this.dir;
    if (this.verbose) console.log(`Epoch ${epoch + 1}: ${this.monitor} ${current?.toFixed(4)}, model saved to ${this.dir}`);
  }
}

/** Creates a {@link ModelCheckpoint}. */
export function modelCheckpoint(options: ModelCheckpointOptions): ModelCheckpoint {
  return new ModelCheckpoint(options);
}

export interface EarlyStoppingOptions {
  /** Metric to watch. Default `'val_loss'`. */
  monitor?: string;
  /** Epochs without improvement before stopping. Default `0` (as Keras). */
  patience?: number;
  /** Smallest change that counts as an improvement. Default `0`. */
  minDelta?: number;
  /** `'min'`, `'max'`, or `'auto'` (max for accuracy-like names, else min). Default `'auto'`. */
  mode?: MonitorMode;
  /** When stopping, put back the weights of the best epoch. Default `false` (as Keras). */
  restoreBestWeights?: boolean;
  /** Print a line when stopping. Default `false`. */
  verbose?: boolean;
}

/**
 * Stops training when `monitor` has not improved by more than `minDelta` for `patience` epochs, as Keras'
 * `EarlyStopping`. With `restoreBestWeights`, the model gets back the weights of its best epoch when it stops
 * (a copy of them is kept in memory). `stoppedEpoch` is the epoch it stopped after (0-based), or -1.
 *
 * @example
 * const stop = earlyStopping({ patience: 3, restoreBestWeights: true }); // monitor 'val_loss', minDelta 0
 * await fit(model, train, { epochs: 100, validation: val, callbacks: [stop] });
 */
export class EarlyStopping extends tf.Callback {
  readonly monitor: string;
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: 'min' | 'max';
  readonly restoreBestWeights: boolean;
  readonly verbose: boolean;
  best = NaN;
  bestEpoch = -1;
  stoppedEpoch = -1;
  private wait = 0;
  private bestWeights: tfTypes.Tensor[] | null = null;
  private warned = false;

  constructor(options: EarlyStoppingOptions = {}) {
    super();
    const { monitor = 'val_loss', patience = 0, minDelta = 0, mode = 'auto', restoreBestWeights = false, verbose = false } = options ?? {};
    if (!nonEmptyString(monitor)) throw invalid('earlyStopping.monitor', 'a metric name', monitor);
    if (!integerIn(patience, 0, Infinity)) throw invalid('earlyStopping.patience', 'a non-negative integer', patience);
    if (!number(minDelta)) throw invalid('earlyStopping.minDelta', 'a finite number', minDelta);
    boolean('earlyStopping.restoreBestWeights', restoreBestWeights);
    this.monitor = monitor;
    this.patience = patience;
    this.minDelta = Math.abs(minDelta);
    this.mode = resolveMode('earlyStopping.mode', mode, monitor);
    this.restoreBestWeights = restoreBestWeights;
    this.verbose = verbose === true;
  }

  override async onTrainBegin(): Promise<void> {
    this.wait = 0;
    this.stoppedEpoch = -1;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.bestEpoch = -1;
    this.dropBestWeights();
  }

  override async onEpochEnd(epoch: number, logs?: tfTypes.Logs): Promise<void> {
    const values = await resolveLogs(logs as UnresolvedLogs);
    const current = values[this.monitor];
    if (typeof current !== 'number' || Number.isNaN(current)) {
      if (!this.warned) {
        this.warned = true;
        console.warn(`earlyStopping: metric '${this.monitor}' is not in the logs (${Object.keys(values).join(', ')}); not stopping on it`);
      }
      return;
    }
    this.wait += 1;
    if (isImprovement(this.mode, current, this.best, this.minDelta)) {
      this.best = current;
      this.bestEpoch = epoch;
      this.wait = 0;
      if (this.restoreBestWeights) {
        this.dropBestWeights();
        this.bestWeights = this.model.getWeights().map((w) => w.clone());
      }
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      if (this.restoreBestWeights && this.bestWeights !== null) this.model.setWeights(this.bestWeights);
      if (this.verbose) {
        const restored = this.restoreBestWeights ? `; weights of epoch ${this.bestEpoch + 1} restored` : '';
        console.log(`Early stopping after epoch ${epoch + 1}: best ${this.monitor} ${this.best.toFixed(4)} at epoch ${this.bestEpoch + 1}${restored}`);
      }
    }
  }

  override async onTrainEnd(): Promise<void> {
    this.dropBestWeights();
  }

  private dropBestWeights(): void {
    if (this.bestWeights !== null) tf.dispose(this.bestWeights);
    this.bestWeights = null;
  }
}

/** Creates an {@link EarlyStopping}. */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  return new EarlyStopping(options);
}
