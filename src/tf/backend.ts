/**
 * The TensorFlow.js engine imgstream/tf runs on: `@tensorflow/tfjs-node` (native libtensorflow) when it can be
 * loaded, else `@tensorflow/tfjs` (pure JavaScript CPU backend). Exactly one is imported, once, so that every
 * tensor imgstream makes belongs to the same engine as the user's model.
 */
import type * as tfTypes from '@tensorflow/tfjs';

export type Tf = typeof tfTypes;

export interface BackendInfo {
  /** The package the engine came from. */
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs';
  /** The active tfjs backend name (`'tensorflow'` for tfjs-node, `'cpu'` for the pure-JS one). */
  backend: string;
  /** Why tfjs-node was not used, when it was not. */
  fallbackReason: string | null;
}

let loading: Promise<{ tf: Tf; info: BackendInfo }> | null = null;

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0];
}

async function importEngine(): Promise<{ tf: Tf; info: BackendInfo }> {
  // The package names are held in variables so that bundlers and TypeScript do not require tfjs-node.
  const nodeEngine = '@tensorflow/tfjs-node';
  let fallbackReason: string | null = null;
  if (process.env.IMGSTREAM_TFJS_NODE !== '0') {
    try {
      const tf = (await import(nodeEngine)) as Tf;
      await tf.ready();
      return { tf, info: { package: nodeEngine, backend: tf.getBackend(), fallbackReason: null } };
    } catch (err) {
      fallbackReason = (err as NodeJS.ErrnoException)?.code === 'ERR_MODULE_NOT_FOUND' ? 'not installed' : firstLine(err);
    }
  } else {
    fallbackReason = 'disabled by IMGSTREAM_TFJS_NODE=0';
  }
  const pureEngine = '@tensorflow/tfjs';
  const tf = (await import(pureEngine)) as Tf;
  await tf.ready();
  return { tf, info: { package: pureEngine, backend: tf.getBackend(), fallbackReason } };
}

/**
 * Loads the TensorFlow.js engine once and returns it: `@tensorflow/tfjs-node` when it loads, otherwise
 * `@tensorflow/tfjs`. Set `IMGSTREAM_TFJS_NODE=0` to use the pure-JS engine even when tfjs-node is installed.
 *
 * @example
 * const { tf, info } = await loadBackend();
 * console.log(describeBackend(info)); // "TensorFlow.js backend: cpu (@tensorflow/tfjs, pure JavaScript)..."
 */
export function loadBackend(): Promise<{ tf: Tf; info: BackendInfo }> {
  loading ??= importEngine();
  return loading;
}

/** One line saying which engine runs, for logs. */
export function describeBackend(info: BackendInfo): string {
  if (info.package === '@tensorflow/tfjs-node') return `TensorFlow.js backend: ${info.backend} (${info.package}, native)`;
  return (
    `TensorFlow.js backend: ${info.backend} (${info.package}, pure JavaScript; ` +
    `@tensorflow/tfjs-node ${info.fallbackReason ?? 'not used'})`
  );
}

const loaded = await loadBackend();

/** The engine imgstream/tf uses: the same module object the user's model must come from. */
export const tf: Tf = loaded.tf;
/** Which engine {@link tf} is. */
export const backendInfo: BackendInfo = loaded.info;
