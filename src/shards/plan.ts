/**
 * The order of a shard epoch, as a pure function of (seed, epoch, rank) and the shards' sample counts:
 * - the shard order is a permutation drawn from (seed, epoch) (listed order without `shuffle`);
 * - rank `r` of `count` takes the shards at positions `r, r + count, ...` of that order, whole;
 * - every rank serves the same number of samples: `'drop'` cuts each rank to the smallest share, `'repeat'`
 *   tops the smaller shares up with samples from the start of their own shards (as `DistributedSampler`'s
 *   `drop_last` false pads by repeating);
 * - samples pass through a shuffle buffer of `N` samples, WebDataset's and tf.data's: the first `N` read
 *   fill it, then each next sample read takes the place of one drawn at random, which is emitted.
 *
 * The buffer is simulated on sample numbers alone, so the order is known without reading a byte: the reader
 * follows it, and a resumed epoch knows which samples the interrupted one had delivered, which shards it can
 * skip unread and which samples sit in the buffer (see {@link BufferPlan.resumeState}).
 */
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import { epochOrder, mixSeed, type RankRemainder, type Shard } from '../sampler.js';

/** Reads of one shard: its first `limit` samples, numbered `firstRead ..` in the epoch's read order. */
export interface Piece {
  /** Index of the shard in the dataset's shard list. */
  shard: number;
  limit: number;
  firstRead: number;
}

export type { RankRemainder };

export interface RankPlan {
  pieces: Piece[];
  /** Samples this rank serves in the epoch (the same on every rank). */
  total: number;
}

/** The shards (and how much of each) rank `shard.index` reads in `epoch`, in order. */
export function rankPieces(
  counts: readonly number[],
  opts: { shuffle: boolean; seed: number; epoch: number; shard: Shard | null; remainder: RankRemainder },
): RankPlan {
  const order = epochOrder(counts.length, { shuffle: opts.shuffle, seed: mixSeed(opts.seed, 0x5348), epoch: opts.epoch });
  const ranks = opts.shard?.count ?? 1;
  const rank = opts.shard?.index ?? 0;
  const mine: number[] = [];
  const totals = new Array<number>(ranks).fill(0);
  order.forEach((s, p) => {
    totals[p % ranks] += counts[s];
    if (p % ranks === rank) mine.push(s);
  });
  const total = opts.remainder === 'drop' ? Math.min(...totals) : Math.max(...totals);
  const pieces: Piece[] = [];
  let planned = 0;
  // Own shards in order, then again from the start (repeat) until the share is reached.
  for (let i = 0; planned < total && mine.length > 0; i++) {
    const shard = mine[i % mine.length];
    if (i >= mine.length && mine.every((s) => counts[s] === 0)) break;
    const limit = Math.min(counts[shard], total - planned);
    if (limit > 0) pieces.push({ shard, limit, firstRead: planned });
    planned += limit;
  }
  return { pieces, total: planned };
}

/**
 * The shuffle buffer over read numbers `0..total-1`: `next()` gives the read number of the next sample to
 * emit. With `size` 0 the order is the read order.
 */
export class BufferPlan {
  private readonly buffer: Int32Array;
  private held = 0;
  private reads = 0;
  private emitted = 0;
  private readonly rng: RandomGenerator;

  constructor(
    readonly total: number,
    readonly size: number,
    seed: number,
  ) {
    this.buffer = new Int32Array(Math.max(0, Math.min(size, total)));
    this.rng = xoroshiro128plus(seed);
  }

  /** The next read number to emit, or -1 at the end. */
  next(): number {
    if (this.emitted >= this.total) return -1;
    this.emitted += 1;
    const capacity = this.buffer.length;
    if (capacity === 0) return this.reads++;
    while (this.held < capacity && this.reads < this.total) this.buffer[this.held++] = this.reads++;
    const j = unsafeUniformIntDistribution(0, this.held - 1, this.rng);
    const out = this.buffer[j];
    if (this.reads < this.total) this.buffer[j] = this.reads++;
    else this.buffer[j] = this.buffer[--this.held];
    return out;
  }

  /** Emitted so far. */
  get position(): number {
    return this.emitted;
  }

  /**
   * What a reader resuming here needs: every read number below `frontier` was emitted except those in
   * `buffered` (read and waiting in the buffer).
   */
  resumeState(): { frontier: number; buffered: Set<number> } {
    // `next()` fills lazily: the samples a fresh buffer would hold now are read up to `reads`.
    return { frontier: this.reads, buffered: new Set(this.buffer.subarray(0, this.held)) };
  }
}

/** The seed of rank `rank`'s shuffle buffer in `epoch`. */
export function bufferSeed(seed: number, epoch: number, rank: number): number {
  return mixSeed(seed, epoch, rank, 0x4255);
}
