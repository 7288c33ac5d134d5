/**
 * The batch arrays `memoryBudget` counts besides the ring: the one being assembled, the one the consumer holds,
 * and as many more as the budget has room for past the ring (`ResolvedOptions.pooledBatches`). A yielded
 * batch's arrays come back to the pool when the consumer hands them back (`loader.recycle`), or once the
 * garbage collector has found `batch.images` unreachable. So a loop that drops each batch runs in the budget,
 * and a batch the consumer keeps is never written again: only memory nobody can reach is filled anew (keep
 * `batch.images` itself, not only a `subarray` or its `buffer`).
 *
 * NOTE [ Batch memory and the garbage collector ]
 * A dropped 19 MB batch is freed only when V8 collects it, and V8 collects when its own heap fills, not when
 * array buffers pile up outside it: left alone, a loop that allocates little besides batches holds a dozen
 * dead ones at a time. When every pooled batch is out and the next batch needs memory, the pool asks for a
 * full collection (V8 settles finalization registries only in full ones; young-generation scavenges keep
 * their targets), which finds the image arrays of the batches dropped since the last one: all of them but
 * the one just yielded, which the loader's own frames still reach. A full collection costs about 10 ms of
 * CPU however little it finds, on the main thread and its helpers (on a machine whose cores decode, that is
 * decode time lost), so the pool holds as many batches as the budget allows: with `n` pooled, one collection
 * per `n - 1` batches. If a collection gives none back, the consumer is keeping its batches: fresh memory is
 * made (kept batches are the consumer's memory, not the budget's), and the next collection waits until twice
 * as many batches are out, so that a consumer that keeps every batch pays for a logarithmic number of
 * collections. The collector comes from V8's `--expose-gc` (set at run time, for this one function); where
 * it is unavailable the pool still reuses whatever the collector returns on its own.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Batch, BatchArrays } from './batches.js';

type Collect = () => void;

let collector: Collect | null | undefined;

function collect(): Collect | null {
  if (collector === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collector = vm.runInNewContext('gc') as Collect;
      // Only this function: contexts made later do not get a global `gc`.
      v8.setFlagsFromString('--no-expose-gc');
    } catch {
      collector = null;
    }
  }
  return collector;
}

/** One macrotask: finalization callbacks run as tasks after a collection, not within it. */
const nextTask = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
};

/** A new view on the same memory: the pool keeps views of its own, never the ones the consumer got. */
function viewOn(images: Float32Array | Uint8Array): Float32Array | Uint8Array {
  return images instanceof Float32Array ? new Float32Array(images.buffer) : new Uint8Array(images.buffer);
}

interface Lent {
  /** The pool's own view on the batch's image memory. */
  images: Float32Array | Uint8Array;
  returned: boolean;
}

/**
 * Only image memory is pooled: labels are a few bytes per sample, made new for every batch, so that a batch's
 * labels are never shared with a later one whatever the consumer keeps.
 */
export class BatchPool {
  /** @param capacity - batches pooled (`ResolvedOptions.pooledBatches`, at least 2). */
  constructor(private readonly capacity: number) {}

  private readonly free: (Float32Array | Uint8Array)[] = [];
  /** Batches yielded whose memory is not back yet. */
  private outstanding = 0;
  /** `outstanding` when a full collection last gave nothing back: the consumer keeps its batches; back off. */
  private keptAt = 0;
  private readonly registry = new FinalizationRegistry<Lent>((lent) => this.giveBack(lent));
  /** What each yielded image array was lent as, so that `recycle` returns it once. */
  private readonly lent = new WeakMap<object, Lent>();

  /** Arrays to fill for the next batch (a new view on pooled image memory, new labels), or `null` for new ones. */
  take(): BatchArrays | null {
    const images = this.free.pop();
    return images === undefined ? null : { images: viewOn(images), labels: null };
  }

  /**
   * `batch` goes to the consumer. Its image memory (the whole buffer, also under a short batch's view) comes
   * back once the batch's image array is collected, or through {@link BatchPool.recycle}.
   */
  lend(batch: Batch): void {
    const lent: Lent = { images: viewOn(batch.images), returned: false };
    this.lent.set(batch.images, lent);
    this.outstanding += 1;
    this.registry.register(batch.images, lent, batch.images);
  }

  /** The consumer is done with `batch` (see `ImageLoader.recycle`): only a batch lent here counts, once. */
  recycle(batch: Batch): void {
    const lent = this.lent.get(batch.images);
    if (lent === undefined || lent.returned) return;
    this.registry.unregister(batch.images);
    this.lent.delete(batch.images);
    this.giveBack(lent);
  }

  /**
   * Before the next batch is assembled: when no memory is free and every pooled batch is out, asks the
   * collector for the memory of batches the consumer has dropped (see the note above).
   */
  async reclaim(): Promise<void> {
    if (this.free.length > 0 || this.outstanding < this.capacity) return;
    if (this.outstanding < 2 * this.keptAt) return;
    const gc = collect();
    if (gc === null) return;
    gc();
    await nextTask();
    if (this.free.length === 0) this.keptAt = this.outstanding;
  }

  /** Lets go of the free memory (the loader closes). */
  clear(): void {
    this.free.length = 0;
  }

  private giveBack(lent: Lent): void {
    if (lent.returned) return;
    lent.returned = true;
    this.outstanding -= 1;
    this.keptAt = Math.min(this.keptAt, this.outstanding);
    if (this.free.length < this.capacity) this.free.push(lent.images);
  }
}
