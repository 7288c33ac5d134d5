import { describe, expect, it } from 'vitest';
import { Consumer, type Batch } from '../src/batches.js';
import { Coordinator } from '../src/coordinator.js';
import { fromList } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { epochOrder } from '../src/sampler.js';
import { FakePool, type FakePoolOptions } from './fixtures/fake-pool.js';

const N = 100;
const index = fromList(Array.from({ length: N }, (_, i) => `e${i}.jpg`));
const ORDER = epochOrder(N, { shuffle: true, seed: 5, epoch: 0 });

/** One epoch of a coordinator over a shuffled order of the N entries, on a fake pool; capacity 8 (2 batches of 4). */
function epoch(poolOptions: FakePoolOptions = {}, loaderOptions: { onError?: 'skip' | 'throw'; dropRemainder?: boolean } = {}) {
  const options = resolveOptions({ imageSize: [1, 1], dtype: 'uint8', batchSize: 4, prefetch: 2, labelMode: null, workers: 2, ...loaderOptions }, index);
  const pool = new FakePool(options.capacity, options.sampleBytes, poolOptions);
  const entries = Int32Array.from({ length: N }, (_, i) => i);
  const order = ORDER;
  const coordinator = new Coordinator(index, options, pool, entries, order, 0);
  const consumer = new Consumer(coordinator, pool.ring, index, options, 0);
  return { options, pool, order, coordinator, consumer };
}

async function drain(consumer: Consumer): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of consumer.batches()) out.push({ ...b, images: b.images.slice() });
  return out;
}

/** Epoch positions handed out by the tasks, first attempts or retries. */
function positions(pool: FakePool, isolated: boolean): number[] {
  return pool.tasks.filter((t) => t.isolated === isolated).flatMap(({ task }) => task.samples.map((_, i) => task.firstPosition + i));
}

describe('Coordinator', () => {
  it('hands every position out exactly once, in slices of the epoch order, never holding more than capacity', async () => {
    const { pool, order, coordinator, consumer, options } = epoch();
    expect(options.capacity).toBe(8);
    const batches = await drain(consumer);
    expect(positions(pool, false)).toEqual(Array.from({ length: N }, (_, p) => p));
    expect(positions(pool, true)).toEqual([]);
    for (const { task } of pool.tasks) expect(task.samples).toEqual(Array.from(order.subarray(task.firstPosition, task.firstPosition + task.samples.length)));
    expect(pool.maxHeld).toBeLessThanOrEqual(8);
    expect(coordinator.counters.highWater).toBeLessThanOrEqual(8);
    expect(coordinator.counters.highWater).toBeGreaterThan(0);
    expect(coordinator.counters.retries).toBe(0);
    expect(coordinator.counters.busyMs).toBe(pool.tasks.length);
    expect(batches.flatMap((b) => b.paths)).toEqual(Array.from(order, (e) => `e${e}.jpg`));
  });

  it('retries the positions a lost task had not finished, each alone, and loses nothing', async () => {
    const { pool, order, coordinator, consumer } = epoch({ lose: { entries: [ORDER[10]], always: false } });
    const batches = await drain(consumer);
    const lostAt = 10;
    const lostTask = pool.tasks.find(({ task, isolated }) => !isolated && task.firstPosition <= lostAt && lostAt < task.firstPosition + task.samples.length)!.task;
    const unfinished = Array.from({ length: lostTask.firstPosition + lostTask.samples.length - lostAt }, (_, i) => lostAt + i);
    expect(unfinished.length).toBeGreaterThan(0);
    expect(positions(pool, true).sort((a, b) => a - b)).toEqual(unfinished);
    for (const { task, isolated } of pool.tasks) if (isolated) expect(task.samples).toHaveLength(1);
    expect(coordinator.counters.retries).toBe(unfinished.length);
    expect(batches.flatMap((b) => b.paths)).toEqual(Array.from(order, (e) => `e${e}.jpg`));
    expect(consumer.counters.skipped).toEqual([]);
  });

  it('records a file whose retry is lost too as an ERR_WORKER skip naming it; the epoch completes', async () => {
    const { order, consumer } = epoch({ lose: { entries: [ORDER[10]], always: true } });
    const batches = await drain(consumer);
    const bad = `e${order[10]}.jpg`;
    expect(consumer.counters.skipped).toEqual([{ path: bad, code: 'ERR_WORKER', message: expect.stringContaining('failed twice') }]);
    expect(batches.flatMap((b) => b.paths)).toEqual(Array.from(order, (e) => `e${e}.jpg`).filter((p) => p !== bad));
    expect(batches.slice(0, -1).every((b) => b.shape[0] === 4)).toBe(true);
  });

  it('after requestStop, settle refuses with ERR_CLOSED; join waits for the tasks in flight and hands out no more', async () => {
    const { pool, coordinator } = epoch({ hold: true });
    coordinator.pump();
    const handedOut = pool.tasks.length;
    expect(handedOut).toBeGreaterThan(0);
    expect(coordinator.held).toBeLessThanOrEqual(8);
    coordinator.requestStop();
    await expect(coordinator.settle(0)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    let joined = false;
    const join = coordinator.join().then(() => (joined = true));
    await new Promise((r) => setImmediate(r));
    expect(joined).toBe(false);
    pool.release();
    await join;
    expect(joined).toBe(true);
    coordinator.pump();
    expect(pool.tasks.length).toBe(handedOut);
    expect(coordinator.isReady(0)).toBe(false);
  });
});
