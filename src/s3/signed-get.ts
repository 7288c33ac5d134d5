/**
 * The GET of one object on its own path: the request the SDK would send (its endpoint rules for the bucket,
 * its S3 signer with the client's credential chain, its clock-skew correction), signed and sent on the
 * client's keep-alive agents without going through the SDK's middleware stack, which costs about as much
 * CPU per small GET as the signing and the HTTP exchange together. A bucket of class folders sends one per
 * image; listings and shards, one request per page or shard, keep the SDK's commands.
 * Buckets whose requests the SDK signs another way (S3 Express directory buckets, multi-region access
 * points) go through the SDK's `GetObjectCommand` instead.
 */
import http from 'node:http';
import https from 'node:https';
import { getObjectFrom, type S3Context } from './client.js';
import type { S3Location } from './url.js';

/** What both GETs give the reader: the body stream, the ETag to pin a resumed read to, the bytes to come. */
export interface ObjectResponse {
  Body?: AsyncIterable<Uint8Array> & { destroy(error?: unknown): void };
  ETag?: string;
  ContentLength?: number;
}

/** The store's refusal, shaped as the SDK's service errors (`name` is the store's code) for `classifyFailure`. */
export class S3ResponseError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: 'client' | 'server';
  constructor(code: string | undefined, status: number) {
    super(`${code ?? 'error'} (HTTP ${status})`);
    this.name = code ?? 'Unknown';
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? 'server' : 'client';
  }
}

interface Signer {
  sign(request: SignableRequest, options: { signingDate: Date; signingRegion?: string; signingService?: string }): Promise<SignableRequest>;
}

export interface SignableRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

/** How to reach one bucket: where its objects are, and the signer the SDK would use for it. */
interface Route {
  url: URL;
  agent: http.Agent;
  signer: Signer;
  signingRegion?: string;
  signingService?: string;
}

/** The client's config, as far as this module reads it (the SDK's resolved S3 client config). */
interface SigningConfig {
  signer(authScheme?: unknown): Promise<Signer>;
  systemClockOffset?: number;
  disableClockSkewCorrection?: () => Promise<boolean>;
}

const routes = new WeakMap<S3Context, Map<string, Promise<Route | null>>>();

/** Resolved once per bucket: the endpoint from the SDK's own rules, and its signer (which caches its key). */
async function resolveRoute(ctx: S3Context, loc: S3Location): Promise<Route | null> {
  // The SDK's own endpoint rules, from the package the SDK itself depends on; where a strict installation
  // keeps it out of reach, GETs go through the SDK.
  const endpoints = await import('@smithy/core/endpoints').catch(() => null);
  if (endpoints === null) return null;
  const { getEndpointFromInstructions } = endpoints;
  const config = ctx.client.config as unknown as SigningConfig;
  const endpoint = (await getEndpointFromInstructions(
    { Bucket: loc.bucket, Key: loc.key },
    ctx.sdk.GetObjectCommand as never,
    ctx.client.config as never,
  )) as { url: URL; properties?: { authSchemes?: { name?: string; signingName?: string; signingRegion?: string }[] } };
  const scheme = endpoint.properties?.authSchemes?.[0];
  if (scheme !== undefined && scheme.name !== 'sigv4') return null;
  const url = new URL(endpoint.url.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return {
    url,
    agent: url.protocol === 'https:' ? ctx.agents.https : ctx.agents.http,
    signer: await config.signer(scheme),
    signingRegion: scheme?.signingRegion,
    signingService: scheme?.signingName,
  };
}

function routeFor(ctx: S3Context, loc: S3Location): Promise<Route | null> {
  let byBucket = routes.get(ctx);
  if (byBucket === undefined) routes.set(ctx, (byBucket = new Map()));
  let route = byBucket.get(loc.bucket);
  if (route === undefined) {
    route = resolveRoute(ctx, loc);
    byBucket.set(loc.bucket, route);
    // A failed resolution (no region, a malformed bucket name) is not kept: the next GET meets it afresh.
    route.catch(() => byBucket.delete(loc.bucket));
  }
  return route;
}

/** A key as the SDK puts it in a path: each segment URI-encoded, `!'()*` too, the slashes kept. */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** The store's error code from an S3 XML error body, if it has one. */
function errorCode(body: string): string | undefined {
  return /<Code>([^<]{1,64})<\/Code>/.exec(body)?.[1];
}

/** What the SDK does after an error: the next signatures use the store's clock (its `Date`). */
function correctClock(config: SigningConfig, date: string | undefined, sentAt: number): void {
  if (date === undefined) return;
  const serverTime = Date.parse(date);
  if (Number.isNaN(serverTime) || Date.now() - sentAt > 900_000) return;
  config.systemClockOffset = serverTime - Date.now();
}

function send(route: Route, request: SignableRequest, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (route.url.protocol === 'https:' ? https : http).request({
      agent: route.agent,
      protocol: route.url.protocol,
      hostname: request.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: request.port,
      path: request.path,
      method: request.method,
      headers: request.headers,
      signal,
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

/** Reads at most 64 KiB of an error body (its XML names the code), then drops the rest. */
async function errorBody(res: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < 65_536) parts.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A signed GET, ready to send on its route's agent. */
export interface SignedGet {
  route: Route;
  request: SignableRequest;
  sentAt: number;
}

/**
 * The GET of `loc` from byte `offset` (`Range` past 0), pinned to `etag` (`If-Match`), signed as the SDK
 * signs it; null for a bucket that the SDK signs another way.
 */
export async function signGetObject(ctx: S3Context, loc: S3Location, offset: number, etag: string | undefined): Promise<SignedGet | null> {
  const route = await routeFor(ctx, loc);
  if (route === null) return null;
  const config = ctx.client.config as unknown as SigningConfig;
  const { url } = route;
  const headers: Record<string, string> = { host: url.host };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  if (etag !== undefined) headers['if-match'] = etag;
  const skewCorrection = (await config.disableClockSkewCorrection?.()) !== true;
  const sentAt = Date.now();
  const request = await route.signer.sign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port !== '' ? { port: Number(url.port) } : {}),
      path: `${url.pathname.replace(/\/$/, '')}/${encodeKeyPath(loc.key)}`,
      query: {},
      headers,
    },
    {
      signingDate: new Date(sentAt + (skewCorrection ? (config.systemClockOffset ?? 0) : 0)),
      signingRegion: route.signingRegion,
      signingService: route.signingService,
    },
  );
  return { route, request, sentAt };
}

/**
 * GET of `loc` from byte `offset` (`Range` past 0), pinned to `etag` when given (`If-Match`), aborted by
 * `signal`: the request {@link getObjectFrom} sends, signed and sent directly. Errors have the SDK's shape.
 */
export async function getObjectDirect(ctx: S3Context, loc: S3Location, offset: number, etag: string | undefined, signal: AbortSignal): Promise<ObjectResponse> {
  const signed = await signGetObject(ctx, loc, offset, etag);
  if (signed === null) return (await getObjectFrom(ctx, loc, offset, etag, signal)) as ObjectResponse;
  const res = await send(signed.route, signed.request, signal);
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) {
    const length = Number(res.headers['content-length']);
    return {
      Body: res,
      ...(typeof res.headers.etag === 'string' ? { ETag: res.headers.etag } : {}),
      ...(Number.isFinite(length) ? { ContentLength: length } : {}),
    };
  }
  const code = errorCode(await errorBody(res).catch(() => ''));
  const config = ctx.client.config as unknown as SigningConfig;
  if ((await config.disableClockSkewCorrection?.()) !== true) correctClock(config, res.headers.date, signed.sentAt);
  throw new S3ResponseError(code, status);
}
