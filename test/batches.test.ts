import { describe, expect, it } from 'vitest';
import { Consumer, type Batch } from '../src/batches.js';
import { Coordinator } from '../src/coordinator.js';
import { ImgstreamError, fromList } from '../src/index.js';
import { resolveOptions, type LoaderOptions } from '../src/options.js';
import { FakePool, type FakePoolOptions } from './fixtures/fake-pool.js';

const N = 10;
/** Entry `i` is `e<i>.jpg` with label `i % 3`. */
const index = fromList(Array.from({ length: N }, (_, i) => `e${i}.jpg`), Array.from({ length: N }, (_, i) => i % 3));

/** A consumer over the entries in index order on a fake pool, which writes entry `e` as pixel bytes of value `e`. */
function consumerOf(loaderOptions: LoaderOptions = {}, poolOptions: FakePoolOptions = {}, takeRecycled?: () => { images: Uint8Array; labels: Int32Array } | null) {
  const options = resolveOptions({ imageSize: [2, 1], dtype: 'uint8', batchSize: 4, workers: 1, shuffle: false, ...loaderOptions }, index);
  const pool = new FakePool(options.capacity, options.sampleBytes, poolOptions);
  const all = Int32Array.from({ length: N }, (_, i) => i);
  const coordinator = new Coordinator(index, options, pool, all, all, 0);
  return new Consumer(coordinator, pool.ring, index, options, 0, takeRecycled);
}

async function drain(consumer: Consumer): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of consumer.batches()) out.push(b);
  return out;
}

/** The batch's pixels, one value per sample (each sample's 2x1x3 bytes all hold its entry number). */
function sampleValues(b: Batch): number[] {
  const per = 2 * 1 * 3;
  return Array.from({ length: b.shape[0] }, (_, i) => {
    const bytes = Array.from(b.images.subarray(i * per, (i + 1) * per));
    expect(new Set(bytes).size).toBe(1);
    return bytes[0];
  });
}

describe('Consumer', () => {
  it('fills fixed-size batches in epoch order with each sample copied from its slot and its label; a short last one', async () => {
    const consumer = consumerOf();
    const batches = await drain(consumer);
    expect(batches.map((b) => b.shape)).toEqual([[4, 2, 1, 3], [4, 2, 1, 3], [2, 2, 1, 3]]);
    expect(batches.flatMap(sampleValues)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(batches.flatMap((b) => Array.from(b.labels!))).toEqual(Array.from({ length: N }, (_, i) => i % 3));
    expect(batches.flatMap((b) => b.paths)).toEqual(Array.from({ length: N }, (_, i) => `e${i}.jpg`));
    expect(consumer.counters).toMatchObject({ decoded: N, batches: 3, position: N, skipped: [] });
    expect(consumer.counters.meanFill).toBeGreaterThan(0);
    expect(consumer.counters.meanFill).toBeLessThanOrEqual(1);
  });

  it('drops the short last batch with dropRemainder', async () => {
    const batches = await drain(consumerOf({ dropRemainder: true }));
    expect(batches.map((b) => b.shape[0])).toEqual([4, 4]);
  });

  it("gives a skipped sample's place to the next good one and records the skip with path, code and message", async () => {
    const consumer = consumerOf({}, { undecodable: [1, 6] });
    const batches = await drain(consumer);
    expect(batches.map((b) => b.shape[0])).toEqual([4, 4]);
    expect(batches.flatMap(sampleValues)).toEqual([0, 2, 3, 4, 5, 7, 8, 9]);
    expect(consumer.counters.skipped).toEqual([
      { path: 'e1.jpg', code: 'ERR_DECODE', message: 'entry 1 is corrupt' },
      { path: 'e6.jpg', code: 'ERR_DECODE', message: 'entry 6 is corrupt' },
    ]);
    expect(consumer.counters.decoded).toBe(8);
  });

  it("with onError 'throw', stops at the first bad sample with its typed error, after the batches before it", async () => {
    const seen: string[] = [];
    let error: unknown;
    try {
      for await (const b of consumerOf({ onError: 'throw' }, { undecodable: [6] }).batches()) seen.push(...b.paths);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ImgstreamError);
    expect(error).toMatchObject({ code: 'ERR_DECODE', path: 'e6.jpg' });
    expect(seen).toEqual(['e0.jpg', 'e1.jpg', 'e2.jpg', 'e3.jpg']);
  });

  it('fills arrays handed back again instead of new ones', async () => {
    const images = new Uint8Array(4 * 6).fill(255);
    const labels = new Int32Array(4).fill(-1);
    let offered = 1;
    const consumer = consumerOf({}, {}, () => (offered-- > 0 ? { images, labels } : null));
    const batches = await drain(consumer);
    expect(batches[0].images).toBe(images);
    expect(batches[0].labels).toBe(labels);
    expect(sampleValues(batches[0])).toEqual([0, 1, 2, 3]);
    expect(Array.from(labels)).toEqual([0, 1, 2, 0]);
    expect(batches[1].images).not.toBe(images);
  });
});
