/**
 * The imgstream rows of the comparison, in one place: a name and the loader options it adds to the
 * benchmark's image size, dtype and batch size. A new variant (another decoder, augmentation on) is one
 * line here, or `--variant 'name={"option":"value"}'` on the command line.
 */
import { TYPICAL_AUGMENT } from '../src/augment-options.js';

export interface Variant {
  name: string;
  options: Record<string, unknown>;
  /** Extra environment of the row's process, e.g. `{ "IMGSTREAM_TURBOJPEG": "system" }` (the JSON's `env` key). */
  env?: Record<string, string>;
}

export const IMGSTREAM_VARIANTS: readonly Variant[] = [
  { name: 'imgstream', options: {} },
  // The same loader without the native JPEG fast path: what sharp alone gives.
  { name: 'imgstream decoder=sharp', options: { decoder: 'sharp' } },
  // A typical training recipe: random resized crop + horizontal flip + colour jitter.
  { name: 'imgstream + augmentation', options: { augment: TYPICAL_AUGMENT } },
];

/** Parses `name={"json":"options"}` (the `--variant` argument). */
export function parseVariant(text: string): Variant {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`Expected name={json options} for --variant but received ${JSON.stringify(text)}`);
  const options = JSON.parse(text.slice(eq + 1)) as unknown;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`Expected a JSON object of loader options for --variant but received ${JSON.stringify(text.slice(eq + 1))}`);
  }
  const { env, ...rest } = options as Record<string, unknown>;
  if (env !== undefined && (env === null || typeof env !== 'object' || Object.values(env).some((v) => typeof v !== 'string'))) {
    throw new Error(`Expected --variant's env to be an object of strings but received ${JSON.stringify(env)}`);
  }
  return { name: text.slice(0, eq), options: rest, ...(env === undefined ? {} : { env: env as Record<string, string> }) };
}
