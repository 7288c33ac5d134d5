/**
 * The S3 layer against a real store (Swift s3api, SigV4 checked; one start per file): listing a bucket of class folders as the
 * folder index lists a local one (pagination, spaces, Unicode, nested folders), ranged reads that survive a
 * reset mid-body, a stall past the timeout and 503 SlowDown through a fault proxy, named errors for a
 * missing or forbidden object and a wrong secret that never quote a credential, and session tokens and ETag
 * pins on the per-object GET.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromDirectory, fromList } from '../src/file-index.js';
import { createS3Context, resolveS3Options, type S3Context, type S3Options } from '../src/s3/client.js';
import { fromS3Directory } from '../src/s3/list.js';
import { getObjectBytes, readObject } from '../src/s3/object-read.js';
import { ObjectStream, type ObjectItem } from '../src/s3/object-stream.js';
import { getObjectDirect, signGetObject } from '../src/s3/signed-get.js';
import { classifyFailure } from '../src/s3/failures.js';
import type { FileIndex } from '../src/file-index.js';
import { startFaultProxy, type FaultProxy } from './fixtures/fault-proxy.js';
import { makeClassFolders, removeDir, tempDir, writeImage } from './fixtures/images.js';
import { createBucket, putObject, testClient, uploadTree } from './fixtures/s3-bucket.js';
import { startSwift, type S3TestServer } from './servers/swift/server.js';

/** Every item of an object stream over `order`, taken as the coordinator takes them (when told they may be ready). */
async function drain(ctx: S3Context, index: FileIndex, order: number[], inFlight: number, maxBytes = 1 << 30): Promise<ObjectItem[]> {
  let wake: (() => void) | null = null;
  const stream = new ObjectStream(ctx, index, Int32Array.from(order), { inFlight, maxBytes }, () => wake?.());
  const out: ObjectItem[] = [];
  stream.start();
  try {
    while (!stream.done) {
      const item = stream.take();
      if (item !== null) {
        out.push(item);
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  } finally {
    await stream.stop();
  }
  return out;
}

describe('S3 source against a real store', () => {
  let server: S3TestServer;
  let proxy: FaultProxy;
  let local: string;
  const contexts: S3Context[] = [];
  const big = randomBytes(3 * 1024 * 1024 + 17);

  async function context(opts: S3Options = {}, via: 'direct' | 'proxy' = 'direct'): Promise<S3Context> {
    const ctx = await createS3Context(
      resolveS3Options({
        endpoint: via === 'proxy' ? proxy.url : server.endpoint,
        region: server.region,
        credentials: server.credentials,
        backoffMs: 20,
        ...opts,
      }),
    );
    contexts.push(ctx);
    return ctx;
  }

  beforeAll(async () => {
    server = await startSwift();
    proxy = await startFaultProxy(server.endpoint);
    local = tempDir();
    await makeClassFolders(path.join(local, 'train'), { cat: 9, dog: 7, 'élan vital': 4 });
    // Keys with spaces and Unicode, a nested folder (listing order differs from the folder walk's), hidden
    // and non-image files that the index skips.
    await writeImage(path.join(local, 'train', 'cat', 'z top.jpg'), { width: 33, height: 21, seed: 501 });
    await writeImage(path.join(local, 'train', 'cat', 'a sub', 'ünïcødé 猫.png'), { width: 20, height: 30, seed: 502 });
    await writeImage(path.join(local, 'train', 'dog', 'deep', 'er', 'x.jpg'), { width: 25, height: 25, seed: 503 });
    mkdirSync(path.join(local, 'train', '.hidden'), { recursive: true });
    writeFileSync(path.join(local, 'train', '.hidden', 'h.jpg'), 'x');
    writeFileSync(path.join(local, 'train', 'dog', 'notes.txt'), 'not an image');
    writeFileSync(path.join(local, 'train', 'root-file.jpg'), 'ignored: directly in the root');
    const client = testClient(server);
    await createBucket(client, 'images');
    await uploadTree(client, 'images', 'sets/train', path.join(local, 'train'));
    await createBucket(client, 'blobs');
    await putObject(client, 'blobs', 'big.bin', big);
    client.destroy();
  });

  afterAll(async () => {
    for (const ctx of contexts) ctx.client.destroy();
    await proxy?.close();
    await server?.stop();
    if (local) removeDir(local);
  });

  it('is a real store: bytes back exactly (ranges too), and a request signed with the wrong secret rejected', async () => {
    const client = testClient(server);
    const got = await client.send(new GetObjectCommand({ Bucket: 'blobs', Key: 'big.bin', Range: 'bytes=100-' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(big.subarray(100))).toBe(true);
    client.destroy();
    const wrong = testClient(server, { secretAccessKey: 'not-the-secret' });
    const err = await wrong.send(new ListObjectsV2Command({ Bucket: 'blobs' })).catch((e: unknown) => e);
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403);
    wrong.destroy();
  });

  it('lists class folders page by page, in the folder index order, with the same labels', async () => {
    const expected = await fromDirectory(path.join(local, 'train'));
    const ctx = await context({ pageSize: 4 });
    const index = await fromS3Directory(ctx, 's3://images/sets/train');
    expect(index.classNames).toEqual(['cat', 'dog', 'élan vital']);
    expect(index.classNames).toEqual(expected.classNames);
    const rel = (p: string, root: string) => p.slice(root.length).replace(/^\/+/, '');
    const got = Array.from({ length: index.size }, (_, i) => rel(index.path(i), 's3://images/sets/train/'));
    const want = Array.from({ length: expected.size }, (_, i) => rel(expected.path(i), path.join(local, 'train')));
    expect(got).toEqual(want);
    expect(got).toContain('cat/a sub/ünïcødé 猫.png');
    expect(Array.from(index.labels!)).toEqual(Array.from(expected.labels!));
  });

  it('reads back every object byte for byte, in epoch order, many in flight, through 20 ms of added round trip', async () => {
    const ctx = await context({}, 'proxy');
    const index = await fromS3Directory(ctx, 's3://images/sets/train');
    const order = Array.from({ length: index.size }, (_, i) => (i * 7) % index.size);
    proxy.setLatency(20);
    try {
      // A byte cap below two objects: requests still go out one at a time and every object arrives.
      for (const [inFlight, maxBytes] of [[8, 1 << 30], [3, 1000]]) {
        const items = await drain(ctx, index, order, inFlight, maxBytes);
        expect(items.map((it) => it.sampleId)).toEqual(order);
        for (const it of items) {
          expect(it.ok).toBe(true);
          if (!it.ok) continue;
          expect(it.label).toBe(index.labels![it.sampleId]);
          const file = path.join(local, 'train', it.path.slice('s3://images/sets/train/'.length));
          expect(it.image.equals(readFileSync(file))).toBe(true);
        }
      }
    } finally {
      proxy.setLatency(0);
    }
  });

  it('resumes a read reset mid-body with Range from the byte reached', async () => {
    const ctx = await context({}, 'proxy');
    const retries: string[] = [];
    const before = proxy.fired.length;
    proxy.injectOnce({ kind: 'reset', afterBytes: 1_000_000, match: '/blobs/big.bin' });
    const got = await getObjectBytes(ctx, { bucket: 'blobs', key: 'big.bin' }, { onRetry: (r) => retries.push(r) });
    expect(proxy.fired.slice(before)).toEqual([{ kind: 'reset', requestLine: expect.stringMatching(/^GET \/blobs\/big\.bin\b/) }]);
    expect(retries).toHaveLength(1);
    let first = 0;
    while (first < got.length && got[first] === big[first]) first++;
    expect({ length: got.length, first }).toEqual({ length: big.length, first: big.length });
  });

  it('abandons a read that stalls past the timeout and resumes it', async () => {
    // Well above what the loaded store takes per request, well below the stall.
    const ctx = await context({ timeoutMs: 5000 }, 'proxy');
    const retries: string[] = [];
    const before = proxy.fired.length;
    proxy.injectOnce({ kind: 'stall', afterBytes: 500_000, match: '/blobs/big.bin', stallMs: 20_000 });
    const chunks: Uint8Array[] = [];
    for await (const c of readObject(ctx, { bucket: 'blobs', key: 'big.bin' }, { onRetry: (r) => retries.push(r) })) chunks.push(c);
    expect(proxy.fired.slice(before)).toEqual([{ kind: 'stall', requestLine: expect.stringMatching(/^GET \/blobs\/big\.bin\b/) }]);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(new Set(retries)).toEqual(new Set(['no byte for 5000 ms']));
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });

  it('abandons a request whose response headers never come (the abort reaches the HTTP request) and retries it', async () => {
    const ctx = await context({ timeoutMs: 2000 }, 'proxy');
    const retries: string[] = [];
    const before = proxy.fired.length;
    proxy.injectOnce({ kind: 'stall', afterBytes: 0, match: '/blobs/big.bin', stallMs: 60_000 });
    const started = performance.now();
    const chunks: Uint8Array[] = [];
    for await (const c of readObject(ctx, { bucket: 'blobs', key: 'big.bin' }, { onRetry: (r) => retries.push(r) })) chunks.push(c);
    expect(proxy.fired.slice(before)).toEqual([{ kind: 'stall', requestLine: expect.stringMatching(/^GET \/blobs\/big\.bin\b/) }]);
    expect(retries).toEqual(['no byte for 2000 ms']);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    // Bounded by the timeout and the retry, not by the 60 s stall.
    expect(performance.now() - started).toBeLessThan(45_000);
  });

  it('retries 503 SlowDown with backoff, for a GET and for a listing page', async () => {
    const ctx = await context({}, 'proxy');
    const retries: string[] = [];
    const before = proxy.fired.length;
    proxy.injectOnce({ kind: 'respond', status: 503, code: 'SlowDown', match: '/blobs/big.bin' });
    proxy.injectOnce({ kind: 'respond', status: 503, code: 'SlowDown', match: 'list-type=2' });
    const got = await getObjectBytes(ctx, { bucket: 'blobs', key: 'big.bin' }, { onRetry: (r) => retries.push(r) });
    expect(got.equals(big)).toBe(true);
    expect(retries).toEqual(['SlowDown (HTTP 503)']);
    const index = await fromS3Directory(ctx, 's3://images/sets/train');
    expect(index.size).toBe(23);
    expect(proxy.fired.slice(before).map((f) => f.requestLine)).toEqual([
      expect.stringMatching(/^GET \/blobs\/big\.bin\b/),
      expect.stringMatching(/^GET \/images\/?\?.*list-type=2/),
    ]);
  });

  it('names a missing object and a missing folder with their URLs', async () => {
    const ctx = await context();
    await expect(getObjectBytes(ctx, { bucket: 'blobs', key: 'nope.jpg' })).rejects.toMatchObject({
      code: 'ERR_S3_NOT_FOUND',
      path: 's3://blobs/nope.jpg',
      message: expect.stringContaining('s3://blobs/nope.jpg'),
    });
    await expect(fromS3Directory(ctx, 's3://images/no/such/prefix')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const listed = fromList(['s3://blobs/nope.jpg', 's3://blobs/big.bin'], [0, 1]);
    const items = await drain(ctx, listed, [0, 1], 2);
    expect(items.map((it) => (it.ok ? it.image.length : it.skip))).toEqual([
      { path: 's3://blobs/nope.jpg', code: 'ERR_S3_NOT_FOUND', message: expect.stringContaining('s3://blobs/nope.jpg') },
      big.length,
    ]);
  });

  it('names a forbidden object with its URL, as a per-sample error', async () => {
    const ctx = await context({ credentials: server.unprivileged });
    await expect(getObjectBytes(ctx, { bucket: 'blobs', key: 'big.bin' })).rejects.toMatchObject({
      code: 'ERR_S3_FORBIDDEN',
      path: 's3://blobs/big.bin',
      message: expect.stringMatching(/s3:\/\/blobs\/big\.bin.*AccessDenied \(HTTP 403\)/),
    });
    const items = await drain(ctx, fromList(['s3://blobs/big.bin'], [0]), [0], 1);
    expect(items).toMatchObject([{ ok: false, skip: { path: 's3://blobs/big.bin', code: 'ERR_S3_FORBIDDEN', message: expect.stringContaining('s3://blobs/big.bin') } }]);
  });

  it('signs a session token into each GET, and pins a read to its ETag (a changed object is an error)', async () => {
    // The store ignores the token but checks the signature over every signed header, the token's included.
    const ctx = await context({ credentials: { ...server.credentials, sessionToken: 'a-session-token' } });
    const signed = await signGetObject(ctx, { bucket: 'blobs', key: 'big.bin' }, 0, undefined);
    expect(signed?.request.headers['x-amz-security-token']).toBe('a-session-token');
    expect(signed?.request.headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
    expect((await getObjectBytes(ctx, { bucket: 'blobs', key: 'big.bin' })).equals(big)).toBe(true);
    const err = await getObjectDirect(ctx, { bucket: 'blobs', key: 'big.bin' }, 10, '"0123456789abcdef0123456789abcdef"', new AbortController().signal).catch((e: unknown) => e);
    const failure = classifyFailure(err, 's3://blobs/big.bin');
    expect(failure).toMatchObject({ retry: false, error: { code: 'ERR_S3_REQUEST', message: expect.stringContaining('the object changed') } });
  });

  it('fails a wrong secret at the first request with an auth error that quotes no credential', async () => {
    const secret = 'wrong-secret-Zq81xK';
    const ctx = await context({ credentials: { accessKeyId: server.credentials.accessKeyId, secretAccessKey: secret } });
    const err = (await fromS3Directory(ctx, 's3://images/sets/train').catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe('ERR_S3_AUTH');
    expect(err.message).toContain('s3://images/sets/train/');
    expect(err.message).toMatch(/SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|HTTP 40[03]/);
    const everything = `${err.message}\n${err.stack}\n${JSON.stringify(err)}\n${String(err.cause ?? '')}`;
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(server.credentials.accessKeyId);
    const get = (await getObjectBytes(ctx, { bucket: 'blobs', key: 'big.bin' }).catch((e: unknown) => e)) as Error & { code: string };
    expect(get.code).toBe('ERR_S3_AUTH');
    expect(`${get.message}${get.stack}`).not.toContain(secret);
    // An object stream stops at the first rejected request instead of skipping every object.
    const listed = fromList(['s3://blobs/big.bin', 's3://blobs/big.bin'], [0, 0]);
    await expect(drain(ctx, listed, [0, 1], 2)).rejects.toMatchObject({ code: 'ERR_S3_AUTH' });
  });
});
