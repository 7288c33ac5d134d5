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
  | 'ERR_NOT_REGULAR_FILE'
  | 'ERR_FILE_TOO_LARGE'
  | 'ERR_OUTSIDE_ROOT'
  | 'ERR_EMPTY_FILE'
  | 'ERR_NOT_IMAGE'
  | 'ERR_DECODE'
  | 'ERR_TOO_MANY_PIXELS'
  | 'ERR_WORKER'
  | 'ERR_TOO_MANY_SKIPPED'
  | 'ERR_CLOSED'
  | 'ERR_NOT_INSTALLED'
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
  'ERR_NOT_REGULAR_FILE',
  'ERR_FILE_TOO_LARGE',
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

/** Stable codes of what an index's listing reports without failing ({@link IndexWarning}). */
export type WarningCode = 'WARN_LINK_NOT_FOLLOWED' | 'WARN_EMPTY_CLASS' | 'WARN_SAME_NAME_CLASSES';

/** Something the listing of a folder left out or found doubtful: where, a stable code, and in words. */
export interface IndexWarning {
  path: string;
  code: WarningCode;
  message: string;
}

/** A sample that was skipped: which file, why (stable code) and the decoder's own words. */
export interface SkippedSample {
  path: string;
  code: ErrorCode;
  message: string;
}

/**
 * `text` cut to at most `max` characters, its middle replaced by a note of how much was left out: a message
 * names a path that can be as long as a line of a CSV, and the start and the end of it say the most.
 */
export function boundText(text: string, max: number): string {
  if (text.length <= max) return text;
  const keep = Math.max(0, max - 40);
  const head = Math.ceil(keep / 2);
  return `${text.slice(0, head)}[... ${text.length - keep} characters ...]${text.slice(text.length - (keep - head))}`;
}

/** Longest path quoted in a message. */
const MAX_QUOTED_PATH = 500;

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
    const message = `Cannot load ${boundText(skip.path, MAX_QUOTED_PATH)}: ${boundText(skip.message, 1000)}`;
    return new ImgstreamError(skip.code, message, { path: skip.path });
  },
  /** An epoch skipped more than `maxSkipShare` of its samples: how many, why (counts per code), an example. */
  tooManySkipped(skipped: readonly SkippedSample[], epochSize: number, maxSkipShare: number): ImgstreamError {
    const byCode = new Map<string, number>();
    for (const s of skipped) byCode.set(s.code, (byCode.get(s.code) ?? 0) + 1);
    const counts = [...byCode].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${n} ${code}`).join(', ');
    const first = skipped[0];
    return new ImgstreamError(
      'ERR_TOO_MANY_SKIPPED',
      `The epoch skipped ${skipped.length} of its ${epochSize} samples, more than maxSkipShare ${maxSkipShare} allows: ` +
        `${counts}; e.g. ${boundText(first.path, MAX_QUOTED_PATH)}: ${boundText(first.message, 300)}. ` +
        'stats.skipped lists them; raise maxSkipShare (1 never fails) to train on what decodes.',
      { path: first.path },
    );
  },
  /** A feature's optional peer dependency is missing: `<feature> needs <what>, which is not installed: npm install <a> or <b>`. */
  notInstalled(feature: string, what: string, choices: readonly string[]): ImgstreamError {
    const install = choices.map((c) => `npm install ${c}`).join(' or ');
    return new ImgstreamError('ERR_NOT_INSTALLED', `${feature} needs ${what}, which is not installed: ${install}`);
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
  /** The epoch was stopped because the same loader started another one. */
  superseded(epoch: number, next: number): ImgstreamError {
    return new ImgstreamError(
      'ERR_CLOSED',
      `Epoch ${epoch} was stopped because another iteration of this loader started epoch ${next}: a loader runs one ` +
        'epoch at a time (finish or break out of one loop before starting the next, or use a second loader)',
    );
  },
};
