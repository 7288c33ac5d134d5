/**
 * The s3 options and URLs are checked once, up front, with messages that name the option, what is allowed
 * and what was received, never a credential.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveS3Options } from '../src/s3/client.js';
import { parseS3Url } from '../src/s3/url.js';
import { runCommand } from './fixtures/process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('s3 options', () => {
  it('resolves defaults, taking the endpoint from AWS_ENDPOINT_URL with path-style addressing', () => {
    expect(resolveS3Options(undefined, {})).toMatchObject({ endpoint: null, forcePathStyle: false, retries: 6, pageSize: 1000, requestsInFlight: 32 });
    expect(resolveS3Options({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' })).toMatchObject({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    expect(resolveS3Options({}, { AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://b:2' }).endpoint).toBe('http://b:2');
    expect(resolveS3Options({ endpoint: 'https://c', forcePathStyle: false }, {})).toMatchObject({ endpoint: 'https://c', forcePathStyle: false });
  });

  it.each([
    [{ endpoint: 'ftp://x' }, 's3.endpoint', 'an http:// or https:// URL'],
    [{ retries: -1 }, 's3.retries', 'an integer between 1 and 100'],
    [{ pageSize: 5000 }, 's3.pageSize', 'an integer between 1 and 1000'],
    [{ timeoutMs: 0.5 }, 's3.timeoutMs', 'an integer'],
    [{ requestsInFlight: 0 }, 's3.requestsInFlight', 'an integer between 1 and 1024'],
    [{ region: '' }, 's3.region', 'a region name'],
  ])('rejects %j naming the option', (opts, option, allowed) => {
    expect(() => resolveS3Options(opts as never, {})).toThrow(expect.objectContaining({ code: 'ERR_OPTION', message: expect.stringContaining(`for ${option}`) }));
    expect(() => resolveS3Options(opts as never, {})).toThrow(allowed);
  });

  it('rejects malformed credentials without quoting them', () => {
    const secret = 'sekrit-value-123';
    const err = (() => {
      try {
        resolveS3Options({ credentials: { accessKeyId: 7, secretAccessKey: secret } as never }, {});
      } catch (e) {
        return e as Error & { code: string };
      }
      return null;
    })();
    expect(err?.code).toBe('ERR_OPTION');
    expect(err?.message).toContain('s3.credentials');
    expect(err?.message).not.toContain(secret);
  });

  it('parses s3:// URLs, keys as written', () => {
    expect(parseS3Url('s3://my-bucket/a dir/ünï 猫.jpg')).toEqual({ bucket: 'my-bucket', key: 'a dir/ünï 猫.jpg' });
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', key: '' });
    expect(() => parseS3Url('s3://Bad_Bucket/x', 'directory')).toThrow(/for directory but received 's3:\/\/Bad_Bucket\/x'/);
  });

  it("keeps the AWS SDK's Node.js support-policy warning quiet through its own switch, unless the user set it", async () => {
    // A fresh process each: the SDK prints that warning once per process. The built package, as users run it.
    const client = pathToFileURL(path.join(root, 'dist', 'src', 's3', 'client.js')).href;
    const script = `const m = await import(${JSON.stringify(client)}); const c = await m.createS3Context(m.resolveS3Options({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })); c.client.destroy(); console.log(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'unset');`;
    const run = (env: NodeJS.ProcessEnv) => runCommand(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeoutMs: 60_000, env });
    const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _, ...base } = process.env;
    const quiet = await run(base);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('NodeVersionSupportWarning');
    // The switch is the SDK's, set only while the client is made: the user's environment is as it was.
    expect(quiet.stdout.trim()).toBe('unset');
    const major = Number(process.versions.node.split('.')[0]);
    const shown = await run({ ...base, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' });
    expect(shown.code).toBe(0);
    expect(shown.stderr.includes('NodeVersionSupportWarning')).toBe(major < 22);
  });
});
