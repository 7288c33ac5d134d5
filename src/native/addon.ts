/**
 * The optional native addon (`src/native/`): the JPEG fast path (`jpeg_turbo.c`, libjpeg-turbo through its
 * TurboJPEG API, opened at run time by `turbojpeg_load.c`), augmentation's RGB pixel pass (`augment_pass.c`),
 * the workers' one-task file reads and memory trimming (`read_file.c`). Its arguments and packed parameter
 * blocks are declared in `abi.ts`; where the addon and the library come from, in `load.cjs`. Loaded lazily,
 * once per thread; when either is missing, or `IMGSTREAM_JPEG_BACKEND=sharp` turns it off, sharp decodes every
 * file and the JavaScript versions run.
 */
import { createRequire } from 'node:module';
import { Errors } from '../errors.js';
import type { DecodeParam, DecodeStatus, ShiftedParam } from './abi.js';

/** The versions of the fast path's resampling passes, widest first. */
export const RESAMPLE_KERNELS = ['avx512', 'avx2', 'portable'] as const;
export type ResampleKernels = (typeof RESAMPLE_KERNELS)[number];

export interface NativeAddon {
  /**
   * Decodes `jpeg` into `out` (NHWC) as `params` says (laid out as {@link DecodeParam}): DCT-scaled decode,
   * EXIF orientation, centre crop or a region, resampling, colour, and for float32 output
   * `value * scale[c] + offset[c]` when `scale` is given. Returns a {@link DecodeStatus}: anything but `OK`
   * leaves `out` unspecified and the file to sharp.
   */
  decode(jpeg: Uint8Array, out: Uint8Array | Float32Array, params: Int32Array, scale: Float32Array | null, offset: Float32Array | null): number;
  /**
   * Opens libjpeg-turbo's TurboJPEG library `file` for the whole process: `null` when it (or one opened
   * before) provides the API, else why not. Until one is open, `decode` returns `ERR_NO_LIBRARY`.
   */
  openTurbojpeg(file: string): string | null;
  /** The file of the opened TurboJPEG library, as the dynamic linker found it; `null` before one is open. */
  turbojpegPath(): string | null;
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
   * The consumer's step of a float32 loader whose ring holds 8-bit levels (`levels.c`): `src` into
   * `dst[dstOffset, dstOffset + src.length)` as `level * scale[c] + offset[c]` in float32 arithmetic (product
   * rounded, then the sum), `scale` and `offset` one value per channel (1 to 4). `false` (nothing written) when
   * the arguments do not fit.
   */
  expandLevels(src: Uint8Array, dst: Float32Array, dstOffset: number, scale: Float32Array, offset: Float32Array): boolean;
  /**
   * Reads a file into `buffer` as one task on libuv's pool (open, fstat, read, close). Resolves with its size:
   * larger than `buffer` means nothing was kept (retry with a larger one); -1, a file that is not regular and
   * does not fit. Rejects with Node's `code` (`ENOENT`, `EISDIR`, ...).
   */
  readInto(path: string, buffer: Uint8Array): Promise<number>;
  /** Returns the allocator's free pages to the system (glibc's `malloc_trim`); `false` where it cannot. */
  trimMemory(): boolean;
  /**
   * Which versions of the resampling passes run: `'avx512'` (AVX-512 VNNI and VBMI), `'avx2'` or `'portable'`,
   * the widest the CPU has unless `name` picks another of those it has; process-wide. Every version gives the
   * same values (for the tests that hold them to it).
   */
  resampleKernels(name?: ResampleKernels): ResampleKernels;
  /**
   * Whether YCbCr JPEGs decode through their planes where that applies (orientation 1-4, bilinear, RGB out, no DCT
   * scaling, chroma subsampled by 1 or 2 per axis: libjpeg-turbo's raw output, each plane resampled, then the
   * colour conversion at the output size); `enabled` turns it off or on, process-wide (for the tests and the
   * bench that compare it with the RGB path). Off where the library lacks `tjDecompressToYUVPlanes`.
   */
  decodePlanar(enabled?: boolean): boolean;
}

/** Environment switch: `sharp` turns the fast path off, `native` makes a missing addon an error. */
export const BACKEND_ENV = 'IMGSTREAM_JPEG_BACKEND';

/** Environment switch: a libturbojpeg file, or `system` for the system's only (see `load.cjs`). */
export const LIBRARY_ENV = 'IMGSTREAM_TURBOJPEG';

/** Where the fast path's parts come from, or why it is off. */
export type NativeStatus =
  | { addon: NativeAddon; addonFile: string; addonOrigin: string; library: string; origin: string; reason: null; hint: null }
  | { addon: null; missing?: 'addon' | 'library'; reason: string; hint: string | null };

interface Loader {
  loadNative(env: NodeJS.ProcessEnv): NativeStatus;
  describeStatus(status: NativeStatus): string;
}

// `load.cjs` states where the addon and the library come from, for this loader and for the install step. Sources
// run from `src/native/`, the built package from `dist/src/native/`; `load.cjs` stays next to the C sources.
const LOADERS = ['./load.cjs', '../../../src/native/load.cjs'];

let loaderModule: Loader | undefined;

function loader(): Loader {
  if (loaderModule !== undefined) return loaderModule;
  const require = createRequire(import.meta.url);
  for (const candidate of LOADERS) {
    try {
      loaderModule = require(candidate) as Loader;
      return loaderModule;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    }
  }
  throw new Error(`imgstream: src/native/load.cjs is missing from the package`);
}

let cached: NativeStatus | undefined;

/** The addon and its library, loaded once per thread; off with `IMGSTREAM_JPEG_BACKEND=sharp`. */
export function nativeStatus(): NativeStatus {
  if (process.env[BACKEND_ENV] === 'sharp') return { addon: null, reason: `disabled by ${BACKEND_ENV}=sharp`, hint: null };
  cached ??= loader().loadNative(process.env);
  return cached;
}

/**
 * The native addon, or `null` when it is not built, cannot load, finds no libjpeg-turbo, or is turned off: it
 * is used only with its decoder, and then for the workers' reads and augmentation's pixel pass too.
 */
export function nativeAddon(): NativeAddon | null {
  return nativeStatus().addon;
}

/** Why {@link nativeAddon} returned `null` (for messages), or `null` when it is available. */
export function nativeAddonUnavailableReason(): string | null {
  return nativeStatus().reason;
}

/**
 * One line naming the JPEG decoder this process uses: libjpeg-turbo with its version and file, or sharp with
 * the reason the fast path is off and what turns it on.
 */
export function describeDecoder(): string {
  return loader().describeStatus(nativeStatus());
}

let logged = false;

/** Writes `line` to stderr unless the decoder was logged or reported already in this thread. */
function logOnce(line: string): void {
  if (logged) return;
  logged = true;
  process.stderr.write(`imgstream: ${line}\n`);
}

/** For a caller that prints {@link describeDecoder} itself (the CLI): the loader then does not log it again. */
export function decoderReported(): void {
  logged = true;
}

/** The `decoder` option. */
export type Decoder = 'auto' | 'sharp' | 'jpeg-turbo';

/**
 * The JPEG decoder a loader runs with. `'auto'` takes the fast path when the addon loads here (the workers
 * load the same file); `'jpeg-turbo'`, or `IMGSTREAM_JPEG_BACKEND=native`, makes its absence an error. The
 * first loader of a process logs the decoder in one line on stderr.
 */
export function resolveDecoder(requested: Decoder): 'sharp' | 'jpeg-turbo' {
  if (requested === 'sharp') {
    logOnce("JPEG fast path off: decoder 'sharp'");
    return 'sharp';
  }
  const required = requested === 'jpeg-turbo' || process.env[BACKEND_ENV] === 'native';
  if (nativeAddon() !== null || !required) {
    logOnce(describeDecoder());
    return nativeAddon() !== null ? 'jpeg-turbo' : 'sharp';
  }
  throw Errors.optionConflict(
    `Expected the native libjpeg-turbo decoder for decoder '${requested}'` +
      `${process.env[BACKEND_ENV] === 'native' ? ` (${BACKEND_ENV}=native)` : ''} but it is unavailable: ${nativeAddonUnavailableReason()}`,
  );
}
