/**
 * `s3://bucket/key` URLs: what names an object or a prefix in a bucket, wherever imgstream takes a path.
 */
import { Errors } from '../errors.js';

export interface S3Location {
  bucket: string;
  /** The object key (or a prefix), without a leading `/`; may be empty for a whole bucket. */
  key: string;
}

export function isS3Url(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('s3://');
}

/**
 * Splits `s3://bucket/key` into bucket and key. The key is taken as written (no percent-decoding): keys may
 * hold spaces and any Unicode, as S3 allows.
 */
export function parseS3Url(url: string, option = 'url'): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/s.exec(url);
  if (m === null || !/^[a-z0-9][a-z0-9._-]{1,62}$/.test(m[1])) {
    throw Errors.invalidOption(option, 'an s3://bucket/key URL with a valid bucket name', url);
  }
  return { bucket: m[1], key: m[2] ?? '' };
}

export function formatS3Url(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.key}`;
}
