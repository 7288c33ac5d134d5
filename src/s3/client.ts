/**
 * The S3 client: the official AWS SDK v3, loaded with `import()` the first time an `s3://` URL is used, so
 * that a loader over local files never loads it. Credentials and region come from the SDK's standard chain
 * (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, `AWS_PROFILE` and `~/.aws/credentials`,
 * SSO, web identity, instance roles); `AWS_ENDPOINT_URL` or the `endpoint` option point it at an
 * S3-compatible store, addressed path-style.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import https from 'node:https';
import type { S3Client } from '@aws-sdk/client-s3';
import { Errors } from '../errors.js';
import type { S3Location } from './url.js';

/** How imgstream talks to S3 or an S3-compatible store. Every field is optional. */
export interface S3Options {
  /**
   * The store's URL, for an S3-compatible store (MinIO, Ceph, Swift, R2, ...): `http://127.0.0.1:9000`.
   * @default process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? AWS S3
   */
  endpoint?: string;
  /** @default the SDK's chain (`AWS_REGION`, the profile's region), else `'us-east-1'` */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which S3-compatible stores expect. @default true with an endpoint, false on AWS */
  forcePathStyle?: boolean;
  /** Explicit credentials. @default the SDK's default credential chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Milliseconds without a byte (waiting for headers or in a body) before a request is abandoned and retried. @default 30000 */
  timeoutMs?: number;
  /** Retries of one request after a reset, a timeout, throttling or a 5xx, with exponential backoff. @default 6 */
  retries?: number;
  /** First backoff delay in milliseconds; it doubles per retry (with jitter), up to 10 s. @default 100 */
  backoffMs?: number;
  /** Keys per ListObjectsV2 page (S3 returns at most 1000). @default 1000 */
  pageSize?: number;
  /**
   * A bucket of class folders: GETs in flight at once (one per image), so that the store's latency overlaps.
   * Their bytes count toward `memoryBudget`. @default 32
   */
  requestsInFlight?: number;
}

export interface ResolvedS3Options {
  endpoint: string | null;
  region: string | null;
  forcePathStyle: boolean;
  credentials: S3Options['credentials'] | null;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  pageSize: number;
  requestsInFlight: number;
}

function positiveInteger(option: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) {
    throw Errors.invalidOption(option, `an integer between 1 and ${max}`, value);
  }
  return value as number;
}

/** Checks the `s3` options once, at construction (messages never quote a credential). */
export function resolveS3Options(opts: S3Options | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedS3Options {
  const o = opts ?? {};
  if (typeof o !== 'object') throw Errors.invalidOption('s3', 'an object of S3 options', o);
  const endpoint = o.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL ?? null;
  if (endpoint !== null && (typeof endpoint !== 'string' || !/^https?:\/\/[^/]/.test(endpoint))) {
    throw Errors.invalidOption('s3.endpoint', 'an http:// or https:// URL', endpoint);
  }
  if (o.region !== undefined && (typeof o.region !== 'string' || o.region === '')) {
    throw Errors.invalidOption('s3.region', 'a region name such as "us-east-1"', o.region);
  }
  if (o.forcePathStyle !== undefined && typeof o.forcePathStyle !== 'boolean') {
    throw Errors.invalidOption('s3.forcePathStyle', 'a boolean', o.forcePathStyle);
  }
  const c = o.credentials;
  if (c !== undefined && (c === null || typeof c !== 'object' || typeof c.accessKeyId !== 'string' || typeof c.secretAccessKey !== 'string')) {
    throw Errors.invalidOption('s3.credentials', 'an object with accessKeyId and secretAccessKey strings', 'a value of another shape');
  }
  return Object.freeze({
    endpoint,
    region: o.region ?? null,
    forcePathStyle: o.forcePathStyle ?? endpoint !== null,
    credentials: c ?? null,
    timeoutMs: positiveInteger('s3.timeoutMs', o.timeoutMs, 30_000),
    retries: o.retries === 0 ? 0 : positiveInteger('s3.retries', o.retries, 6, 100),
    backoffMs: positiveInteger('s3.backoffMs', o.backoffMs, 100, 60_000),
    pageSize: positiveInteger('s3.pageSize', o.pageSize, 1000, 1000),
    requestsInFlight: positiveInteger('s3.requestsInFlight', o.requestsInFlight, 32, 1024),
  });
}

export type S3Sdk = typeof import('@aws-sdk/client-s3');

/** A client and the SDK module it came from, with the options it was made with. */
export interface S3Context {
  sdk: S3Sdk;
  client: S3Client;
  options: ResolvedS3Options;
  /** The client's keep-alive agents, shared by the GETs sent without the SDK (`signed-get.ts`). */
  agents: { http: http.Agent; https: https.Agent };
}

let sdkPromise: Promise<S3Sdk> | null = null;

/**
 * The SDK, imported on first use only. It is an optional peer dependency (folder users do not install it);
 * without it an `s3://` URL fails with `ERR_NOT_INSTALLED` naming the package.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  sdkPromise ??= import('@aws-sdk/client-s3').catch((err: unknown) => {
    sdkPromise = null;
    if ((err as { code?: string })?.code === 'ERR_MODULE_NOT_FOUND') {
      throw Errors.notInstalled('s3:// URLs', 'the AWS SDK v3 S3 client', ['@aws-sdk/client-s3']);
    }
    throw err;
  });
  return sdkPromise;
}

/** The abort signal of the request being sent (see {@link sendAborting}). */
const requestSignal = new AsyncLocalStorage<AbortSignal>();

/**
 * Sends a request made by `send` (one `client.send(command)` call, without per-call options), aborted by
 * `signal`. The client resolves its middleware stack once per command kind (`cacheMiddleware`), which saves
 * a third of the SDK's CPU per small GET; the SDK caches only when `send` is given no options, so the abort
 * signal travels to the request handler in an async context instead.
 */
export function sendAborting<T>(signal: AbortSignal, send: () => Promise<T>): Promise<T> {
  return requestSignal.run(signal, send);
}

/**
 * GET of `loc` from byte `offset` (a `Range` request past 0), pinned to `etag` when given (`If-Match`: an object
 * replaced meanwhile fails instead of mixing two versions), aborted by `signal`. The one GET both readers send.
 */
export function getObjectFrom(ctx: S3Context, loc: S3Location, offset: number, etag: string | undefined, signal: AbortSignal) {
  return sendAborting(signal, () =>
    ctx.client.send(
      new ctx.sdk.GetObjectCommand({
        Bucket: loc.bucket,
        Key: loc.key,
        ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
        ...(etag !== undefined ? { IfMatch: etag } : {}),
      }),
    ),
  );
}

type RequestHandler = S3Client['config']['requestHandler'];

/** The SDK's HTTP handler, given the abort signal of {@link sendAborting}'s context with each request. */
function abortableHandler(inner: RequestHandler): RequestHandler {
  const h = inner as RequestHandler & {
    handle(request: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
    destroy?(): void;
    updateHttpClientConfig?(key: never, value: never): void;
    httpHandlerConfigs?(): unknown;
  };
  return {
    handle: (request: unknown, options?: { abortSignal?: AbortSignal }) =>
      h.handle(request, { ...options, abortSignal: requestSignal.getStore() ?? options?.abortSignal }),
    destroy: () => h.destroy?.(),
    updateHttpClientConfig: (key: never, value: never) => h.updateHttpClientConfig?.(key, value),
    httpHandlerConfigs: () => h.httpHandlerConfigs?.() ?? {},
  } as unknown as RequestHandler;
}

/** The AWS SDK's own, documented switch for its Node.js support-policy warning. */
const NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * Makes an SDK client without the SDK's Node.js support-policy warning (printed once per process on Node
 * 20, about SDK versions still to come), through the SDK's own switch, unless the user has set that switch:
 * `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false` shows it again. The switch is set only while the
 * client is made.
 */
function quietly<T>(make: () => T): T {
  if (process.env[NODE_WARNING_SWITCH] !== undefined) return make();
  process.env[NODE_WARNING_SWITCH] = 'true';
  try {
    return make();
  } finally {
    delete process.env[NODE_WARNING_SWITCH];
  }
}

/**
 * A client for `options`. The SDK's own retries are off (imgstream retries whole reads, resuming bodies with
 * `Range`); checksums are computed only where the API requires them, as S3-compatible stores expect.
 * Connections are kept alive, `maxSockets` of them per host, so that the requests in flight never queue
 * for a socket. Send with {@link sendAborting}.
 *
 * @param maxSockets - connections kept per host: at least the number of requests in flight.
 */
export async function createS3Context(options: ResolvedS3Options, maxSockets = 64): Promise<S3Context> {
  const sdk = await loadS3Sdk();
  const agentOptions = { keepAlive: true, maxSockets };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
  const region = options.region ?? (await regionFromChain()) ?? 'us-east-1';
  const client = quietly(() => new sdk.S3Client({
    cacheMiddleware: true,
    ...(options.endpoint !== null ? { endpoint: options.endpoint } : {}),
    region,
    forcePathStyle: options.forcePathStyle,
    ...(options.credentials !== null ? { credentials: options.credentials } : {}),
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: agents.http,
      httpsAgent: agents.https,
      connectionTimeout: options.timeoutMs,
    },
  }));
  client.config.requestHandler = abortableHandler(client.config.requestHandler);
  return { sdk, client, options, agents };
}

/** The region from `AWS_REGION`/`AWS_DEFAULT_REGION` or the profile, as the SDK finds it; null when none is set. */
async function regionFromChain(): Promise<string | null> {
  const env = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (env) return env;
  const sdk = await loadS3Sdk();
  try {
    // A client without a region resolves it from the shared config files when asked.
    const probe = quietly(() => new sdk.S3Client({}));
    const region = await probe.config.region();
    probe.destroy();
    return region || null;
  } catch {
    return null;
  }
}
