/**
 * `s3://` shards: the shard source's opener for S3 and S3-compatible stores. One ranged GET per open; the
 * shard source retries and resumes (`readShard`), this opener says which failures are worth it, and pins a
 * resumed read to the ETag the shard had when its first bytes were read, so that a shard replaced in the
 * meantime is an error instead of a splice of two versions. Rejected credentials are not a shard's fault:
 * they stop the run (an `ERR_S3_AUTH` error, never a skipped shard).
 *
 * The client is configured from the environment (the AWS SDK's standard chain, `AWS_ENDPOINT_URL`), made on
 * the first `s3://` open only.
 */
import { createHash } from 'node:crypto';
import { registerOpener, ShardReadError, type ShardOpener } from '../shards/openers.js';
import { createS3Context, getObjectFrom, resolveS3Options, type S3Context } from './client.js';
import { classifyFailure } from './failures.js';
import { parseS3Url } from './url.js';

let cached: { key: string; ctx: Promise<S3Context> } | null = null;

/** One client per configuration: a test (or a program) that changes the environment gets a new one. */
function contextFromEnv(): Promise<S3Context> {
  const e = process.env;
  const key = createHash('sha256')
    .update(JSON.stringify([e.AWS_ENDPOINT_URL_S3, e.AWS_ENDPOINT_URL, e.AWS_REGION, e.AWS_DEFAULT_REGION, e.AWS_PROFILE, e.AWS_ACCESS_KEY_ID, e.AWS_SECRET_ACCESS_KEY, e.AWS_SESSION_TOKEN]))
    .digest('hex');
  if (cached?.key !== key) {
    cached?.ctx.then((c) => c.client.destroy(), () => undefined);
    cached = { key, ctx: createS3Context(resolveS3Options({})) };
  }
  return cached.ctx;
}

/** ETags of the shards being read, so that a resumed read asks for the same version. */
const etags = new Map<string, string>();

export const s3Opener: ShardOpener = {
  async open(url, offset, signal) {
    const loc = parseS3Url(url, 'urls');
    const ctx = await contextFromEnv();
    const pinned = offset > 0 ? etags.get(url) : undefined;
    try {
      const out = await getObjectFrom(ctx, loc, offset, pinned, signal);
      if (out.ETag !== undefined) etags.set(url, out.ETag);
      if (etags.size > 1024) etags.delete(etags.keys().next().value as string);
      const total = /\/(\d+)$/.exec(out.ContentRange ?? '');
      const size = total !== null ? Number(total[1]) : out.ContentLength !== undefined ? offset + out.ContentLength : null;
      return { body: out.Body as AsyncIterable<Uint8Array>, size };
    } catch (err) {
      if (signal.aborted) throw err;
      const failure = classifyFailure(err, url);
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? null;
      if (failure.retry) throw new ShardReadError(failure.reason, { retryable: true, status });
      if (failure.error.code === 'ERR_S3_AUTH') throw failure.error;
      throw new ShardReadError(failure.error.message, { retryable: false, status });
    }
  },
};

registerOpener('s3:', s3Opener);
