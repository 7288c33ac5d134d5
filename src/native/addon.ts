/**
 * The optional native addon (`src/native/`), built at install time when a compiler and libjpeg-turbo are
 * there: the JPEG fast path (`jpeg_turbo.c`, libjpeg-turbo through its TurboJPEG API), augmentation's RGB pixel
 * pass (`augment_pass.c`), the workers' one-task file reads and memory trimming (`read_file.c`). Its arguments
 * and packed parameter blocks are declared in `abi.ts`. Loaded lazily, once per thread; when it is missing, or
 * `IMGSTREAM_JPEG_BACKEND=sharp` turns it off, sharp decodes every file and the JavaScript versions run.
 */
import { createRequire } from 'node:module';
import { Errors } from '../errors.js';
import type { DecodeParam, DecodeStatus, ShiftedParam } from './abi.js';

export interface NativeAddon {
  /**
   * Decodes `jpeg` into `out` (NHWC) as `params` says (laid out as {@link DecodeParam}): DCT-scaled decode,
   * EXIF orientation, centre crop or a region, resampling, colour, and for float32 output
   * `value * scale[c] + offset[c]` when `scale` is given. Returns a {@link DecodeStatus}: anything but `OK`
   * leaves `out` unspecified and the file to sharp.
   */
  decode(jpeg: Uint8Array, out: Uint8Array | Float32Array, params: Int32Array, scale: Float32Array | null, offset: Float32Array | null): number;
  /** The libjpeg-turbo version the addon was built against. */
  version(): string;
  /**
   * Augmentation's RGB crop/flip/colour pass (`writeShiftedRgb` in workers/augment.ts), natively; `params`
   * laid out as {@link ShiftedParam}.
   */
  shiftedRgb(out: Uint8Array | Float32Array, src: Uint8Array, srcWidth: number, srcHeight: number, tone: Float32Array, params: Float64Array): void;
  /** Every constant of `abi.h` by its C name, as compiled into the addon (for the test against `abi.ts`). */
  abi(): Record<string, number>;
  /** Mean luminance of `src` through `lut` (the contrast jitter's mean), natively. */
  meanLuminance(src: Uint8Array, channels: number, lut: Float64Array): number;
  /**
   * Reads a file into `buffer` as one task on libuv's pool (open, fstat, read, close). Resolves with its size:
   * larger than `buffer` means nothing was kept (retry with a larger one); -1, a file that is not regular and
   * does not fit. Rejects with Node's `code` (`ENOENT`, `EISDIR`, ...).
   */
  readInto(path: string, buffer: Uint8Array): Promise<number>;
  /** Returns the allocator's free pages to the system (glibc's `malloc_trim`); `false` where it cannot. */
  trimMemory(): boolean;
  /**
   * Whether the resampling passes run their AVX2 versions (x86-64 CPUs that have it). `enabled` turns them
   * off, or back on where the CPU has AVX2; process-wide. Both versions give the same values (for tests).
   */
  useAvx2(enabled?: boolean): boolean;
}

/** Environment switch: `sharp` turns the fast path off, `native` makes a missing addon an error. */
export const BACKEND_ENV = 'IMGSTREAM_JPEG_BACKEND';

// Sources run from `src/native/`, the built package from `dist/src/native/`; the addon is built next to the sources.
const CANDIDATES = ['./build/Release/imgstream.node', '../../../src/native/build/Release/imgstream.node'];

let cached: { addon: NativeAddon | null; error: string | null } | undefined;

function load(): { addon: NativeAddon | null; error: string | null } {
  const require = createRequire(import.meta.url);
  let error = 'not built (no C compiler or no libturbojpeg headers at install time)';
  for (const candidate of CANDIDATES) {
    try {
      return { addon: require(candidate) as NativeAddon, error: null };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'MODULE_NOT_FOUND') error = e.message;
    }
  }
  return { addon: null, error };
}

/** The native addon, or `null` when it is not built, cannot load, or is turned off. */
export function nativeAddon(): NativeAddon | null {
  if (process.env[BACKEND_ENV] === 'sharp') return null;
  cached ??= load();
  return cached.addon;
}

/** Why {@link nativeAddon} returned `null` (for messages), or `null` when it is available. */
export function nativeAddonUnavailableReason(): string | null {
  if (process.env[BACKEND_ENV] === 'sharp') return `disabled by ${BACKEND_ENV}=sharp`;
  cached ??= load();
  return cached.error;
}

/** The `decoder` option. */
export type Decoder = 'auto' | 'sharp' | 'jpeg-turbo';

/**
 * The JPEG decoder a loader runs with. `'auto'` takes the fast path when the addon loads here (the workers
 * load the same file); `'jpeg-turbo'`, or `IMGSTREAM_JPEG_BACKEND=native`, makes its absence an error.
 */
export function resolveDecoder(requested: Decoder): 'sharp' | 'jpeg-turbo' {
  if (requested === 'sharp') return 'sharp';
  const required = requested === 'jpeg-turbo' || process.env[BACKEND_ENV] === 'native';
  if (nativeAddon() !== null) return 'jpeg-turbo';
  if (!required) return 'sharp';
  throw Errors.optionConflict(
    `Expected the native libjpeg-turbo decoder for decoder '${requested}'` +
      `${process.env[BACKEND_ENV] === 'native' ? ` (${BACKEND_ENV}=native)` : ''} but it is unavailable: ${nativeAddonUnavailableReason()}`,
  );
}
