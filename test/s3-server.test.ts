/**
 * The test object store itself: it starts, stores and serves bytes exactly, lists, and checks signatures
 * (a client that signs with the wrong secret is rejected), so the S3 tests run against the real thing.
 */
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, putObject, testClient } from './fixtures/s3-bucket.js';
import { startSwift, type S3TestServer } from './servers/swift/server.js';

describe('test object store (Swift s3api)', () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startSwift();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores, lists and returns objects byte for byte', async () => {
    const client = testClient(server);
    await createBucket(client, 'smoke');
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) & 255));
    await putObject(client, 'smoke', 'a dir/ünï.bin', body);
    const got = await client.send(new GetObjectCommand({ Bucket: 'smoke', Key: 'a dir/ünï.bin', Range: 'bytes=100-' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body.subarray(100))).toBe(true);
    const list = await client.send(new ListObjectsV2Command({ Bucket: 'smoke' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(['a dir/ünï.bin']);
    client.destroy();
  });

  it('rejects a request signed with the wrong secret', async () => {
    const client = testClient(server, { secretAccessKey: 'not-the-secret' });
    const err = await client.send(new ListObjectsV2Command({ Bucket: 'smoke' })).catch((e: unknown) => e);
    expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403);
    client.destroy();
  });
});
