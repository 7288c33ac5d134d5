/**
 * The staging arena: one SharedArrayBuffer where the encoded bytes of samples handed to the decode workers
 * wait, so that a task carries two integers per sample (offset, length) and no bytes. Samples are placed in
 * epoch-position order and freed in the same order (the consumer releases positions in order), so the arena
 * is a ring of contiguous byte ranges: a range that does not fit before the end starts again at 0.
 */
/**
 * A sample's encoded bytes as a stream hands them to the coordinator: one buffer, the chunks they arrived in
 * (copied into the arena one after the other, never joined first), or a byte range of a local file, read by
 * the coordinator straight into the arena. `length` is the byte count in every case.
 */
export type EncodedBytes = Uint8Array | { chunks: readonly Uint8Array[]; length: number } | { file: string; offset: number; length: number };

/** Bytes of memory a stream holds for `image` (none for a range still in its file). */
export function heldBytesOf(image: EncodedBytes): number {
  return 'file' in image ? 0 : image.length;
}

/** The least of free image buffers a loader keeps for reuse (part of the memory kept for the shard stream). */
export const IMAGE_BUFFERS_BYTES = 4 << 20;

/**
 * Free image buffers a loader keeps for reuse: a thirty-second of `memoryBudget`, 4 to 16 MiB. A batch's releases
 * give back its buffers at once, before the stream reads the next images; a list too short for that drops them
 * and allocates again, and the dropped buffers wait for the collector. Over HTTP at a 256 MiB budget (2,000
 * images of 106 KB, batch 32) the peak RSS was 234 MB with 4 MiB kept, 217 with 8 and 195 with 16; 16 would
 * have left the ring's share room for one pooled batch fewer there, hence a thirty-second.
 */
export function imageBuffersBytes(memoryBudget: number): number {
  return Math.max(IMAGE_BUFFERS_BYTES, Math.min(16 << 20, Math.floor(memoryBudget / 32)));
}
/** Buffers below this many bytes come from Node's own pool; larger ones are recycled here. */
const RECYCLED_MIN = 16 * 1024;
/** Sizes are rounded up to a multiple of this, so that a freed buffer fits the next images of about its size. */
const RECYCLED_STEP = 16 * 1024;

/**
 * Buffers for the encoded images a stream receives: shared memory, so that the coordinator hands one to the
 * decode workers as it is instead of copying it into the arena (`StagedBytes`). Once its sample's position is
 * released it comes back here for a later image, so that a stream allocates (and the kernel zeroes, and the
 * collector frees) a buffer per image only until the reuse settles. An image gets the smallest free buffer that
 * holds it, if that is at most half as large again and no larger than the largest image; at most `maxBytes` of
 * free buffers are kept, the longest unused dropped first (sizes that the usual images do not fit).
 */
export class ImageBuffers {
  /** Free buffers, the longest unused first. */
  private readonly free: SharedArrayBuffer[] = [];
  private readonly own = new WeakSet<SharedArrayBuffer>();
  private freeBytes = 0;
  /** `largest` rounded up to a step. */
  private readonly widest: number;

  constructor(
    private readonly maxBytes: number,
    /** The largest image the stream may hold. */
    largest = Infinity,
  ) {
    this.widest = Math.ceil(largest / RECYCLED_STEP) * RECYCLED_STEP;
  }

  /** A buffer of `n` bytes (its contents undefined). */
  get(n: number): Buffer {
    if (n < RECYCLED_MIN) return Buffer.allocUnsafe(n);
    const size = Math.ceil(n / RECYCLED_STEP) * RECYCLED_STEP;
    // Never past the largest image rounded up (what the arena is sized for), unless this image is that large.
    const widest = Math.max(size, Math.min(this.widest, Math.max(size + RECYCLED_STEP, size * 1.5)));
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const length = this.free[i].byteLength;
      if (length >= size && length <= widest && (best === -1 || length < this.free[best].byteLength)) best = i;
    }
    if (best !== -1) {
      const [reused] = this.free.splice(best, 1);
      this.freeBytes -= reused.byteLength;
      return Buffer.from(reused, 0, n);
    }
    const backing = new SharedArrayBuffer(size);
    this.own.add(backing);
    return Buffer.from(backing, 0, n);
  }

  /** Takes back a buffer from {@link get} that nothing reads any more. */
  put(bytes: Uint8Array): void {
    const backing = bytes.buffer;
    if (!(backing instanceof SharedArrayBuffer) || !this.own.has(backing) || backing.byteLength > this.maxBytes) return;
    while (this.freeBytes + backing.byteLength > this.maxBytes) this.freeBytes -= (this.free.shift() as SharedArrayBuffer).byteLength;
    this.free.push(backing);
    this.freeBytes += backing.byteLength;
  }
}

export class StagingArena {
  readonly buffer: SharedArrayBuffer;
  /** A Buffer over the shared memory: its `set` copies a few times faster than a plain Uint8Array view's. */
  private readonly bytes: Buffer;
  /** Live ranges, oldest first: `starts[head..tail)`, `ends[...]` (a queue kept in two growing arrays). */
  private starts: number[] = [];
  private ends: number[] = [];
  private head = 0;

  constructor(readonly capacity: number) {
    this.buffer = new SharedArrayBuffer(capacity);
    this.bytes = Buffer.from(this.buffer);
  }

  private get live(): number {
    return this.starts.length - this.head;
  }

  /**
   * Copies `data` in (a buffer or its chunks) and returns its offset; -1 when it does not fit until older ranges
   * are freed. Data longer than the arena never fits (the caller checks `data.length <= capacity` first).
   */
  place(data: Uint8Array | { chunks: readonly Uint8Array[]; length: number }): number {
    const at = this.reserve(data.length);
    if (at === -1) return -1;
    if (data instanceof Uint8Array) this.bytes.set(data, at);
    else {
      let to = at;
      for (const chunk of data.chunks) {
        this.bytes.set(chunk, to);
        to += chunk.length;
      }
    }
    return at;
  }

  /** The arena's bytes `[offset, offset + length)`, to be filled (a range just reserved). */
  view(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, offset + length);
  }

  /** Reserves `n` bytes as the newest live range and returns its offset, or -1 (as {@link place}). */
  reserve(n: number): number {
    let at: number;
    if (this.live === 0) {
      this.starts.length = 0;
      this.ends.length = 0;
      this.head = 0;
      at = 0;
    } else {
      const oldest = this.starts[this.head];
      const end = this.ends[this.ends.length - 1];
      if (end >= oldest) {
        // Not wrapped: room after the newest range, else at the start, before the oldest.
        if (end + n <= this.capacity) at = end;
        else if (n <= oldest) at = 0;
        else return -1;
      } else if (end + n <= oldest) at = end;
      else return -1;
    }
    if (n > this.capacity) return -1;
    this.starts.push(at);
    this.ends.push(at + n);
    return at;
  }

  /** Frees the oldest live range. */
  freeOldest(): void {
    if (this.live === 0) return;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }

  /** Frees everything (between epochs). */
  reset(): void {
    this.starts = [];
    this.ends = [];
    this.head = 0;
  }
}
