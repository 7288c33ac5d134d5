/**
 * The JPEG fast path of the decode worker: a header scan decides whether a file is a JPEG libjpeg-turbo reads
 * exactly as sharp does (8-bit baseline or progressive, Huffman-coded, grey or YCbCr/RGB); if so, the native
 * addon decodes it at the DCT scale the target allows and resamples, orients, crops and converts it in one
 * pass straight into the ring slot. Anything else (PNG, WebP, CMYK, 12-bit, arithmetic coding, a file over
 * `maxPixels`, a decode error or warning) is declined and goes to sharp, which decodes it or reports it with
 * the same code as ever.
 */
import { DecodeParam, DecodeStatus, Interpolation, packDecodeParams } from '../src/native/abi.js';
import { nativeAddon } from '../src/native/addon.js';
import type { DecodeSpec } from '../src/protocol.js';
import type { Region } from './augment.js';

/** What the fast path needs from a JPEG's markers. */
export interface JpegHeader {
  width: number;
  height: number;
  /** Sample precision in bits. */
  precision: number;
  components: number;
  /** SOF marker type: 0xc0 baseline, 0xc1 extended, 0xc2 progressive, others (lossless, arithmetic) declined. */
  frame: number;
  /** EXIF orientation 1-8 (1 when absent or unreadable). */
  orientation: number;
}

/** Frame types read the same by libjpeg-turbo and by sharp: Huffman baseline, extended and progressive. */
const FAST_FRAMES = new Set([0xc0, 0xc1, 0xc2]);

function isExif(data: Uint8Array, start: number, end: number): boolean {
  return end - start >= 14 && data[start] === 0x45 && data[start + 1] === 0x78 && data[start + 2] === 0x69 && data[start + 3] === 0x66;
}

/** APP1 after "Exif\0\0": a TIFF header (byte order, 42, offset of IFD0), then IFD0's 12-byte entries. */
function exifOrientation(data: Uint8Array, start: number, end: number): number {
  const tiff = start + 6;
  const little = data[tiff] === 0x49 && data[tiff + 1] === 0x49;
  if (!little && !(data[tiff] === 0x4d && data[tiff + 1] === 0x4d)) return 1;
  const u16 = (p: number) => (little ? data[p] | (data[p + 1] << 8) : (data[p] << 8) | data[p + 1]);
  const u32 = (p: number) => (little ? u16(p) + u16(p + 2) * 65536 : u16(p) * 65536 + u16(p + 2));
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return 1;
  const entries = u16(ifd);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > end) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/** Scans a JPEG's markers up to the first scan. `null` when the bytes are not a well-formed JPEG header. */
export function readJpegHeader(data: Uint8Array): JpegHeader | null {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return null;
  let orientation = 1;
  let exifSeen = false;
  let frame: Omit<JpegHeader, 'orientation'> | null = null;
  let p = 2;
  while (p + 4 <= data.length) {
    if (data[p] !== 0xff) return null;
    const marker = data[p + 1];
    if (marker === 0xff) {
      p++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2;
      continue;
    }
    if (marker === 0xd9) return null;
    const length = (data[p + 2] << 8) | data[p + 3];
    const body = p + 4;
    const end = p + 2 + length;
    if (length < 2 || end > data.length) return null;
    if (marker === 0xda) return frame === null ? null : { ...frame, orientation };
    if (marker === 0xe1 && !exifSeen && isExif(data, body, end)) {
      // libvips reads the first EXIF block only.
      exifSeen = true;
      orientation = exifOrientation(data, body, end);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (frame !== null || length < 8) return null;
      frame = {
        frame: marker,
        precision: data[body],
        height: (data[body + 1] << 8) | data[body + 2],
        width: (data[body + 3] << 8) | data[body + 4],
        components: data[body + 5],
      };
    }
    p = end;
  }
  return null;
}

/** Whether the fast path reads this header exactly as sharp would. */
export function fastPathAccepts(header: JpegHeader | null, maxPixels: number): header is JpegHeader {
  return (
    header !== null &&
    FAST_FRAMES.has(header.frame) &&
    header.precision === 8 &&
    (header.components === 1 || header.components === 3) &&
    header.width > 0 &&
    header.height > 0 &&
    // Over the limit: sharp refuses it with its own message, exactly as without the fast path.
    header.width * header.height <= maxPixels
  );
}

/** The spec fields the fast path implements; a spec with anything else switched on stays with sharp. */
// maxFileBytes is the reader's bound, met before any decoder sees the file.
const HANDLED = new Set(['height', 'width', 'channels', 'dtype', 'slotDtype', 'normalization', 'interpolation', 'cropToAspectRatio', 'maxPixels', 'maxFileBytes', 'decoder']);
const INTERPOLATION = { nearest: Interpolation.NEAREST, bilinear: Interpolation.BILINEAR } as const;

/** Where the fast path writes: a size other than the spec's, and a window of the oriented source to resize. */
export interface FastTarget {
  width: number;
  height: number;
  /**
   * The window of the oriented, full-size source to resize (augmentation's random crop), given that source's
   * size once the header is read; `null`: the whole image.
   */
  region: (source: { width: number; height: number }) => Region | null;
}

export type FastPath = (data: Uint8Array, out: Uint8Array | Float32Array, target?: FastTarget) => boolean;

/** The oriented size of an accepted JPEG. */
function orientedSize(header: JpegHeader): { width: number; height: number } {
  return header.orientation >= 5 ? { width: header.height, height: header.width } : { width: header.width, height: header.height };
}

/**
 * The fast path for `spec`, or `null` when the loader does not use it (decoder `'sharp'`, an interpolation
 * or an option it does not implement, or no native addon). The returned function writes `out` and returns
 * `true`, or returns `false` and leaves the file to sharp. With a `target`, it writes `target`'s size (8-bit
 * `out` expected for augmentation's later pass) from `target.region` of the source, or from the whole image.
 */
export function jpegFastPath(spec: DecodeSpec): FastPath | null {
  if (spec.decoder !== 'jpeg-turbo') return null;
  if (!(spec.interpolation in INTERPOLATION)) return null;
  for (const [key, value] of Object.entries(spec)) {
    if (!HANDLED.has(key) && value !== null && value !== undefined && value !== false) return null;
  }
  const addon = nativeAddon();
  if (addon === null) return null;
  const interpolation = INTERPOLATION[spec.interpolation as keyof typeof INTERPOLATION];
  const crop = spec.cropToAspectRatio ? 1 : 0;
  const scale = spec.dtype === 'float32' && spec.normalization !== null ? Float32Array.from(spec.normalization.scale) : null;
  const offset = scale !== null && spec.normalization !== null ? Float32Array.from(spec.normalization.offset) : null;
  const params = new Int32Array(DecodeParam.COUNT);
  return (data, out, target) => {
    const header = readJpegHeader(data);
    if (!fastPathAccepts(header, spec.maxPixels)) return false;
    const { channels } = spec;
    const { orientation } = header;
    if (target === undefined) {
      packDecodeParams({ width: spec.width, height: spec.height, channels, orientation, crop, interpolation, region: null }, params);
      return addon.decode(data, out, params, scale, offset) === DecodeStatus.OK;
    }
    const region = target.region(orientedSize(header));
    packDecodeParams({ width: target.width, height: target.height, channels, orientation, crop: region === null ? crop : 0, interpolation, region }, params);
    return addon.decode(data, out, params, null, null) === DecodeStatus.OK;
  };
}
