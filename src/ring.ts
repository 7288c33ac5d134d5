/**
 * The ring: one SharedArrayBuffer of `capacity` sample slots plus an Int32 state array driven by `Atomics`.
 * Epoch position `p` lives in slot `p % capacity`. Workers write pixels and flip a slot to READY or FAILED;
 * the consumer waits on the slot with `Atomics.waitAsync` (never a busy loop), copies it out and frees it.
 */
import { FIELD_POSITION, FIELD_STATE, SLOT_FIELDS, SlotState } from './protocol.js';

export class Ring {
  readonly capacity: number;
  readonly sampleBytes: number;
  readonly pixels: SharedArrayBuffer;
  readonly states: SharedArrayBuffer;
  private readonly cells: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(capacity: number, sampleBytes: number) {
    this.capacity = capacity;
    this.sampleBytes = sampleBytes;
    this.pixels = new SharedArrayBuffer(capacity * sampleBytes);
    this.states = new SharedArrayBuffer(capacity * SLOT_FIELDS * 4);
    this.cells = new Int32Array(this.states);
    this.bytes = new Uint8Array(this.pixels);
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

  /** Hands a free slot to a task. */
  claim(slot: number, position: number): void {
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_POSITION, position);
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.PENDING);
  }

  /** Marks a slot failed from the main thread (a task lost with its worker). */
  fail(slot: number): void {
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.FAILED);
    Atomics.notify(this.cells, slot * SLOT_FIELDS + FIELD_STATE);
  }

  release(slot: number): void {
    Atomics.store(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.EMPTY);
  }

  /** Resolves when the slot leaves the PENDING state (at once if it already has). */
  whenSettled(slot: number): Promise<unknown> {
    const waited = Atomics.waitAsync(this.cells, slot * SLOT_FIELDS + FIELD_STATE, SlotState.PENDING);
    return waited.async ? waited.value : Promise.resolve(waited.value);
  }

  /** Copies a slot's bytes to `target` at byte offset `targetByteOffset`. */
  copyOut(slot: number, target: Uint8Array, targetByteOffset: number): void {
    const start = slot * this.sampleBytes;
    target.set(this.bytes.subarray(start, start + this.sampleBytes), targetByteOffset);
  }
}
