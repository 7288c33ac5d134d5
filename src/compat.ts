/**
 * `compat`: what a reference loader does, as the individual switches imgstream exposes, and Keras' split of
 * its file list. A preset only fills in the switches a user did not set; each switch stays an option of its
 * own (see `LoaderOptions`).
 */
import { Errors } from './errors.js';
import type { ReferenceListing } from './reference-index.js';
import { numpyLegacyShuffle } from './sampler.js';

export type Compat = 'keras' | 'torchvision';
export const COMPAT_VALUES: readonly Compat[] = ['keras', 'torchvision'];

/** The switches a preset sets. */
export interface CompatSwitches {
  /** Which reference's listing rules (extensions, hidden files, link following) build the index. */
  readonly listing: Compat;
  readonly followLinks: boolean;
  /** `false`: `tf.image.resize` without antialiasing; `true`: PIL's filters, widened when shrinking. */
  readonly antialias: boolean;
  readonly applyExifOrientation: boolean;
  /** `'ignore'`: pixels as stored, the embedded profile unused (PIL, TF); `'srgb'`: converted to sRGB. */
  readonly iccProfile: 'ignore' | 'srgb';
  readonly grayscale: 'rec601';
  /** Prints Keras' "Found N files belonging to M classes." and "Using N files for training." lines. */
  readonly verbose: boolean;
  /** Re-shuffles the validation subset every epoch (Keras keeps its order). */
  readonly shuffleValidation: boolean;
}

export const COMPAT_PRESETS: Readonly<Record<Compat, CompatSwitches>> = Object.freeze({
  keras: Object.freeze({
    listing: 'keras',
    followLinks: false,
    antialias: false,
    applyExifOrientation: false,
    iccProfile: 'ignore',
    grayscale: 'rec601',
    verbose: true,
    shuffleValidation: false,
  }),
  torchvision: Object.freeze({
    listing: 'torchvision',
    followLinks: true,
    antialias: true,
    applyExifOrientation: false,
    iccProfile: 'ignore',
    grayscale: 'rec601',
    verbose: false,
    shuffleValidation: true,
  }),
});

/** Keras' line after listing: "Found N files belonging to M classes." (or "Found N files." without labels). */
export function kerasFoundMessage(files: number, classes: number | null): string {
  return classes === null ? `Found ${files} files.` : `Found ${files} files belonging to ${classes} classes.`;
}

export interface KerasSplit {
  readonly validationSplit: number | null;
  readonly subset: 'training' | 'validation' | null;
  readonly shuffle: boolean;
  /** `null`: none given; Keras then refuses a shuffled split. */
  readonly seed: number | null;
  readonly verbose?: boolean;
}

/** Which entries of a listing a Keras subset holds, in Keras' order, and the lines Keras prints. */
export interface KerasSubset {
  readonly entries: Int32Array;
  readonly paths: string[];
  readonly labels: number[] | null;
  readonly messages: string[];
}

/**
 * Keras' `index_directory` shuffle and `get_training_or_validation_split`: the whole list shuffled with
 * numpy's `RandomState(seed)` (when `shuffle`), the last `int(validationSplit * n)` files for validation,
 * the rest for training. Keras refuses a shuffled split without a seed, and a training share of zero files
 * (`validationSplit * n < 1` leaves `samples[:-0]`, an empty list); so does this.
 */
export function kerasSubset(listing: ReferenceListing, split: KerasSplit): KerasSubset {
  const n = listing.paths.length;
  const messages: string[] = [];
  messages.push(kerasFoundMessage(n, listing.labels === null ? null : listing.classNames.length));
  const { validationSplit, subset, shuffle, seed } = split;
  if (validationSplit !== null && shuffle && seed === null) {
    throw Errors.optionConflict(
      'Expected a seed with validationSplit and shuffle (compat: keras), so that the training and validation subsets do not overlap',
    );
  }
  const all = Array.from({ length: n }, (_, i) => i);
  let order = shuffle && seed !== null ? numpyLegacyShuffle(all, seed) : all;
  if (validationSplit !== null) {
    const numValidation = Math.trunc(validationSplit * n);
    if (numValidation === 0) {
      throw Errors.invalidOption(
        'validationSplit',
        `a share of at least one of the ${n} files (Keras' split leaves no training files below that)`,
        validationSplit,
      );
    }
    if (subset === 'training') {
      messages.push(`Using ${n - numValidation} files for training.`);
      order = order.slice(0, n - numValidation);
    } else {
      messages.push(`Using ${numValidation} files for validation.`);
      order = order.slice(n - numValidation);
    }
  }
  return {
    entries: Int32Array.from(order),
    paths: order.map((i) => listing.paths[i]),
    labels: listing.labels === null ? null : order.map((i) => (listing.labels as number[])[i]),
    messages,
  };
}
