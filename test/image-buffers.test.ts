import { describe, expect, it } from 'vitest';
import { ImageBuffers } from '../src/shards/staging.js';

const KIB = 1024;

describe('ImageBuffers', () => {
  it('hands out shared memory, and the same buffer again once it is given back', () => {
    const buffers = new ImageBuffers(4 << 20);
    const a = buffers.get(100 * KIB);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.length).toBe(100 * KIB);
    buffers.put(a);
    const b = buffers.get(90 * KIB);
    expect(b.buffer).toBe(a.buffer);
    expect(b.length).toBe(90 * KIB);
  });

  it('takes the smallest free buffer that holds the image, never one over half as large again', () => {
    const buffers = new ImageBuffers(4 << 20);
    const big = buffers.get(300 * KIB);
    const mid = buffers.get(120 * KIB);
    buffers.put(big);
    buffers.put(mid);
    expect(buffers.get(110 * KIB).buffer).toBe(mid.buffer);
    // 300 KiB is more than 1.5x 100 KiB: a new buffer.
    expect(buffers.get(100 * KIB).buffer).not.toBe(big.buffer);
    expect(buffers.get(250 * KIB).buffer).toBe(big.buffer);
  });

  it('hands out no free buffer larger than the largest image for a smaller one', () => {
    const buffers = new ImageBuffers(4 << 20, 100 * KIB);
    const a = buffers.get(130 * KIB);
    buffers.put(a);
    expect(buffers.get(96 * KIB).buffer).not.toBe(a.buffer);
    // Not even one step past it: the arena is sized for the largest image, and a buffer is reserved whole there.
    const step = buffers.get(120 * KIB); // 128 KiB
    buffers.put(step);
    expect(buffers.get(100 * KIB).buffer).not.toBe(step.buffer);
  });

  it('keeps at most maxBytes free, dropping the longest unused first', () => {
    const buffers = new ImageBuffers(256 * KIB);
    const first = buffers.get(128 * KIB);
    const second = buffers.get(64 * KIB);
    const third = buffers.get(128 * KIB);
    buffers.put(first);
    buffers.put(second);
    buffers.put(third); // over 256 KiB: `first` goes
    expect(buffers.get(128 * KIB).buffer).toBe(third.buffer);
    expect(buffers.get(128 * KIB).buffer).not.toBe(first.buffer);
    expect(buffers.get(64 * KIB).buffer).toBe(second.buffer);
  });

  it('leaves small images and foreign buffers alone', () => {
    const buffers = new ImageBuffers(4 << 20);
    const small = buffers.get(8 * KIB);
    expect(small.buffer).not.toBeInstanceOf(SharedArrayBuffer);
    const foreign = Buffer.from(new SharedArrayBuffer(64 * KIB));
    buffers.put(foreign);
    expect(buffers.get(64 * KIB).buffer).not.toBe(foreign.buffer);
  });
});
