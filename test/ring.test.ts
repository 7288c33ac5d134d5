import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
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
    ring.publish(1, 3, SlotState.FAILED);
    expect(ring.positionIn(1)).toBe(3);
    await expect(ring.whenSettled(1)).resolves.toBe('not-equal');
  });

  it('is the same ring on both sides: a worker attached to its buffers writes a slot the main thread reads', async () => {
    const ring = new Ring(3, 2 * 4);
    ring.claim(1, 4);
    const waiting = ring.whenSettled(1);
    const pool = new Piscina({
      filename: fileURLToPath(new URL('./fixtures/ring-writer.ts', import.meta.url)),
      execArgv: ['--import', 'tsx'],
      workerData: ring.shared,
    });
    await pool.run({ slot: 1, position: 4, values: [1.5, -2.25] });
    await waiting;
    await pool.destroy();
    expect(ring.state(1)).toBe(SlotState.READY);
    expect(ring.positionIn(1)).toBe(4);
    expect(Array.from(ring.pixelsOf(1, 'float32'))).toEqual([1.5, -2.25]);
    const out = new Uint8Array(8);
    ring.copyOut(1, out, 0);
    expect(Array.from(new Float32Array(out.buffer))).toEqual([1.5, -2.25]);
    expect(ring.state(0)).toBe(SlotState.EMPTY);
    expect(ring.state(2)).toBe(SlotState.EMPTY);
  });
});
