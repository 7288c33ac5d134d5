/**
 * The TensorFlow.js engine imgstream/tf runs on: `@tensorflow/tfjs-node` (native libtensorflow) when it can be
 * loaded, else `@tensorflow/tfjs` (pure JavaScript CPU backend). Both are optional peer dependencies: the loader
 * works without either, and importing imgstream/tf without one fails with `ERR_NOT_INSTALLED` naming what to
 * install. Exactly one is loaded, once, synchronously (no top-level await, so that `require('imgstream/tf')`
 * works from CommonJS), and it is the same module instance the user's own `import '@tensorflow/tfjs'` gets.
 */
import { createRequire } from 'node:module';
import type * as tfTypes from '@tensorflow/tfjs';
import { Errors } from '../errors.js';

export type Tf = typeof tfTypes;

export interface BackendInfo {
  /** The package the engine came from. */
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs';
  /** The active tfjs backend name (`'tensorflow'` for tfjs-node, `'cpu'` for the pure-JS one). */
  backend: string;
  /** Why tfjs-node was not used, when it was not. */
  fallbackReason: string | null;
}

const NODE_ENGINE = '@tensorflow/tfjs-node';
const PURE_ENGINE = '@tensorflow/tfjs';
const require = createRequire(import.meta.url);

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0];
}

function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/** Starts the engine's backend now, so that its name is known and the first tensor does not pay for it. */
function started(tf: Tf): string {
  tf.backend();
  return tf.getBackend();
}

/**
 * tfjs' CPU backend prints a banner in Node on its first tensor ("Hi, looks like you are running TensorFlow.js
 * in Node.js..."); imgstream says the same once, in {@link describeBackend}'s line, so the banner is turned off
 * by marking that first use as done.
 */
function silenceCpuBanner(tf: Tf): void {
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (backend.firstUse === true) backend.firstUse = false;
}

function loadEngine(): { tf: Tf; info: BackendInfo } {
  let fallbackReason: string;
  if (process.env.IMGSTREAM_TFJS_NODE === '0') fallbackReason = 'disabled by IMGSTREAM_TFJS_NODE=0';
  else if (!installed(NODE_ENGINE)) fallbackReason = 'not installed';
  else {
    try {
      const tf = require(NODE_ENGINE) as Tf;
      return { tf, info: { package: NODE_ENGINE, backend: started(tf), fallbackReason: null } };
    } catch (err) {
      fallbackReason = `failed to load: ${firstLine(err)}`;
    }
  }
  if (!installed(PURE_ENGINE)) throw Errors.notInstalled('imgstream/tf', 'TensorFlow.js', [`${PURE_ENGINE} (pure JavaScript)`, `${NODE_ENGINE} (native, faster)`]);
  const tf = require(PURE_ENGINE) as Tf;
  const backend = started(tf);
  silenceCpuBanner(tf);
  return { tf, info: { package: PURE_ENGINE, backend, fallbackReason } };
}

const loaded = loadEngine();

/** The engine imgstream/tf uses: the same module object the user's model must come from. */
export const tf: Tf = loaded.tf;
/** Which engine {@link tf} is. */
export const backendInfo: BackendInfo = loaded.info;

/**
 * The TensorFlow.js engine, once its backend is ready: `@tensorflow/tfjs-node` when it loads, otherwise
 * `@tensorflow/tfjs`. Set `IMGSTREAM_TFJS_NODE=0` to use the pure-JS engine even when tfjs-node is installed.
 *
 * @example
 * const { tf, info } = await loadBackend();
 * console.log(describeBackend(info)); // "TensorFlow.js backend: cpu (@tensorflow/tfjs, pure JavaScript; ...)"
 */
export async function loadBackend(): Promise<{ tf: Tf; info: BackendInfo }> {
  await tf.ready();
  return loaded;
}

/** One line saying which engine runs (and, on the pure-JS one, how to get the native one), for logs. */
export function describeBackend(info: BackendInfo): string {
  if (info.package === NODE_ENGINE) return `TensorFlow.js backend: ${info.backend} (${info.package}, native)`;
  const hint = info.fallbackReason === 'not installed' ? `not installed; install it to train on native TensorFlow` : (info.fallbackReason ?? 'not used');
  return `TensorFlow.js backend: ${info.backend} (${info.package}, pure JavaScript; ${NODE_ENGINE} ${hint})`;
}

let announced = false;

/**
 * Writes {@link describeBackend}'s line once per process (`fit` calls it when `verbose`); later calls do nothing.
 *
 * @example
 * announceBackend(console.log);
 */
export function announceBackend(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): void {
  if (announced) return;
  announced = true;
  log(describeBackend(backendInfo));
}
