/**
 * What a failed S3 request means: retry it (a reset, a timeout, throttling, a 5xx), or stop with a named
 * error (missing, forbidden, bad credentials, rejected). Messages are built from the store's error code and
 * the HTTP status only: the SDK's own texts and objects (which can carry the access key id) never get in.
 */
import { Errors, type ImgstreamError } from '../errors.js';

/** Codes for credentials the store does not accept. */
const AUTH_CODES = new Set([
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
  'InvalidSecurity',
  'MissingSecurityHeader',
]);
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NoSuchBucket', 'NotFound']);
/** Worth another try: the store or the path to it is having a bad moment. */
const RETRY_CODES = new Set(['SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'Throttling', 'RequestTimeTooSkewed']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

export type Failure = { retry: true; reason: string } | { retry: false; error: ImgstreamError };

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

/** `SlowDown (HTTP 503)`: the store's code and status, nothing else. */
function describe(code: string | undefined, status: number | undefined): string {
  const name = code && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? code : 'error';
  return status === undefined ? name : `${name} (HTTP ${status})`;
}

/** Classifies an error thrown by the SDK, by a body stream, or by our own no-progress timer. */
export function classifyFailure(err: unknown, url: string): Failure {
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name;
  if (name === 'CredentialsProviderError') {
    return { retry: false, error: Errors.s3Auth(url, 'no credentials found by the AWS credential chain') };
  }
  if (status !== undefined) {
    const what = describe(name === 'Unknown' || name === 'UnknownError' ? undefined : name, status);
    if (AUTH_CODES.has(name ?? '')) return { retry: false, error: Errors.s3Auth(url, what) };
    if (status === 404 || NOT_FOUND_CODES.has(name ?? '')) return { retry: false, error: Errors.s3NotFound(url, what) };
    if (status === 403) return { retry: false, error: Errors.s3Forbidden(url, what) };
    if (status === 429 || status >= 500 || RETRY_CODES.has(name ?? '')) return { retry: true, reason: what };
    if (status === 412) return { retry: false, error: Errors.s3Request(url, `${what}: the object changed while it was read`) };
    return { retry: false, error: Errors.s3Request(url, what) };
  }
  if (err instanceof TruncatedBody || err instanceof StallTimeout) return { retry: true, reason: err.message };
  const code = e.code ?? '';
  if (NETWORK_CODES.has(code)) return { retry: true, reason: code };
  if (name === 'TimeoutError' || name === 'AbortError') return { retry: true, reason: 'timed out' };
  if (/socket hang up|aborted|premature close|terminated/i.test(e.message ?? '')) return { retry: true, reason: 'connection lost' };
  return { retry: false, error: Errors.s3Request(url, describe(name, undefined)) };
}

/** A body that ended before the length its headers announced. */
export class TruncatedBody extends Error {
  constructor(got: number, expected: number) {
    super(`body ended after ${got} of ${expected} bytes`);
  }
}

/** The no-progress timer fired. */
export class StallTimeout extends Error {
  override readonly name = 'TimeoutError';
  constructor(ms: number) {
    super(`no byte for ${ms} ms`);
  }
}
