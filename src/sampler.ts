/**
 * The sampler: which samples a loader serves and in what order. The Keras validation split (which index
 * entries each subset gets, fixed for the loader's life), then each epoch's order as a pure function of
 * (seed, epoch): the same order for 1 or 16 workers, a new permutation every epoch, index order when
 * `shuffle` is false, one rank's share of it (equal on every rank, as `DistributedSampler`'s), from a resume
 * point on.
 */
import { mersenne, unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import { invalid } from './validate.js';

/** Mixes integers into one 32-bit seed (murmur3's finaliser on each step), so nearby inputs diverge. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    let k = Math.imul(part | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Fisher-Yates shuffle in place with a seeded generator. */
function shuffleInPlace(values: Int32Array, rng: RandomGenerator): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = unsafeUniformIntDistribution(0, i, rng);
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
}

/**
 * How the epoch's permutation is drawn: `'imgstream'` (xoroshiro128+ seeded from (seed, epoch)), or
 * `'torch'`: `torch.randperm(size, generator=torch.Generator().manual_seed(seed + epoch))`, PyTorch's
 * `DistributedSampler` order with `set_epoch(epoch)`.
 */
export type Permutation = 'imgstream' | 'torch';

/**
 * Positions `0..size-1` of the loader's sample list, in the order epoch `epoch` visits them.
 *
 * @example
 * epochOrder(5, { shuffle: true, seed: 1337, epoch: 0 }); // Int32Array [3, 0, 4, 1, 2] (for instance)
 */
export function epochOrder(
  size: number,
  opts: { shuffle: boolean; seed: number; epoch: number; permutation?: Permutation },
): Int32Array {
  if (opts.shuffle && opts.permutation === 'torch') return torchRandperm(size, opts.seed + opts.epoch);
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  if (opts.shuffle) shuffleInPlace(order, xoroshiro128plus(mixSeed(opts.seed, opts.epoch)));
  return order;
}

/**
 * `torch.randperm(n, generator=g)` on the CPU after `g.manual_seed(seed)`, bit for bit: MT19937 seeded with
 * `init_genrand(seed mod 2^32)`, then for each `i` a swap of `i` with `i + random() % (n - i)` (PyTorch's
 * `randperm_cpu`, which keeps this form below 2^32 / 20 elements).
 */
export function torchRandperm(n: number, seed: number): Int32Array {
  if (n >= 0xffffffff / 20) throw invalid('size', `fewer than ${Math.floor(0xffffffff / 20)} samples for torch's randperm`, n);
  const rng = mersenne(seed >>> 0);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = 0; i < n - 1; i++) {
    const z = i + ((rng.unsafeNext() >>> 0) % (n - i));
    const t = out[i];
    out[i] = out[z];
    out[z] = t;
  }
  return out;
}

export interface Shard {
  /** Number of shards (processes or machines) splitting each epoch. */
  count: number;
  /** This shard, in `[0, count)`. */
  index: number;
}

/**
 * With `shard`, how every rank gets the same number of samples: `'repeat'` pads the epoch's order with its own
 * first samples, `'drop'` cuts its tail (PyTorch's `DistributedSampler` with `drop_last` false and true).
 */
export type RankRemainder = 'repeat' | 'drop';

/**
 * What one epoch visits: the epoch's order, this shard's share of it, from position `start` on (to resume an
 * interrupted epoch). The share is `DistributedSampler`'s: the order is padded cyclically to a multiple of
 * `count` (`'repeat'`) or cut to one (`'drop'`), and rank `index` takes positions `index, index + count, ...`
 * of it. Every rank gets {@link shardSize} samples.
 */
export function epochPlan(
  size: number,
  opts: {
    shuffle: boolean;
    seed: number;
    epoch: number;
    shard: Shard | null;
    rankRemainder: RankRemainder;
    permutation: Permutation;
    start: number;
  },
): Int32Array {
  const order = epochOrder(size, opts);
  if (opts.shard === null || opts.shard.count === 1) return order.subarray(opts.start);
  const { count, index } = opts.shard;
  const share = new Int32Array(shardSize(size, opts.shard, opts.rankRemainder));
  for (let k = 0; k < share.length; k++) share[k] = order[(index + k * count) % size];
  return share.subarray(opts.start);
}

/**
 * Samples a shard sees per epoch, the same on every rank: `ceil(size / count)` with `'repeat'`,
 * `floor(size / count)` with `'drop'` (`DistributedSampler.num_samples`).
 */
export function shardSize(size: number, shard: Shard | null, remainder: RankRemainder): number {
  if (shard === null || size === 0) return size;
  return remainder === 'drop' ? Math.floor(size / shard.count) : Math.ceil(size / shard.count);
}

/**
 * numpy's legacy `RandomState(seed).shuffle(x)`, bit for bit: MT19937 seeded with `init_genrand`, and
 * `random_interval`'s masked rejection sampling. Keras shuffles the file list with it before splitting
 * off the validation subset, so reproducing it gives the very same split as Keras for the same seed.
 */
export function numpyLegacyShuffle<T>(items: T[], seed: number): T[] {
  const rng = mersenne(seed >>> 0);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    let mask = i;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    let j: number;
    do {
      j = (rng.unsafeNext() >>> 0) & mask;
      j >>>= 0;
    } while (j > i);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** Which side of a validation split a loader serves. */
export type Subset = 'training' | 'validation';

/**
 * The entries of `index` that `subset` gets, exactly as Keras splits: the whole file list shuffled with numpy's
 * `RandomState(seed)` (when `shuffle`), the last `floor(validationSplit * size)` files for validation.
 */
export function splitEntries(
  size: number,
  split: { validationSplit: number; subset: Subset; shuffle: boolean; seed: number },
): Int32Array {
  const all = Array.from({ length: size }, (_, i) => i);
  const ordered = split.shuffle ? numpyLegacyShuffle(all, split.seed) : all;
  const numValidation = Math.floor(split.validationSplit * size);
  if (numValidation === 0 || numValidation === size) {
    throw invalid(
      'validationSplit',
      `a share that leaves both subsets non-empty for ${size} files`,
      split.validationSplit,
    );
  }
  const part = split.subset === 'training' ? ordered.slice(0, size - numValidation) : ordered.slice(size - numValidation);
  return Int32Array.from(part);
}
