/**
 * The ring: one SharedArrayBuffer of `capacity` sample slots plus an Int32 state array driven by `Atomics`,
 * laid out as `protocol.ts` declares. Both sides of the thread boundary use this one module: the main thread
 * allocates the ring, claims slots for tasks and frees them; a decode worker attaches to the same buffers,
 * writes a slot's pixels through {@link Ring.pixelsOf} and publishes the outcome with {@link Ring.publish}.
 *
 * A slot holds one sample as `spec.slotDtype` values: the batch's own dtype, or for a float32 loader without
 * augmentation the 8-bit levels, which the consumer converts as it copies them into the batch (`levels.ts`).
 *
 * Invariant: epoch position `p` lives in slot `p % capacity`, and a slot goes EMPTY -> PENDING (claimed by the
 * coordinator) -> READY or FAILED (published by the worker, or FAILED by the coordinator for a task lost with
 * its worker) -> EMPTY (released by the consumer). The consumer waits on a PENDING slot with `Atomics.waitAsync`
 * (never a busy loop); every publish notifies it.
 */
import { FIELD_POSITION, FIELD_STATE, SLOT_FIELDS, SlotState, type Dtype, type RingBuffers } from './protocol.js';

export class Ring {
  readonly capacity: number;
  readonly sampleBytes: number;
  readonly pixels: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
  private readonly cells: Int32Array;
  private readonly bytes: Uint8Array;

  /** A new ring of `capacity` slots of `sampleBytes` bytes each (main thread). */
  constructor(capacity: number, sampleBytes: number);
  /** The ring whose buffers another thread allocated (a decode worker, from its start-up data). */
  constructor(shared: RingBuffers);
  constructor(capacityOrShared: number | RingBuffers, sampleBytes = 0) {
    if (typeof capacityOrShared === 'number') {
      this.capacity = capacityOrShared;
      this.sampleBytes = sampleBytes;
      this.pixels = new SharedArrayBuffer(capacityOrShared * sampleBytes);
      this.states = new SharedArrayBuffer(capacityOrShared * SLOT_FIELDS * 4);
    } else {
      ({ capacity: this.capacity, sampleBytes: this.sampleBytes, pixels: this.pixels, states: this.states } = capacityOrShared);
    }
    this.cells = new Int32Array(this.states);
    this.bytes = new Uint8Array(this.pixels);
  }

  /** What a worker needs to attach to this ring (shared, not copied, when posted to a thread). */
  get shared(): RingBuffers {
    return { capacity: this.capacity, sampleBytes: this.sampleBytes, pixels: this.pixels, states: this.states };
  }

  slotOf(position: number): number {
    return position % this.capacity;
  }

  state(slot: number): number {
    return Atomics.load(this.cells, slot * SLOT_FIELDS + FIELD_STATE);
  }

  /** The epoch position a worker last wrote into `slot`. */
  positionIn(slot: number): number {
    return Atomics.load(this.cells, slot * SLOT_FIELDS + FIELD_POSITION);
  }

  /** Hands a free slot to a task (coordinator). */
  claim(slot: number, position: number): void {
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_POSITION, position);
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.PENDING);
  }

  /**
   * Settles a claimed slot as READY (its pixels are written) or FAILED and wakes a consumer waiting on it:
   * a worker once it is done with the position, the coordinator for a task lost with its worker.
   */
  publish(slot: number, position: number, state: typeof SlotState.READY | typeof SlotState.FAILED): void {
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_POSITION, position);
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_STATE, state);
    Atomics.notify(this.cells, slot * SLOT_FIELDS + FIELD_STATE);
  }

  /** Frees a slot the consumer is done with. */
  release(slot: number): void {
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.EMPTY);
  }

  /** Resolves when the slot leaves the PENDING state (at once if it already has). */
  whenSettled(slot: number): Promise<unknown> {
    const waited = Atomics.waitAsync(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.PENDING);
    return waited.async ? waited.value : Promise.resolve(waited.value);
  }

  /** The slot's samples as `dtype` values: a view on the shared memory that a worker decodes into, no copy. */
  pixelsOf(slot: number, dtype: Dtype): Float32Array | Uint8Array {
    const byteOffset = slot * this.sampleBytes;
    return dtype === 'uint8'
      ? new Uint8Array(this.pixels, byteOffset, this.sampleBytes)
      : new Float32Array(this.pixels, byteOffset, this.sampleBytes / 4);
  }

  /** Copies a slot's bytes to `target` at byte offset `targetByteOffset`. */
  copyOut(slot: number, target: Uint8Array, targetByteOffset: number): void {
    const start = slot * this.sampleBytes;
    target.set(this.bytes.subarray(start, start + this.sampleBytes), targetByteOffset);
  }
}
