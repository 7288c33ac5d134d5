/**
 * The per-object GET signed outside the SDK's middleware stack is the request the SDK itself would send: the
 * same URL (its endpoint rules: path-style for an endpoint, virtual-hosted on AWS, path-style for a bucket
 * with dots), the same signed headers with the same values (session token, Range, If-Match, payload hash,
 * date). The signature itself is checked by a real store in `s3-source.test.ts`.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createS3Context, resolveS3Options, type S3Context, type S3Options } from '../src/s3/client.js';
import { encodeKeyPath, signGetObject, type SignableRequest } from '../src/s3/signed-get.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token/example+1==' };

/** The request the SDK signs for the same GET, caught right after its signing step and never sent. */
async function sdkSigned(client: S3Client, input: { Bucket: string; Key: string; Range?: string; IfMatch?: string }): Promise<SignableRequest> {
  let caught: SignableRequest | null = null;
  client.middlewareStack.addRelativeTo(
    () => async (args: { request: unknown }) => {
      caught = args.request as SignableRequest;
      throw new Error('caught');
    },
    { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'catchSignedRequest' },
  );
  await client.send(new GetObjectCommand(input)).catch(() => undefined);
  if (caught === null) throw new Error('the SDK signed no request');
  return caught;
}

function signedHeaderNames(request: SignableRequest): string[] {
  return /SignedHeaders=([^,]+)/.exec(request.headers.authorization ?? '')?.[1].split(';') ?? [];
}

/** Headers the SDK adds for its own bookkeeping (attempt counters, user agent), which the store ignores. */
const SDK_ONLY = /^(amz-sdk-|x-amz-user-agent$)/;

describe('a GET signed outside the SDK middleware', () => {
  const contexts: S3Context[] = [];
  afterEach(() => {
    vi.useRealTimers();
    for (const ctx of contexts.splice(0)) ctx.client.destroy();
  });

  it('encodes keys as the SDK does: each segment, with !\'()* too, slashes kept', () => {
    expect(encodeKeyPath("a b/ünï 猫/x!'()*+=&?#.jpg")).toBe('a%20b/%C3%BCn%C3%AF%20%E7%8C%AB/x%21%27%28%29%2A%2B%3D%26%3F%23.jpg');
  });

  it.each([
    ['an endpoint, path-style', { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1' }, 'bench'],
    ['AWS, virtual-hosted', { region: 'eu-west-1' }, 'my-bucket'],
    ['AWS, a bucket with dots (path-style)', { region: 'eu-west-1' }, 'my.dotted.bucket'],
  ])('sends what the SDK sends: %s', async (_name, opts: S3Options, bucket) => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-04T05:06:07Z') });
    const make = async () => {
      const ctx = await createS3Context(resolveS3Options({ ...opts, credentials }, {}));
      contexts.push(ctx);
      return ctx;
    };
    const key = "train/cat/ünï 猫 (1)!.jpg";
    for (const [offset, etag] of [[0, undefined], [1234, '"0123456789abcdef"']] as const) {
      const ours = (await signGetObject(await make(), { bucket, key }, offset, etag))!.request;
      const sdk = await sdkSigned((await make()).client, { Bucket: bucket, Key: key, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}), ...(etag ? { IfMatch: etag } : {}) });
      expect({ hostname: ours.hostname, port: ours.port, path: ours.path, protocol: ours.protocol }).toEqual({
        hostname: sdk.hostname,
        port: sdk.port,
        path: sdk.path,
        protocol: sdk.protocol,
      });
      const names = signedHeaderNames(ours);
      expect(names).toEqual(signedHeaderNames(sdk).filter((h) => !SDK_ONLY.test(h)));
      expect(names).toEqual(expect.arrayContaining(['host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token', ...(offset > 0 ? ['range', 'if-match'] : [])]));
      const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
      const sdkHeaders = lower(sdk.headers);
      for (const name of names) expect([name, lower(ours.headers)[name]]).toEqual([name, sdkHeaders[name]]);
      expect(lower(ours.headers)['x-amz-security-token']).toBe(credentials.sessionToken);
    }
  });
});
