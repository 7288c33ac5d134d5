/**
 * Every error imgstream raises is an {@link ImgstreamError} with a stable `code`; users branch on the code,
 * never on the message text. Errors that concern a file carry its `path`.
 */

/** Stable error codes. */
export type ErrorCode =
  | 'ERR_OPTION'
  | 'ERR_NOT_FOUND'
  | 'ERR_NO_IMAGES'
  | 'ERR_READ'
  | 'ERR_EMPTY_FILE'
  | 'ERR_NOT_IMAGE'
  | 'ERR_DECODE'
  | 'ERR_TOO_MANY_PIXELS'
  | 'ERR_WORKER'
  | 'ERR_CLOSED'
  | 'ERR_SHARD_READ'
  | 'ERR_SHARD_SAMPLE'
  | 'ERR_LABEL'
  | 'ERR_TOO_LARGE'
  | 'ERR_S3_AUTH'
  | 'ERR_S3_NOT_FOUND'
  | 'ERR_S3_FORBIDDEN'
  | 'ERR_S3_REQUEST';

/** Codes that describe one sample that could not be turned into pixels (skipped under `onError: 'skip'`). */
export const SAMPLE_ERROR_CODES: readonly ErrorCode[] = [
  'ERR_READ',
  'ERR_EMPTY_FILE',
  'ERR_NOT_IMAGE',
  'ERR_DECODE',
  'ERR_TOO_MANY_PIXELS',
  'ERR_WORKER',
  'ERR_SHARD_READ',
  'ERR_SHARD_SAMPLE',
  'ERR_LABEL',
  'ERR_TOO_LARGE',
  'ERR_S3_NOT_FOUND',
  'ERR_S3_FORBIDDEN',
  'ERR_S3_REQUEST',
];

export class ImgstreamError extends Error {
  readonly code: ErrorCode;
  readonly path?: string;

  constructor(code: ErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImgstreamError';
    this.code = code;
    if (options.path !== undefined) this.path = options.path;
  }
}

/** A sample that was skipped: which file, why (stable code) and the decoder's own words. */
export interface SkippedSample {
  path: string;
  code: ErrorCode;
  message: string;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}' of type string`;
  if (Array.isArray(value)) return `${JSON.stringify(value)} of type array`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `${JSON.stringify(value)} of type object`;
  return `${String(value)} of type ${typeof value}`;
}

/** All error messages are made here so that every one reads the same way. */
export const Errors = {
  /** `Expected <allowed> for <option> but received <value>` — sharp's form. */
  invalidOption(option: string, allowed: string, received: unknown): ImgstreamError {
    return new ImgstreamError('ERR_OPTION', `Expected ${allowed} for ${option} but received ${describe(received)}`);
  },
  optionConflict(message: string): ImgstreamError {
    return new ImgstreamError('ERR_OPTION', message);
  },
  notFound(path: string, what: string): ImgstreamError {
    return new ImgstreamError('ERR_NOT_FOUND', `${what} not found: ${path}`, { path });
  },
  noImages(path: string, extensions: readonly string[]): ImgstreamError {
    return new ImgstreamError(
      'ERR_NO_IMAGES',
      `No image files found in ${path} (looked for ${extensions.map((e) => `.${e}`).join(', ')})`,
      { path },
    );
  },
  nothingDecodable(path: string, tried: number): ImgstreamError {
    return new ImgstreamError('ERR_NO_IMAGES', `None of the ${tried} files picked from ${path} can be decoded`, { path });
  },
  sample(skip: SkippedSample): ImgstreamError {
    return new ImgstreamError(skip.code, `Cannot load ${skip.path}: ${skip.message}`, { path: skip.path });
  },
  /**
   * The store rejected who we are (bad or missing credentials, a signature that does not match). It names the
   * request and the store's code, never a credential.
   */
  s3Auth(url: string, reason: string): ImgstreamError {
    return new ImgstreamError(
      'ERR_S3_AUTH',
      `S3 rejected the credentials for ${url}: ${reason}; check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or s3.credentials)`,
      { path: url },
    );
  },
  s3NotFound(url: string, reason: string): ImgstreamError {
    return new ImgstreamError('ERR_S3_NOT_FOUND', `S3 object not found: ${url} (${reason})`, { path: url });
  },
  s3Forbidden(url: string, reason: string): ImgstreamError {
    return new ImgstreamError('ERR_S3_FORBIDDEN', `S3 access denied to ${url} (${reason})`, { path: url });
  },
  /** A request that failed for good: rejected by the store, or still failing after its retries. */
  s3Request(url: string, reason: string): ImgstreamError {
    return new ImgstreamError('ERR_S3_REQUEST', `S3 request for ${url} failed: ${reason}`, { path: url });
  },
  closed(): ImgstreamError {
    return new ImgstreamError('ERR_CLOSED', 'The loader was closed');
  },
};
