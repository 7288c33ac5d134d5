/**
 * `memoryBudget` as a cap in the plain loop (no `recycle()`): batches dropped by the consumer give their
 * memory back to the next ones, and batches it keeps are never written again. Runs in a child process so
 * that its array-buffer figures are its own.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { built, runScript } from './fixtures/hostile.js';
import { removeDir, tempDir, writeImage } from './fixtures/images.js';

let root: string;
const FILES = 256;
const CHILD_MS = 240_000;

beforeAll(async () => {
  root = tempDir('imgstream-budget-');
  for (let c = 0; c < 2; c++) {
    mkdirSync(path.join(root, 'data', `c${c}`), { recursive: true });
    for (let i = 0; i < FILES / 2; i++) {
      await writeImage(path.join(root, 'data', `c${c}`, `${i}.jpg`), { width: 40, height: 32, seed: c * 1000 + i + 1, format: 'jpeg' });
    }
  }
}, 120_000);
afterAll(() => removeDir(root));

function script(keepEvery: number, budget = '96MiB'): string {
  return `
    import { PerformanceObserver, constants } from 'node:perf_hooks';
    import { fromDirectory, ImageLoader } from '${built('index')}';
    const MiB = 1024 * 1024;
    // Full collections the loader asks for (forced ones), to see how many batches each one serves.
    let forcedCollections = 0;
    const gcs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR && (e.detail.flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED)) forcedCollections += 1;
    });
    gcs.observe({ entryTypes: ['gc'] });
    const base = process.memoryUsage().arrayBuffers;
    const loader = new ImageLoader(await fromDirectory('data'), { imageSize: [224, 224], batchSize: 32, memoryBudget: '${budget}', workers: 2 });
    let peak = 0;
    let batches = 0;
    const kept = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      for await (const batch of loader) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
        if (${keepEvery} > 0 && batches % ${keepEvery} === 0) {
          kept.push({ batch, images: Float32Array.from(batch.images), labels: Int32Array.from(batch.labels), paths: [...batch.paths] });
        }
        batches += 1;
      }
    }
    await loader.close();
    await new Promise((r) => setTimeout(r, 50));
    gcs.disconnect();
    const intact = kept.every((k) => k.batch.images.every((v, i) => v === k.images[i]) && k.batch.labels.every((v, i) => v === k.labels[i]) && k.batch.paths.join() === k.paths.join());
    result({ peakMiB: peak / MiB, batches, pooled: loader.options.pooledBatches, forcedCollections, batchMiB: (32 * 224 * 224 * 3 * 4) / MiB, kept: kept.length, intact, ringMiB: loader.stats.ring.bytes / MiB });
  `;
}

describe('memoryBudget', () => {
  it('holds in a loop that drops its batches: ring + two batches, not every batch the collector has not reached', async () => {
    const run = await runScript(root, script(0), { backend: 'sharp', timeoutMs: CHILD_MS });
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = run.result as { peakMiB: number; batches: number; batchMiB: number; ringMiB: number; pooled: number; forcedCollections: number };
    expect(out.batches).toBe(24);
    // 96 MiB holds a ring as deep as it can be and two batches, nothing more: two pooled.
    expect(out.pooled).toBe(2);
    // 96 MiB: the ring plus two batches; one more batch of slack for the one being handed over.
    expect(out.ringMiB + 2 * out.batchMiB).toBeLessThanOrEqual(96);
    expect(out.peakMiB, JSON.stringify(out)).toBeLessThan(96 + out.batchMiB);
  }, CHILD_MS + 10_000);

  it('pools the batches the budget has room for past the ring, and asks for a collection once per that many less one', async () => {
    // 256 MiB: a ring of 4 batches (prefetch 'auto') leaves room for 8 pooled batches in all.
    const run = await runScript(root, script(0, '256MiB'), { backend: 'sharp', timeoutMs: CHILD_MS });
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = run.result as { peakMiB: number; batches: number; batchMiB: number; ringMiB: number; pooled: number; forcedCollections: number };
    expect(out.batches).toBe(24);
    expect(out.pooled).toBe(8);
    // The budget counts ring slots at a batch sample's size: 128 of them and 8 batches of 32 fit in 256 MiB.
    expect((128 + 8 * 32) * 224 * 224 * 3 * 4).toBeLessThanOrEqual(256 * 2 ** 20);
    expect(out.peakMiB, JSON.stringify(out)).toBeLessThan(out.ringMiB + 9 * out.batchMiB);
    // 24 batches, the first 8 in fresh memory; then one collection returns the 7 dropped since the last one
    // (the one just yielded is still reached). With two pooled it would be one per batch, some 20.
    expect(out.forcedCollections, JSON.stringify(out)).toBeGreaterThan(0);
    expect(out.forcedCollections, JSON.stringify(out)).toBeLessThanOrEqual(4);
  }, CHILD_MS + 10_000);

  it('never writes into a batch the consumer keeps', async () => {
    const run = await runScript(root, script(3), { backend: 'sharp', timeoutMs: CHILD_MS });
    expect(run.timedOut, run.stderr).toBe(false);
    expect(run.code, run.stderr).toBe(0);
    const out = run.result as { kept: number; intact: boolean };
    expect(out.kept).toBe(8);
    expect(out.intact).toBe(true);
  }, CHILD_MS + 10_000);
});
