import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FIELD_STATE, SLOT_FIELDS, SlotState } from '../src/protocol.js';
import { Ring } from '../src/ring.js';

describe('Ring', () => {
  it('sizes one shared buffer of capacity slots', () => {
    const ring = new Ring(5, 12);
    expect(ring.pixels).toBeInstanceOf(SharedArrayBuffer);
    expect(ring.pixels.byteLength).toBe(60);
    expect(ring.states.byteLength).toBe(5 * SLOT_FIELDS * 4);
    expect(ring.slotOf(0)).toBe(0);
    expect(ring.slotOf(7)).toBe(2);
  });

  it('wakes the consumer when another thread publishes a slot, and copies its bytes out', async () => {
    const ring = new Ring(4, 3);
    ring.claim(2, 6);
    expect(ring.state(2)).toBe(SlotState.PENDING);
    let settled = false;
    const waiting = ring.whenSettled(2).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       new Uint8Array(workerData.pixels).set([7, 8, 9], 6);
       const cells = new Int32Array(workerData.states);
       Atomics.store(cells, 2 * ${SLOT_FIELDS} + ${FIELD_STATE}, ${SlotState.READY});
       Atomics.notify(cells, 2 * ${SLOT_FIELDS} + ${FIELD_STATE});`,
      { eval: true, workerData: { pixels: ring.pixels, states: ring.states } },
    );
    await waiting;
    await worker.terminate();
    expect(ring.state(2)).toBe(SlotState.READY);
    expect(ring.positionIn(2)).toBe(6);
    const out = new Uint8Array(6);
    ring.copyOut(2, out, 3);
    expect(Array.from(out)).toEqual([0, 0, 0, 7, 8, 9]);
    ring.release(2);
    expect(ring.state(2)).toBe(SlotState.EMPTY);
  });

  it('resolves at once for a slot that is not pending', async () => {
    const ring = new Ring(2, 1);
    ring.fail(1);
    await expect(ring.whenSettled(1)).resolves.toBe('not-equal');
  });
});
