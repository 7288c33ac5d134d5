/**
 * A tfjs IO handler that saves a model to a folder (`model.json` + `weights.bin`, the layout of tfjs-node's
 * `file://` handler) with plain `fs`, and loads it back. It needs no native code, so checkpoints work on the
 * pure-JS engine too.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { Errors, ImgstreamError } from '../errors.js';
import { invalid, nonEmptyString } from '../validate.js';
import { tf } from './backend.js';

type ModelArtifacts = tfTypes.io.ModelArtifacts;
type SaveResult = tfTypes.io.SaveResult;
type IOHandler = tfTypes.io.IOHandler;

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

function weightBytes(weightData: NonNullable<ModelArtifacts['weightData']>): Uint8Array {
  const buffer = Array.isArray(weightData) ? tf.io.concatenateArrayBuffers(weightData) : weightData;
  return new Uint8Array(buffer);
}

/** Writes through a temporary name and renames, so a reader never sees half a file. */
async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, file);
}

async function save(dir: string, artifacts: ModelArtifacts): Promise<SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new ImgstreamError('ERR_OPTION', 'Saving a model with a binary topology to a folder is not supported');
  }
  await fsp.mkdir(dir, { recursive: true });
  const weights = artifacts.weightData === undefined ? new Uint8Array(0) : weightBytes(artifacts.weightData);
  const modelJSON: tfTypes.io.ModelJSON = {
    modelTopology: artifacts.modelTopology ?? {},
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig !== undefined) modelJSON.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature !== undefined) modelJSON.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata !== undefined) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
  // Weights first: model.json appears last, so a folder with a model.json always has matching weights.
  await writeAtomic(path.join(dir, WEIGHTS_BIN), weights);
  const json = JSON.stringify(modelJSON);
  await writeAtomic(path.join(dir, MODEL_JSON), json);
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: JSON.stringify(modelJSON.modelTopology).length,
      weightSpecsBytes: JSON.stringify(modelJSON.weightsManifest).length,
      weightDataBytes: weights.byteLength,
    },
  };
}

async function load(dir: string): Promise<ModelArtifacts> {
  const jsonPath = (await fsp.stat(dir).catch(() => null))?.isFile() ? dir : path.join(dir, MODEL_JSON);
  const text = await fsp.readFile(jsonPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw Errors.notFound(jsonPath, 'Model file');
    throw new ImgstreamError('ERR_READ', `Cannot read ${jsonPath}: ${err.message}`, { path: jsonPath, cause: err });
  });
  let modelJSON: tfTypes.io.ModelJSON;
  try {
    modelJSON = JSON.parse(text) as tfTypes.io.ModelJSON;
  } catch (err) {
    throw new ImgstreamError('ERR_DECODE', `Cannot parse ${jsonPath}: ${(err as Error).message}`, { path: jsonPath, cause: err });
  }
  const base = path.dirname(jsonPath);
  return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
    const specs: tfTypes.io.WeightsManifestEntry[] = [];
    const buffers: ArrayBuffer[] = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const file = path.join(base, p);
        const data = await fsp.readFile(file).catch((err: NodeJS.ErrnoException) => {
          throw new ImgstreamError('ERR_READ', `Cannot read weights ${file}: ${err.message}`, { path: file, cause: err });
        });
        buffers.push(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
      }
    }
    return [specs, tf.io.concatenateArrayBuffers(buffers)];
  });
}

/**
 * An IO handler for a folder: `model.save(fileSystem(dir))` writes `dir/model.json` and `dir/weights.bin`;
 * `tf.loadLayersModel(fileSystem(dir))` reads them back (a path to the `model.json` itself works too).
 * Plain `fs`, no native code. Without tfjs-node, `file://` URLs are routed here as well.
 *
 * @example
 * await model.save(fileSystem('checkpoints/best'));
 * const restored = await tf.loadLayersModel(fileSystem('checkpoints/best'));
 */
export function fileSystem(dir: string): IOHandler {
  if (!nonEmptyString(dir)) throw invalid('dir', 'a folder path', dir);
  return { save: (artifacts) => save(dir, artifacts), load: () => load(dir) };
}

const FILE_SCHEME = 'file://';
let routed = false;

/**
 * Routes `file://` URLs (`model.save('file://out')`, `tf.loadLayersModel('file://out/model.json')`) to
 * {@link fileSystem} when no other handler claims them (tfjs-node registers its own). Called on import.
 */
export function registerFileRouter(): void {
  if (routed) return;
  routed = true;
  const probe = `${FILE_SCHEME}probe`;
  const route = (url: string | string[]): IOHandler | null =>
    typeof url === 'string' && url.startsWith(FILE_SCHEME) ? fileSystem(url.slice(FILE_SCHEME.length)) : null;
  if (tf.io.getSaveHandlers(probe).length === 0) tf.io.registerSaveRouter(route as unknown as Parameters<typeof tf.io.registerSaveRouter>[0]);
  if (tf.io.getLoadHandlers(probe).length === 0) tf.io.registerLoadRouter(route as unknown as Parameters<typeof tf.io.registerSaveRouter>[0]);
}
