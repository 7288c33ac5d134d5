/**
 * `imgstream demo`: generates the digits dataset (once), then trains a small CNN on it from disk under an
 * explicit memory budget, with validation, checkpointing and early stopping, and reports the result.
 */
import path from 'node:path';
import bytes from 'bytes';
import cliProgress from 'cli-progress';
import { imageDatasetFromDirectory } from '../index.js';
import { generateDigits } from './dataset.js';

export interface DemoOptions {
  /** Folder of the generated images. Default `.cache/demo-data` under the working directory. */
  data?: string;
  /** Folder the best model is saved to. Default `.cache/demo-model` under the working directory. */
  out?: string;
  /** Images per class. Default `200`. */
  perClass?: number;
  /** Most epochs (early stopping may end sooner). Default `5`. */
  epochs?: number;
  /** Memory for decoded pixels. Default `'1MiB'`: far below the dataset's decoded size. */
  memoryBudget?: string;
  batchSize?: number;
  /** Image side the model sees. Default `20`. */
  size?: number;
}

/** Runs the demo; resolves to the final validation accuracy. */
export async function runDemo(options: DemoOptions = {}): Promise<{ valAccuracy: number; savedTo: string }> {
  const cwd = process.cwd();
  const data = path.resolve(options.data ?? path.join(cwd, '.cache', 'demo-data'));
  const out = path.resolve(options.out ?? path.join(cwd, '.cache', 'demo-model'));
  const perClass = options.perClass ?? 200;
  const epochs = options.epochs ?? 5;
  const memoryBudget = options.memoryBudget ?? '1MiB';
  const batchSize = options.batchSize ?? 16;
  const size = options.size ?? 20;
  const started = performance.now();

  const { tf, fit, modelCheckpoint, earlyStopping, announceBackend, fileSystem } = await import('../tf/index.js');
  announceBackend(console.log);

  const total = perClass * 10;
  let bar: cliProgress.SingleBar | null = null;
  const generated = await generateDigits(data, {
    perClass,
    onProgress: (done) => {
      if (bar === null) {
        console.log(`Generating ${total} images (10 classes of seven-segment digits with noise) into ${path.relative(cwd, data) || data}`);
        bar = new cliProgress.SingleBar({ format: '  {bar} {value}/{total} files', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(total, 0);
      }
      bar.update(done);
    },
  });
  (bar as cliProgress.SingleBar | null)?.stop();
  if (!generated) console.log(`Using the cached dataset in ${path.relative(cwd, data) || data} (${total} images, 10 classes)`);

  const [train, val] = await imageDatasetFromDirectory(data, {
    imageSize: [size, size],
    colorMode: 'grayscale',
    batchSize,
    validationSplit: 0.2,
    subset: 'both',
    seed: 1337,
    normalize: 'unit',
    memoryBudget,
    // Training holds one core; one decode worker on the other keeps up with it.
    workers: 1,
  });
  try {
    const decodedBytes = total * size * size * 4;
    console.log(
      `Streaming ${train.size} training + ${val.size} validation images at ${size}x${size} grayscale, batches of ${batchSize}, ` +
        `memoryBudget ${memoryBudget}: a ring of ${train.options.capacity} images per loader ` +
        `(the decoded dataset would be ${bytes.format(decodedBytes, { unitSeparator: ' ' })})`,
    );

    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [size, size, 1], filters: 8, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      ],
    });
    model.compile({ optimizer: tf.train.adam(0.005), loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
    console.log(`Model: small CNN, ${model.countParams()} parameters; up to ${epochs} epochs, early stopping on val_loss (patience 2)`);

    const checkpoint = modelCheckpoint({ dir: out, monitor: 'val_loss' });
    const stop = earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true, verbose: true });
    await fit(model, train, { epochs, validation: val, callbacks: [checkpoint, stop] });

    const best = await tf.loadLayersModel(fileSystem(out));
    best.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
    const { toTfDataset } = await import('../tf/index.js');
    const result = (await best.evaluateDataset(toTfDataset(val), {})) as import('@tensorflow/tfjs').Scalar[];
    const valAccuracy = (await result[1].data())[0];
    tf.dispose(result);
    best.dispose();
    model.dispose();
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `Validation accuracy of the best model: ${(valAccuracy * 100).toFixed(1)}% (chance: 10.0%), ` +
        `epoch ${checkpoint.bestEpoch + 1}, val_loss ${checkpoint.best.toFixed(4)}`,
    );
    console.log(`Best model saved to ${path.join(path.relative(cwd, out) || out, 'model.json')} (+ weights.bin)`);
    console.log(`Done in ${seconds.toFixed(0)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
    return { valAccuracy, savedTo: out };
  } finally {
    await train.close();
    await val.close();
  }
}
