/**
 * Shards over HTTP from real servers on 127.0.0.1: nginx (Debian's nginx-light, as CI installs it) when it
 * is there, and a Node server with Range support that can drop a connection mid-shard.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImgstreamError, imageDatasetFromDirectory, imageDatasetFromShards, type Batch } from '../src/index.js';
import { keyFor, packShards } from '../src/shards/pack.js';
import { makeShardIndex, type ShardIndexFile } from '../src/shards/shard-index.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';
import { nginxBinary, startFileServer, startNginx, type WebServer } from './fixtures/shards.js';
import { runReference } from './fixtures/python.js';

let root: string;
let out: string;
const servers: WebServer[] = [];
const reference = new Map<string, { label: number; pixels: Buffer }>();
const common = { imageSize: [16, 16], dtype: 'uint8', batchSize: 6, memoryBudget: '32MiB', workers: 2 } as const;
const SHARDS = 'shard-{000000..000004}.tar';

function samplesOf(batches: Batch[]): { key: string; label: number; pixels: Buffer }[] {
  return batches.flatMap((b) => {
    const per = b.images.length / b.shape[0];
    return b.paths.map((p, i) => ({
      key: p.slice(p.indexOf('#') + 1),
      label: (b.labels as Int32Array)[i],
      pixels: Buffer.from(b.images.subarray(i * per, (i + 1) * per)),
    }));
  });
}

async function epoch(loader: AsyncIterable<Batch>): Promise<ReturnType<typeof samplesOf>> {
  const batches: Batch[] = [];
  for await (const b of loader) batches.push(b);
  return samplesOf(batches);
}

function expectEverySampleOnce(samples: ReturnType<typeof samplesOf>): void {
  expect(samples.length).toBe(reference.size);
  expect(new Set(samples.map((s) => s.key)).size).toBe(reference.size);
  for (const s of samples) {
    expect(s.label, s.key).toBe(reference.get(s.key)?.label);
    expect(s.pixels.equals(reference.get(s.key)?.pixels as Buffer), s.key).toBe(true);
  }
}

beforeAll(async () => {
  root = tempDir();
  const data = path.join(root, 'data');
  await makeClassFolders(data, { ant: 11, bee: 9, cow: 10 });
  out = path.join(root, 'www');
  await packShards(data, out, { samplesPerShard: 6 });
  // A second index that lists one shard the server does not have.
  const index = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(path.join(out, 'shards.json'), 'utf8'))) as ShardIndexFile;
  const broken = makeShardIndex(index.classNames, [...index.shardlist, { url: 'shard-000005.tar', nsamples: 4, filesize: 9000, maxSampleBytes: 5000 }]);
  writeFileSync(path.join(out, 'broken.json'), JSON.stringify(broken));
  const folder = await imageDatasetFromDirectory(data, { ...common, shuffle: false });
  for (const s of await epoch(folder)) reference.set(keyFor(data, s.key), { label: s.label, pixels: s.pixels });
  await folder.close();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  removeDir(root);
});

const nginx = nginxBinary();

describe.skipIf(nginx === null)('shards from nginx', () => {
  let server: WebServer;
  beforeAll(async () => {
    server = await startNginx(nginx as string, out, path.join(root, 'nginx'));
    servers.push(server);
  });

  it('streams every sample exactly once per epoch, with the labels and pixels of the folder', async () => {
    const loader = await imageDatasetFromShards(`${server.url}/${SHARDS}`, { ...common, seed: 2, shuffleBuffer: 10 });
    expect(loader.size).toBe(30);
    expect(loader.classNames).toEqual(['ant', 'bee', 'cow']);
    expectEverySampleOnce(await epoch(loader));
    expectEverySampleOnce(await epoch(loader));
    await loader.close();
  });

  it('reports a shard the server does not have with its URL and goes on, or stops naming it', async () => {
    const urls = `${server.url}/shard-{000000..000005}.tar`;
    const index = `${server.url}/broken.json`;
    const loader = await imageDatasetFromShards(urls, { ...common, index, shuffle: false });
    expectEverySampleOnce(await epoch(loader));
    const skipped = loader.stats.skipped;
    expect(skipped.length).toBe(4);
    for (const s of skipped) {
      expect(s.code).toBe('ERR_SHARD_READ');
      expect(s.path).toContain(`${server.url}/shard-000005.tar`);
      expect(s.message).toMatch(/HTTP 404/);
    }
    await loader.close();
    const strict = await imageDatasetFromShards(urls, { ...common, index, shuffle: false, onError: 'throw' });
    const err = await epoch(strict).catch((e: unknown) => e);
    await strict.close();
    expect(err).toBeInstanceOf(ImgstreamError);
    expect((err as ImgstreamError).code).toBe('ERR_SHARD_READ');
    expect((err as Error).message).toMatch(/shard-000005\.tar.*HTTP 404/);
  });

  it('refuses shards over HTTP without an index, saying so', async () => {
    await expect(imageDatasetFromShards(`${server.url}/nowhere/x-{0..3}.tar`, common)).rejects.toThrow(/shard index/);
  });
});

describe('shards from a server that drops the connection', () => {
  it('resumes with a Range request: the epoch completes with every sample exactly once', async () => {
    const server = await startFileServer(out, { dropOnce: ['shard-000002.tar'] });
    servers.push(server);
    const loader = await imageDatasetFromShards(`${server.url}/${SHARDS}`, { ...common, seed: 9 });
    expectEverySampleOnce(await epoch(loader));
    expect(loader.streamStats.resumes).toBe(1);
    expect(server.requests.some((r) => /^shard-000002\.tar bytes=\d+-$/.test(r))).toBe(true);
    await loader.close();
  });

  it('reads shards sent in the chunked transfer coding, and shards behind a redirect', async () => {
    const chunked = await startFileServer(out, { chunked: true });
    servers.push(chunked);
    const loader = await imageDatasetFromShards(`${chunked.url}/${SHARDS}`, { ...common, seed: 4 });
    expectEverySampleOnce(await epoch(loader));
    await loader.close();
    const moved = await startFileServer(out);
    servers.push(moved);
    const index = `${moved.url}/shards.json`;
    const behind = await imageDatasetFromShards(`${moved.url}/moved/${SHARDS}`, { ...common, index, seed: 4 });
    expectEverySampleOnce(await epoch(behind));
    expect(moved.requests.filter((r) => r.startsWith('moved/')).length).toBe(5);
    await behind.close();
  });

  it('resumes mid-epoch without requesting the shards already finished', async () => {
    const server = await startFileServer(out);
    servers.push(server);
    const options = { ...common, shuffle: false } as const;
    const first = await imageDatasetFromShards(`${server.url}/${SHARDS}`, options);
    const taken: string[] = [];
    let progress = first.progress;
    for await (const b of first) {
      taken.push(...b.paths);
      progress = first.progress;
      if (taken.length >= 18) break;
    }
    await first.close();
    expect(progress.position).toBe(18);
    expect(progress.shards.finished).toBe(3);
    server.requests.length = 0;
    const resumed = await imageDatasetFromShards(`${server.url}/${SHARDS}`, options);
    resumed.resumeFrom(progress);
    const rest = await epoch(resumed);
    await resumed.close();
    expect([...taken.map((p) => p.slice(p.indexOf('#') + 1)), ...rest.map((s) => s.key)].sort()).toEqual([...reference.keys()].sort());
    expect(server.requests.filter((r) => r.endsWith('.tar'))).toEqual(['shard-000003.tar', 'shard-000004.tar']);
  });

  it('resumes the shard in flight with a Range request from its first sample still due', async () => {
    const server = await startFileServer(out);
    servers.push(server);
    const options = { ...common, batchSize: 4, shuffle: false } as const;
    const first = await imageDatasetFromShards(`${server.url}/${SHARDS}`, options);
    const taken: string[] = [];
    let progress = first.progress;
    for await (const b of first) {
      taken.push(...b.paths);
      progress = first.progress;
      if (taken.length >= 20) break;
    }
    await first.close();
    // 6 samples a shard: the 21st is the third of shard 3, whose first header Python's tarfile places here.
    const listing = JSON.parse(await runReference('tar_reference.py', null, ['members', path.join(out, 'shard-000003.tar')])) as { name: string; offset: number }[];
    const third = listing.filter((m) => m.name.endsWith('.cls'))[2].name.replace(/\.cls$/, '');
    const byte = listing.find((m) => m.name.startsWith(`${third}.`))?.offset;
    expect(progress.shards).toEqual({ finished: 3, current: { url: `${server.url}/shard-000003.tar`, samplesRead: 2, resumeAt: { sample: 2, byte } } });
    server.requests.length = 0;
    const resumed = await imageDatasetFromShards(`${server.url}/${SHARDS}`, options);
    resumed.resumeFrom(JSON.parse(JSON.stringify(progress)));
    const rest = await epoch(resumed);
    await resumed.close();
    expect(server.requests.filter((r) => r.includes('.tar'))).toEqual([`shard-000003.tar bytes=${byte}-`, 'shard-000004.tar']);
    const keys = [...taken.map((p) => p.slice(p.indexOf('#') + 1)), ...rest.map((s) => s.key)];
    expect(keys.sort()).toEqual([...reference.keys()].sort());
    for (const s of rest) expect(s.pixels.equals(reference.get(s.key)?.pixels as Buffer), s.key).toBe(true);
  });
});
