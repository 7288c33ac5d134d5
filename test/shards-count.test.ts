/**
 * Without an index, local shards are counted by a pass over their tar headers alone: the member data are
 * seeked over, never read. Shown on shards whose images claim 256 MiB each but are holes in the file (sparse):
 * the count is Python tarfile's, and the process reads a few KiB where reading the data would take a GiB.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageDatasetFromShards } from '../src/index.js';
import { DEFAULT_RETRY } from '../src/shards/openers.js';
import { countShard } from '../src/shards/shard-index.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { runReference } from './fixtures/python.js';

let root: string;
const CLAIMED = 256 * 2 ** 20;
const keysOf = (members: { name: string }[]) => new Set(members.map((m) => m.name.slice(0, m.name.indexOf('.'))));
let expectedSamples = 0;

/** Bytes this process has read through read(2) and friends, page cache or not (Linux `rchar`). */
function bytesRead(): number {
  return Number(/rchar:\s*(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

beforeAll(async () => {
  root = tempDir();
  for (const [name, n] of [['a.tar', 3], ['b.tar', 2]] as const) {
    const members = JSON.parse(await runReference('tar_reference.py', null, ['sparse', path.join(root, name), String(n), String(CLAIMED)])) as { name: string }[];
    expectedSamples += keysOf(members).size;
  }
});

afterAll(() => removeDir(root));

describe('shards without an index', () => {
  it('are counted from their tar headers alone, and images over maxSampleBytes are skipped unread', async () => {
    const options = { imageSize: [8, 8], batchSize: 2, memoryBudget: '256MiB', maxSampleBytes: '1MiB', shuffle: false, workers: 1, maxSkipShare: 1 } as const;
    const loader = await imageDatasetFromShards(path.join(root, '{a,b}.tar'), options);
    expect(loader.size).toBe(expectedSamples);
    // The count alone (the loader's construction also reads its decoder's library): 5 samples claim 1.25 GiB,
    // the header pass reads a 16 KiB window or two per sample.
    const before = bytesRead();
    const counts = [await countShard(path.join(root, 'a.tar'), DEFAULT_RETRY, (e) => e === 'jpg'), await countShard(path.join(root, 'b.tar'), DEFAULT_RETRY, (e) => e === 'jpg')];
    const counted = bytesRead() - before;
    expect(counts.map((c) => c.nsamples)).toEqual([3, 2]);
    expect(counts.map((c) => c.maxSampleBytes)).toEqual([CLAIMED, CLAIMED]);
    expect(counted).toBeLessThan(expectedSamples * 2 * 16 * 1024 + 16 * 1024);
    const beforeEpoch = bytesRead();
    const batches = [];
    for await (const b of loader) batches.push(b);
    const epochRead = bytesRead() - beforeEpoch;
    expect(batches).toEqual([]);
    expect(loader.stats.skipped.map((s) => s.code)).toEqual(new Array(expectedSamples).fill('ERR_TOO_LARGE'));
    expect(loader.stats.skipped.map((s) => s.message)).toEqual(new Array(expectedSamples).fill(expect.stringMatching(/claims 268435456 bytes/)));
    // Nor does the epoch read a too-large image: only headers and labels.
    expect(epochRead).toBeLessThan(expectedSamples * 4 * 16 * 1024 + 64 * 1024);
    await loader.close();
  });
});
