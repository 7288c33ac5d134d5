/**
 * BMP files, which libvips (so sharp) has no loader for: decoded by `bmp-ts` (Jimp's BMP codec: pure
 * TypeScript, no dependencies) into raw pixels that sharp then takes as raw input, so the rest of either decode
 * path is the one every other format goes through. Read: uncompressed 1-, 4- and 8-bit palette files, 24- and
 * 32-bit files, bit fields, rows bottom-up or top-down (what PIL and TF write, and more). Refused with their
 * reason: RLE (bmp-ts misplaces its pixels), 16-bit (its 5-bit channels scale unlike PIL's), JPEG or PNG inside. Channels as PIL's `Image.open` gives them:
 * RGB, or RGBA only for a 32-bit file whose bit fields declare an alpha mask (PIL reads a plain 32-bit file as
 * BGRX, its fourth byte unused).
 */
import { decode } from 'bmp-ts';
import type SharpFactory from 'sharp';
import type { Sharp, SharpOptions } from 'sharp';
import { SampleError } from '../src/read-sample.js';

/** Bytes up to the end of the BITMAPINFOHEADER, the smallest header `bmp-ts` and PIL read. */
const INFO_HEADER_END = 54;
const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHA_BITFIELDS = 6;
const COMPRESSION_NAMES: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'JPEG', 5: 'PNG' };

/** Whether `data` starts as a BMP file does (`BM`, then a header size that one of its versions has). */
export function isBmp(data: Uint8Array): boolean {
  if (data.length < 18 || data[0] !== 0x42 || data[1] !== 0x4d) return false;
  const headerSize = Buffer.from(data.buffer, data.byteOffset, data.length).readUInt32LE(14);
  return [12, 40, 52, 56, 108, 124].includes(headerSize);
}

export interface RawImage {
  pixels: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

/**
 * The pixels of a BMP, row by row from the top, checked against `maxPixels` from the header before any is
 * decoded. Throws a `SampleError` naming what is wrong with the file.
 */
export function decodeBmp(data: Buffer, maxPixels: number): RawImage {
  if (data.length < INFO_HEADER_END) {
    throw new SampleError('ERR_DECODE', `truncated BMP: the file ends at ${data.length} bytes, inside its ${INFO_HEADER_END}-byte header`);
  }
  const headerSize = data.readUInt32LE(14);
  if (headerSize < 40) throw new SampleError('ERR_DECODE', `unsupported BMP: an OS/2 header of ${headerSize} bytes`);
  const width = data.readInt32LE(18);
  const height = Math.abs(data.readInt32LE(22));
  const bitsPerPixel = data.readUInt16LE(28);
  const compression = data.readUInt32LE(30);
  if (width <= 0 || height === 0) throw new SampleError('ERR_DECODE', `corrupt BMP: its header gives a size of ${width}x${data.readInt32LE(22)}`);
  if (width * height > maxPixels) {
    throw new SampleError('ERR_TOO_MANY_PIXELS', `BMP of ${width}x${height} pixels is over the pixel limit (maxPixels ${maxPixels})`);
  }
  if (![1, 4, 8, 24, 32].includes(bitsPerPixel)) {
    throw new SampleError('ERR_DECODE', `unsupported BMP: ${bitsPerPixel} bits per pixel (1, 4, 8, 24 and 32 are read)`);
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHA_BITFIELDS) {
    throw new SampleError('ERR_DECODE', `unsupported BMP compression ${compression} (${COMPRESSION_NAMES[compression] ?? 'unknown'}; uncompressed and bit-field files are read)`);
  }
  const rowBytes = Math.floor((bitsPerPixel * width + 31) / 32) * 4;
  const end = data.readUInt32LE(10) + rowBytes * height;
  if (data.length < end) {
    throw new SampleError('ERR_DECODE', `truncated BMP: the file ends at ${data.length} bytes, before the end of its pixels at ${end}`);
  }
  // The alpha mask follows the colour masks: in the header from its V3 form on, or after the three colour
  // masks that BI_ALPHA_BITFIELDS appends to a BITMAPINFOHEADER.
  const alphaMask = headerSize >= 56 || compression === BI_ALPHA_BITFIELDS ? data.readUInt32LE(INFO_HEADER_END + 12) : 0;
  const channels = bitsPerPixel === 32 && compression !== BI_RGB && alphaMask !== 0 ? 4 : 3;
  // bmp-ts' ABGR layout: its palette paths write ABGR whatever `toRGBA` asks.
  let abgr: Buffer;
  try {
    abgr = decode(data, { toRGBA: false }).data;
  } catch (err) {
    throw new SampleError('ERR_DECODE', `corrupt BMP (${err instanceof Error ? err.message : String(err)})`);
  }
  const pixels = Buffer.allocUnsafe(width * height * channels);
  for (let i = 0, o = 0; o < pixels.length; i += 4, o += channels) {
    pixels[o] = abgr[i + 3];
    pixels[o + 1] = abgr[i + 2];
    pixels[o + 2] = abgr[i + 1];
    if (channels === 4) pixels[o + 3] = abgr[i];
  }
  return { pixels, width, height, channels };
}

/**
 * A sharp pipeline on `data`: the file itself, or for a BMP its decoded pixels as raw input (the options that
 * only concern a file's decoder, such as `failOn`, then have nothing to act on).
 */
export function sharpInput(sharp: typeof SharpFactory, data: Buffer, options: SharpOptions & { limitInputPixels: number }): Sharp {
  if (!isBmp(data)) return sharp(data, options);
  const bmp = decodeBmp(data, options.limitInputPixels);
  return sharp(bmp.pixels, { limitInputPixels: options.limitInputPixels, raw: { width: bmp.width, height: bmp.height, channels: bmp.channels } });
}
