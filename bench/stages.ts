/**
 * Where a JPEG's CPU time goes in imgstream, stage by stage, on one thread and the same files: libjpeg-turbo's
 * full-size decode alone (the bench's decode-only loop, one thread), the fast path's whole call (DCT-scaled
 * decode, resampling, conversion) into ring slots as the workers write them, the file read, the consumer's
 * slot-to-batch step into recycled batch memory and into fresh arrays (what a loop that never hands batches back
 * pays: page faults and collections), then a real loader over the same files for the total (epochs after the first,
 * which starts the workers). Everything the
 * stages leave out (tasks, hand-off, the consumer's loop, worker start) is the loader's total minus their sum.
 *
 * npx tsx bench/stages.ts <folder of JPEGs> [--dtype uint8|float32] [--passes 3] [--workers 2]
 *
 * CPU times are `process.cpuUsage()` deltas (user + system, every thread); on a loaded machine read them as
 * ratios within one run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fromDirectory, imageDatasetFromDirectory } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { BatchBuilder } from '../src/batches.js';
import { LevelsToFloat } from '../src/levels.js';
import { Ring } from '../src/ring.js';
import { SampleReader } from '../src/read-sample.js';
import { nativeAddon } from '../src/native/addon.js';
import { jpegFastPath } from '../workers/jpeg-turbo.js';
import { prepareDecodeOnly } from './scenarios/decode-loop.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { dtype: { type: 'string', default: 'uint8' }, passes: { type: 'string', default: '3' }, workers: { type: 'string', default: '2' } },
});
const dir = positionals[0];
if (dir === undefined) throw new Error('usage: npx tsx bench/stages.ts <folder of JPEGs> [--dtype uint8|float32]');
const dtype = values.dtype === 'float32' ? 'float32' : 'uint8';
const passes = Number(values.passes);
const workers = Number(values.workers);

const index = await fromDirectory(dir);
const paths = Array.from({ length: index.size }, (_, i) => index.path(i));
const options = resolveOptions({ imageSize: [224, 224], dtype, batchSize: 32 }, index);
const fast = jpegFastPath(options.spec);
if (fast === null || nativeAddon() === null) throw new Error('the native fast path is not available');

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const images = paths.length * passes;
const perImage = (ms: number) => ms / images;
const rows: [string, number][] = [];

// libjpeg-turbo alone, full size, one thread, files in memory.
const tools = prepareDecodeOnly(path.join(os.tmpdir(), 'imgstream-stages-tools'));
if (!('missing' in tools)) {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'imgstream-stages-'));
  try {
    const list = path.join(scratch, 'files.txt');
    writeFileSync(list, Array.from({ length: passes }, () => paths).flat().join('\n'));
    const out = execFileSync(tools.binary, [tools.library, '1', list], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { images: number; declined: number; cpuMs: number };
    if (r.declined > 0) throw new Error(`${r.declined} files are not JPEGs the decode-only loop reads: give a folder of JPEGs`);
    rows.push(['libjpeg-turbo full-size decode alone', r.cpuMs / r.images]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// The files, read once into memory for the stages below.
const reader = new SampleReader(4 << 20);
const files: Buffer[] = [];
let t = cpuMs();
for (let p = 0; p < passes; p++) {
  for (const file of paths) {
    const data = await reader.read(file);
    if (p === 0) files.push(Buffer.from(data));
  }
}
rows.push(['file read (one task on libuv, into a reused buffer)', perImage(cpuMs() - t)]);

// The fast path into the ring's slots (float32: 8-bit levels, converted by the consumer), in ring order (the memory a worker writes, out of cache by the time it comes round again).
const ring = new Ring(options.capacity, options.slotBytes);
t = cpuMs();
let position = 0;
for (let p = 0; p < passes; p++) {
  for (const data of files) {
    if (!fast(data, ring.pixelsOf(ring.slotOf(position++), options.spec.slotDtype))) throw new Error('the fast path declined a file');
  }
}
rows.push(['fast path: decode + resample + conversion into the slot', perImage(cpuMs() - t)]);

// The consumer's step: slot to batch, into two recycled batches, then into fresh arrays each batch.
const levels = options.spec.slotDtype === dtype ? null : new LevelsToFloat(options.spec.normalization, options.channels);
function consume(recycle: boolean): number {
  const kept: { images: Float32Array | Uint8Array; labels: null }[] = [];
  const start = cpuMs();
  for (let p = 0, at = 0; p < images; ) {
    const builder = new BatchBuilder(options, recycle && kept.length === 2 ? kept.shift()! : null, levels);
    for (let i = 0; i < options.batchSize && p < images; i++, p++) builder.add(ring, ring.slotOf(at++), 0, '');
    const batch = builder.finish();
    if (recycle) kept.push({ images: batch.images, labels: null });
  }
  return perImage(cpuMs() - start);
}
consume(true);
rows.push([`slot -> batch${levels ? ' (levels to float32)' : ''}, batches handed back (recycled)`, consume(true)]);
rows.push(['slot -> batch, fresh arrays (page faults, collections)', consume(false)]);

// The loader itself over the same files: the total per image.
// A first epoch starts the workers; the epochs after it are timed.
const loader = await imageDatasetFromDirectory(dir, { imageSize: [224, 224], dtype, batchSize: 32, workers, shuffle: false });
let decoded = 0;
let firstEpoch = 0;
t = cpuMs();
for (let p = -1; p < passes; p++) {
  if (p === 0) {
    firstEpoch = (cpuMs() - t) / decoded;
    t = cpuMs();
    decoded = 0;
  }
  for await (const batch of loader) {
    decoded += batch.shape[0];
    loader.recycle(batch);
  }
}
const total = (cpuMs() - t) / decoded;
await loader.close();

const width = Math.max(...rows.map(([name]) => name.length));
process.stdout.write(`${paths.length} files x ${passes} passes, ${dtype}, 224x224x3; CPU ms per image\n`);
for (const [name, ms] of rows) process.stdout.write(`${name.padEnd(width)}  ${ms.toFixed(3)}\n`);
const stages = rows.filter(([name]) => !name.startsWith('libjpeg') && !name.includes('fresh')).reduce((a, [, ms]) => a + ms, 0);
process.stdout.write(`${'imgstream loader, all in'.padEnd(width)}  ${total.toFixed(3)}   (${workers} workers started, batches handed back)\n`);
process.stdout.write(`${'the rest (tasks, hand-off, consumer loop, workers)'.padEnd(width)}  ${(total - stages).toFixed(3)}\n`);
process.stdout.write(`${'imgstream loader, first epoch (workers start)'.padEnd(width)}  ${firstEpoch.toFixed(3)}   (${paths.length} images)\n`);
