/**
 * Reading one sample's file and naming why it cannot become pixels, shared by the decode workers and
 * `imgstream inspect`, so that both give a bad file the same code.
 */
import { promises as fsp } from 'node:fs';
import type { ErrorCode } from './errors.js';

/** One file that cannot be used: a stable code and the reader's or decoder's own words. */
export class SampleError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The file's bytes; `ERR_READ` when it cannot be read (missing, a folder, a dangling link), `ERR_EMPTY_FILE` at 0 bytes. */
export async function readSample(file: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fsp.readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new SampleError('ERR_READ', `${e.code ?? 'read error'}: ${e.message}`);
  }
  if (data.length === 0) throw new SampleError('ERR_EMPTY_FILE', 'file is empty (0 bytes)');
  return data;
}

/** sharp's error for a file, as a code: over the pixel limit, not an image format it knows, or a bad decode. */
export function classifyDecodeError(err: unknown, maxPixels: number): SampleError {
  if (err instanceof SampleError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) return new SampleError('ERR_TOO_MANY_PIXELS', `${message} (maxPixels ${maxPixels})`);
  if (/unsupported image format/i.test(message)) return new SampleError('ERR_NOT_IMAGE', message);
  return new SampleError('ERR_DECODE', message);
}
