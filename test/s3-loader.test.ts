/**
 * Training data from a real S3-compatible store (Swift s3api, SigV4 checked), through a fault proxy:
 * shards in a bucket (brace notation) and a bucket of class folders read back with every sample exactly once
 * and the labels and pixels of the same data read from local disk; latency, a reset mid-body and a stall
 * past the timeout cost no sample; a wrong secret is a clear error at the first request.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageDatasetFromDirectory, imageDatasetFromShards, type Batch } from '../src/index.js';
import { keyFor, packShards } from '../src/shards/pack.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';
import { createBucket, testClient, uploadTree } from './fixtures/s3-bucket.js';
import { startSwift, type S3TestServer } from './servers/swift/server.js';

const IMAGE_SIZE = [20, 24] as const;
const common = { imageSize: IMAGE_SIZE, dtype: 'uint8', batchSize: 8, memoryBudget: '32MiB', workers: 2 } as const;

interface Sample {
  key: string;
  label: number;
  pixels: Buffer;
}

let server: S3TestServer;
let proxy: FaultProxy;
let root: string;
let data: string;
/** Per key (the image's path below the folder, no extension): label and pixels as the local folder gives them. */
const reference = new Map<string, { label: number; pixels: Buffer }>();
const savedEnv = { ...process.env };

async function epoch(loader: AsyncIterable<Batch>, keyOf: (path: string) => string): Promise<Sample[]> {
  const out: Sample[] = [];
  for await (const b of loader) {
    const per = b.images.length / b.shape[0];
    b.paths.forEach((p, i) => {
      out.push({ key: keyOf(p), label: (b.labels as Int32Array)[i], pixels: Buffer.from(b.images.subarray(i * per, (i + 1) * per)) });
    });
  }
  return out;
}

function expectExactlyOnceAndRight(samples: Sample[], missing: readonly string[] = []): void {
  expect(samples.length).toBe(reference.size - missing.length);
  expect(new Set(samples.map((s) => s.key)).size).toBe(reference.size - missing.length);
  for (const key of missing) expect(samples.map((s) => s.key)).not.toContain(key);
  for (const s of samples) {
    const ref = reference.get(s.key);
    expect(ref, s.key).toBeDefined();
    expect(s.label, s.key).toBe(ref?.label);
    expect(s.pixels.equals(ref?.pixels as Buffer), `pixels of ${s.key}`).toBe(true);
  }
}

const shardKey = (p: string) => p.slice(p.indexOf('#') + 1);
/** `s3://images/train/cat/img_0001.jpg` -> the key `cat/img_0001` that the shards and the reference use. */
const objectKey = (p: string) => p.slice('s3://images/train/'.length).replace(/\.[^./]+$/, '');

beforeAll(async () => {
  server = await startSwift();
  proxy = await startFaultProxy(server.endpoint);
  root = tempDir();
  data = path.join(root, 'data');
  await makeClassFolders(data, { cat: 23, dog: 17, 'élan vital': 13 });
  const out = path.join(root, 'shards');
  await packShards(data, out, { samplesPerShard: 8 });
  const local = await imageDatasetFromDirectory(data, { ...common, shuffle: false });
  for (const s of await epoch(local, (p) => keyFor(data, p))) reference.set(s.key, { label: s.label, pixels: s.pixels });
  await local.close();
  expect(reference.size).toBe(53);

  const client = testClient(server);
  await createBucket(client, 'shards');
  await uploadTree(client, 'shards', 'train', out);
  await createBucket(client, 'images');
  await uploadTree(client, 'images', 'train', data);
  client.destroy();
  // The standard AWS configuration, as a user sets it: the store is reached through the fault proxy.
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: server.region,
    AWS_ENDPOINT_URL: proxy.url,
  });
});

afterAll(async () => {
  process.env = savedEnv;
  await proxy?.close();
  await server?.stop();
  if (root) removeDir(root);
});

describe('shards in a bucket', () => {
  it('gives every sample exactly once, with the local labels and pixels (brace notation, 20 ms RTT)', async () => {
    proxy.setLatency(20);
    try {
      const loader = await imageDatasetFromShards('s3://shards/train/shard-{000000..000006}.tar', { ...common, seed: 3, shuffleBuffer: 20 });
      expect(loader.size).toBe(53);
      expect(loader.classNames).toEqual(['cat', 'dog', 'élan vital']);
      const samples = await epoch(loader, shardKey);
      await loader.close();
      expectExactlyOnceAndRight(samples);
    } finally {
      proxy.setLatency(0);
    }
  });

  it('loses no sample to a reset mid-shard or a stall past the read timeout', async () => {
    const before = proxy.fired.length;
    proxy.injectOnce({ kind: 'reset', afterBytes: 6000, match: '/shards/train/shard-000002.tar' });
    proxy.injectOnce({ kind: 'stall', afterBytes: 4000, match: '/shards/train/shard-000005.tar', stallMs: 20_000 });
    // A timeout well above what this loaded single-process store takes per request, well below the stall.
    const loader = await imageDatasetFromShards('s3://shards/train/shard-{000000..000006}.tar', { ...common, seed: 4, readTimeoutMs: 5000 });
    const samples = await epoch(loader, shardKey);
    expect(loader.stats.skipped).toEqual([]);
    await loader.close();
    expectExactlyOnceAndRight(samples);
    expect(proxy.fired.slice(before).map((f) => f.kind).sort()).toEqual(['reset', 'stall']);
  });

  it('fails a wrong secret at the first request, naming no credential', async () => {
    const secret = 'wrong-secret-Qm27';
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      const err = (await imageDatasetFromShards('s3://shards/train/shard-{000000..000006}.tar', common).catch((e: unknown) => e)) as Error & { code: string };
      expect(err.code).toBe('ERR_S3_AUTH');
      expect(err.message).toContain('s3://shards/train/shards.json');
      expect(`${err.message}${err.stack}`).not.toContain(secret);
      expect(`${err.message}${err.stack}`).not.toContain(server.credentials.accessKeyId);
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
    }
  });
});

describe('a bucket of class folders', () => {
  it('gives every sample exactly once per epoch with the local labels, pixels and split (20 ms RTT)', async () => {
    proxy.setLatency(20);
    try {
      const [train, val] = await imageDatasetFromDirectory('s3://images/train', {
        ...common, validationSplit: 0.25, subset: 'both', seed: 9, s3: { requestsInFlight: 6 },
      });
      const [localTrain, localVal] = await imageDatasetFromDirectory(data, { ...common, validationSplit: 0.25, subset: 'both', seed: 9 });
      expect(train.classNames).toEqual(['cat', 'dog', 'élan vital']);
      expect([train.size, val.size]).toEqual([localTrain.size, localVal.size]);
      const got = [...(await epoch(train, objectKey)), ...(await epoch(val, objectKey))];
      expectExactlyOnceAndRight(got);
      // Same seed, same epoch: the same order as the local folder gives.
      const localOrder = (await epoch(localTrain, (p) => keyFor(data, p))).map((s) => s.key);
      expect((await epoch(train, objectKey)).map((s) => s.key)).not.toEqual(got.slice(0, train.size).map((s) => s.key));
      expect(got.slice(0, train.size).map((s) => s.key)).toEqual(localOrder);
      for (const l of [train, val, localTrain, localVal]) await l.close();
    } finally {
      proxy.setLatency(0);
    }
  });

  it('loses no image to a reset mid-body or a stall past the timeout, and skips a missing one by name', async () => {
    const before = proxy.fired.length;
    proxy.injectOnce({ kind: 'reset', afterBytes: 700, match: '/images/train/dog/img_0003' });
    proxy.injectOnce({ kind: 'stall', afterBytes: 700, match: '/images/train/cat/img_0005', stallMs: 20_000 });
    proxy.injectOnce({ kind: 'respond', status: 503, code: 'SlowDown', match: '/images/train/cat/img_0001' });
    proxy.injectOnce({ kind: 'respond', status: 404, code: 'NoSuchKey', match: '/images/train/dog/img_0007' });
    const loader = await imageDatasetFromDirectory('s3://images/train', {
      ...common,
      seed: 2,
      // A timeout well above what this loaded single-process store takes per request, well below the stall.
      s3: { timeoutMs: 5000, backoffMs: 20, requestsInFlight: 4 },
    });
    const samples = await epoch(loader, objectKey);
    expect(loader.stats.skipped).toEqual([
      {
        path: 's3://images/train/dog/img_0007.png',
        code: 'ERR_S3_NOT_FOUND',
        message: expect.stringMatching(/s3:\/\/images\/train\/dog\/img_0007\.png.*NoSuchKey/),
      },
    ]);
    await loader.close();
    expectExactlyOnceAndRight(samples, ['dog/img_0007']);
    expect(proxy.fired.slice(before).map((f) => f.kind).sort()).toEqual(['reset', 'respond', 'respond', 'stall']);
  });

  it('rejects followLinks: true before any request (a bucket has no links)', async () => {
    const connections = proxy.connections;
    const err = (await imageDatasetFromDirectory('s3://images/train', { ...common, followLinks: true }).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('ERR_OPTION');
    expect(err.message).toMatch(/^Expected false or unset for an s3:\/\/ directory .* for followLinks but received true of type boolean$/);
    expect(proxy.connections).toBe(connections);
    const loader = await imageDatasetFromDirectory('s3://images/train', { ...common, followLinks: false });
    expect(loader.classNames).toEqual(['cat', 'dog', 'élan vital']);
    await loader.close();
  });

  it('fails a wrong secret at the listing, naming no credential', async () => {
    const secret = 'wrong-secret-Vb93';
    const err = (await imageDatasetFromDirectory('s3://images/train', {
      ...common,
      s3: { credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: secret } },
    }).catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('ERR_S3_AUTH');
    expect(err.message).toContain('s3://images/train/');
    expect(`${err.message}${err.stack}`).not.toContain(secret);
    expect(`${err.message}${err.stack}`).not.toContain(server.credentials.accessKeyId);
  });
});
