import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImageLoader, fromList } from '../src/index.js';
import { packDecodeParams } from '../src/native/abi.js';
import { BACKEND_ENV, RESAMPLE_KERNELS, nativeAddon, type ResampleKernels } from '../src/native/addon.js';
import type { DecodeSpec } from '../src/protocol.js';
import { fastPathAccepts, jpegFastPath, readJpegHeader } from '../workers/jpeg-turbo.js';
import { rec601Luma, removeDir, tempDir } from './fixtures/images.js';
import { NO_CJPEG, cjpeg, hasCjpeg, noNativeReason, photoJpeg } from './fixtures/jpegs.js';
import { collect, decodeSpec, describeBothPaths } from './fixtures/pipeline.js';

const native = nativeAddon() !== null;
let root: string;
beforeAll(() => {
  root = tempDir();
});
afterAll(() => removeDir(root));

/** What the worker's sharp path produces for the same spec (uint8). */
async function sharpDecode(data: Buffer, s: DecodeSpec): Promise<Buffer> {
  const kernel = s.interpolation === 'nearest' ? 'nearest' : 'linear';
  let image = sharp(data, { failOn: 'warning' })
    .autoOrient()
    .resize(s.width, s.height, { fit: s.cropToAspectRatio ? 'cover' : 'fill', kernel });
  if (s.channels === 4) image = image.ensureAlpha().toColourspace('srgb');
  else image = image.flatten({ background: '#000000' }).toColourspace('srgb');
  const raw = await image.raw().toBuffer();
  return s.channels === 1 ? rec601Luma(raw) : raw;
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

let declined = 0;
let handled = 0;
/** MAD of the fast path against sharp; a declined file (sharp decodes it, identically) counts as 0. */
async function fastVsSharp(data: Buffer, s: DecodeSpec): Promise<number> {
  const out = new Uint8Array(s.width * s.height * s.channels);
  if (!jpegFastPath(s)!(data, out)) {
    declined++;
    return 0;
  }
  handled++;
  return meanAbsDiff(out, await sharpDecode(data, s));
}

describeBothPaths('JPEG header scan', () => {
  it('reads size, frame type, precision, components and the EXIF orientation', async () => {
    const h = readJpegHeader(await photoJpeg(45, 31, 1, { orientation: 6 }));
    expect(h).toMatchObject({ width: 45, height: 31, precision: 8, components: 3, frame: 0xc0, orientation: 6 });
    expect(readJpegHeader(await photoJpeg(45, 31, 1, { progressive: true }))).toMatchObject({ frame: 0xc2, orientation: 1 });
    expect(readJpegHeader(await photoJpeg(45, 31, 1, { grayscale: true }))).toMatchObject({ components: 1 });
  });

  it('declines what sharp must decode: not a JPEG, CMYK, 12-bit, over maxPixels, truncated headers', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer();
    expect(readJpegHeader(png)).toBeNull();
    const cmyk = readJpegHeader(await photoJpeg(40, 30, 2, { cmyk: true }));
    expect(cmyk?.components).toBe(4);
    expect(fastPathAccepts(cmyk, 1e9)).toBe(false);
    const jpeg = await photoJpeg(40, 30, 3);
    const good = readJpegHeader(jpeg);
    expect(fastPathAccepts(good, 1e9)).toBe(true);
    expect(fastPathAccepts(good, 40 * 30 - 1)).toBe(false);
    expect(fastPathAccepts({ ...good!, precision: 12 }, 1e9)).toBe(false);
    expect(fastPathAccepts({ ...good!, frame: 0xc9 }, 1e9)).toBe(false);
    expect(readJpegHeader(jpeg.subarray(0, 20))).toBeNull();
  });

  it('declines arithmetic-coded JPEGs', (ctx) => {
    ctx.skip(!hasCjpeg, NO_CJPEG);
    const h = readJpegHeader(cjpeg(40, 30, 4, ['-arithmetic'], path.join(root, 'a.ppm')));
    expect(h?.frame).toBe(0xc9);
    expect(fastPathAccepts(h, 1e9)).toBe(false);
  });

  it('is off for the sharp decoder and for kernels it does not implement', () => {
    expect(jpegFastPath(decodeSpec({ decoder: 'sharp' }))).toBeNull();
    expect(jpegFastPath(decodeSpec({ interpolation: 'lanczos3' }))).toBeNull();
    expect(jpegFastPath({ ...decodeSpec(), augment: { flip: true } } as DecodeSpec)).toBeNull();
  });
});

describe('native fast path pixels against sharp (mean absolute difference <= 2 per file)', () => {
  beforeEach((ctx) => ctx.skip(!native, noNativeReason()));
  const sizes: [number, number][] = [
    [450, 400],
    [640, 480],
    [1000, 300],
    [333, 517],
    [224, 224],
  ];
  for (const [w, h] of sizes) {
    it(`${w}x${h}: 4:2:0, 4:4:4, progressive, grayscale; 224x224, 100x80, crop, grey output`, async () => {
      const files = {
        '4:2:0': await photoJpeg(w, h, w + h),
        '4:4:4': await photoJpeg(w, h, w + h, { subsampling: '4:4:4' }),
        progressive: await photoJpeg(w, h, w + h, { progressive: true }),
        grayscale: await photoJpeg(w, h, w + h, { grayscale: true }),
      };
      for (const [kind, data] of Object.entries(files)) {
        for (const s of [decodeSpec(), decodeSpec({ width: 100, height: 80 }), decodeSpec({ cropToAspectRatio: true }), decodeSpec({ channels: 1, width: 96, height: 96 }), decodeSpec({ channels: 4, width: 64, height: 64 })]) {
          if (s.width > w || s.height > h) continue;
          expect(await fastVsSharp(data, s), `${kind} -> ${s.width}x${s.height}x${s.channels}${s.cropToAspectRatio ? ' crop' : ''}`).toBeLessThanOrEqual(2);
        }
      }
    });
  }

  it('takes most of these cases (declines enlarging and residual shrinks of 4x or more)', () => {
    expect(handled).toBeGreaterThan(2 * declined);
  });

  it('large shrinks: decodes at the DCT scale sharp picks, sizes not multiples of it included', async () => {
    // [width, height, orientation, outputs]: shrinks of 3 to 15, heights and widths that 8 does not divide.
    const cases: [number, number, number, [number, number][]][] = [
      [2400, 2300, 1, [[224, 224], [160, 120]]],
      [1800, 1500, 1, [[160, 120]]],
      [1000, 760, 1, [[224, 224]]],
      [700, 680, 1, [[224, 224]]],
      [2100, 1900, 6, [[224, 224], [160, 120]]],
    ];
    for (const [w, h, orientation, outputs] of cases) {
      const data = await photoJpeg(w, h, w + h, orientation === 1 ? {} : { orientation });
      for (const [width, height] of outputs) {
        for (const cropToAspectRatio of [false, true]) {
          const s = decodeSpec({ width, height, cropToAspectRatio });
          const out = new Uint8Array(width * height * 3);
          const label = `${w}x${h} orientation ${orientation} -> ${width}x${height}${cropToAspectRatio ? ' crop' : ''}`;
          expect(jpegFastPath(s)!(data, out), `${label} taken`).toBe(true);
          expect(meanAbsDiff(out, await sharpDecode(data, s)), label).toBeLessThanOrEqual(2);
        }
      }
    }
  });

  it('EXIF orientations 1-8', async () => {
    for (let orientation = 1; orientation <= 8; orientation++) {
      const data = await photoJpeg(300, 200, 7, { orientation });
      for (const s of [decodeSpec({ width: 120, height: 90 }), decodeSpec({ width: 90, height: 120, cropToAspectRatio: true })]) {
        expect(await fastVsSharp(data, s), `orientation ${orientation}`).toBeLessThanOrEqual(2);
      }
    }
  });

  it('4:2:2, 4:4:0, 4:1:1 and restart markers (cjpeg)', async (ctx) => {
    ctx.skip(!hasCjpeg, NO_CJPEG);
    for (const args of [['-sample', '2x1'], ['-sample', '1x2'], ['-sample', '4x1'], ['-restart', '1'], ['-sample', '2x1', '-restart', '3', '-progressive']]) {
      const data = cjpeg(450, 400, 11, args, path.join(root, 'c.ppm'));
      expect(await fastVsSharp(data, decodeSpec()), args.join(' ')).toBeLessThanOrEqual(2);
      expect(await fastVsSharp(data, decodeSpec({ width: 100, height: 100 })), args.join(' ')).toBeLessThanOrEqual(2);
    }
  });

  it('decodes YCbCr files through their planes within half a level of the RGB path, and within 2 of sharp', async (ctx) => {
    const addon = nativeAddon()!;
    ctx.skip(!addon.decodePlanar(true), 'the TurboJPEG library has no tjDecompressToYUVPlanes: only the RGB path runs');
    const files: [string, Buffer][] = [
      ['4:2:0 odd size', await photoJpeg(451, 399, 31)],
      ['4:4:4', await photoJpeg(333, 517, 32, { subsampling: '4:4:4' })],
      ['4:2:0 progressive', await photoJpeg(420, 380, 33, { progressive: true })],
      // Orientations 2-4 mirror the taps (odd sizes: the chroma grid is not symmetric under the flip).
      ['4:2:0 orientation 2', await photoJpeg(451, 399, 36, { orientation: 2 })],
      ['4:2:0 orientation 3', await photoJpeg(451, 399, 37, { orientation: 3 })],
      ['4:2:0 orientation 4', await photoJpeg(451, 399, 38, { orientation: 4 })],
    ];
    if (hasCjpeg) {
      files.push(['4:2:2 (cjpeg -sample 2x1)', cjpeg(449, 300, 34, ['-sample', '2x1'], path.join(root, 'p422.ppm'))]);
      files.push(['4:4:0 (cjpeg -sample 1x2)', cjpeg(301, 449, 35, ['-sample', '1x2'], path.join(root, 'p440.ppm'))]);
    }
    // Shrinks under 2: no DCT scaling, which the planar path leaves to the RGB path.
    const specs = [decodeSpec(), decodeSpec({ width: 240, height: 200 }), decodeSpec({ width: 200, height: 200, cropToAspectRatio: true })];
    let differing = 0;
    try {
      for (const [kind, data] of files) {
        for (const s of specs) {
          const decode = (planar: boolean) => {
            addon.decodePlanar(planar);
            const out = new Uint8Array(s.width * s.height * 3);
            expect(jpegFastPath(s)!(data, out), kind).toBe(true);
            return out;
          };
          const planar = decode(true);
          const rgb = decode(false);
          const label = `${kind} -> ${s.width}x${s.height}${s.cropToAspectRatio ? ' crop' : ''}`;
          const mad = meanAbsDiff(planar, rgb);
          expect(mad, label).toBeLessThanOrEqual(0.5);
          if (mad > 0) differing++;
          addon.decodePlanar(true);
          expect(meanAbsDiff(planar, await sharpDecode(data, s)), label).toBeLessThanOrEqual(2);
        }
      }
    } finally {
      addon.decodePlanar(true);
    }
    // The same values everywhere would mean the planar path never ran.
    expect(differing).toBe(files.length * specs.length);
    // A DCT-scaled decode (shrink 4 here) takes the RGB path either way: the same values.
    const scaled = decodeSpec({ width: 100, height: 80 });
    const [a, b] = [true, false].map((planar) => {
      addon.decodePlanar(planar);
      const out = new Uint8Array(100 * 80 * 3);
      jpegFastPath(scaled)!(files[0][1], out);
      return out;
    });
    addon.decodePlanar(true);
    expect(meanAbsDiff(a, b)).toBe(0);
  });

  it('converts to float32 and normalizes in the same pass', async () => {
    const data = await photoJpeg(450, 400, 5);
    const s = decodeSpec({ width: 100, height: 80, dtype: 'float32', normalization: { scale: [1 / 255, 2 / 255, 3 / 255], offset: [0, -1, 0.5] } });
    const u8 = new Uint8Array(100 * 80 * 3);
    const f32 = new Float32Array(100 * 80 * 3);
    const raw = new Float32Array(100 * 80 * 3);
    expect(jpegFastPath(decodeSpec({ width: 100, height: 80 }))!(data, u8)).toBe(true);
    expect(jpegFastPath(s)!(data, f32)).toBe(true);
    expect(jpegFastPath(decodeSpec({ width: 100, height: 80, dtype: 'float32' }))!(data, raw)).toBe(true);
    for (let i = 0; i < u8.length; i++) {
      const c = i % 3;
      expect(f32[i]).toBeCloseTo(u8[i] * s.normalization!.scale[c] + s.normalization!.offset[c], 5);
      expect(raw[i]).toBe(u8[i]);
    }
  });

  it('resamples to the same values with each of its vector passes and its portable ones', async (ctx) => {
    const addon = nativeAddon()!;
    const widest = addon.resampleKernels();
    // The CPU's own versions: those from its widest down (each name picks itself only where the CPU has it).
    const vectors = RESAMPLE_KERNELS.slice(RESAMPLE_KERNELS.indexOf(widest), -1);
    ctx.skip(vectors.length === 0, 'no AVX2 on this CPU: only the portable passes exist');
    for (const name of vectors) expect(addon.resampleKernels(name)).toBe(name);
    const files = [await photoJpeg(450, 400, 21), await photoJpeg(333, 517, 22, { subsampling: '4:4:4' }), await photoJpeg(1000, 300, 23, { grayscale: true })];
    const scale = new Float32Array([1 / 58, 1 / 57, 1 / 57, 1]);
    const offset = new Float32Array([-2.1, -2, -1.8, 0]);
    // [width, height, channels, crop, interpolation, region or null]; orientations 2 and 3 mirror the rows, 6 transposes.
    const cases: [number, number, number, number, number, number[] | null][] = [
      [224, 224, 3, 0, 1, null],
      [100, 80, 3, 1, 1, null],
      [150, 150, 3, 0, 0, null],
      [96, 96, 1, 0, 1, null],
      [64, 64, 4, 0, 1, null],
      [224, 224, 3, 0, 1, [7, 5, 161, 149]],
      [120, 90, 3, 0, 1, [0, 0, 120, 90]],
    ];
    let compared = 0;
    try {
      for (const data of files) {
        for (const [w, h, c, crop, interp, region] of cases) {
          for (const orientation of [1, 2, 3, 6]) {
            for (const float of [false, true]) {
              const run = (kernels: ResampleKernels): Uint8Array | Float32Array => {
                addon.resampleKernels(kernels);
                const out = float ? new Float32Array(w * h * c) : new Uint8Array(w * h * c);
                const [left, top, width, height] = region ?? [];
                const params = packDecodeParams({ width: w, height: h, channels: c, orientation, crop, interpolation: interp, region: region === null ? null : { left, top, width, height } });
                const status = addon.decode(data, out, params, float ? scale : null, float ? offset : null);
                return status === 0 ? out : new Uint8Array(0);
              };
              const portable = run('portable');
              for (const name of vectors) {
                const vector = run(name);
                let differing = vector.length === portable.length ? 0 : -1;
                for (let i = 0; differing >= 0 && i < vector.length; i++) if (!Object.is(vector[i], portable[i])) differing++;
                expect(differing, `${name}: ${w}x${h}x${c} crop ${crop} interp ${interp} region ${region} orientation ${orientation} ${float ? 'float32' : 'uint8'}`).toBe(0);
                if (portable.length > 0) compared++;
              }
            }
          }
        }
      }
    } finally {
      addon.resampleKernels(widest);
    }
    expect(compared).toBeGreaterThan(100 * vectors.length);
  });

  it('declines enlarging and a corrupt file (sharp takes them)', async () => {
    const out = new Uint8Array(224 * 224 * 3);
    expect(jpegFastPath(decodeSpec())!(await photoJpeg(100, 300, 1), out)).toBe(false);
    const data = await photoJpeg(450, 400, 3);
    expect(jpegFastPath(decodeSpec())!(data.subarray(0, data.length >> 1), out)).toBe(false);
    const garbled = Buffer.from(data);
    garbled.fill(0x55, 2000, 2600);
    expect(jpegFastPath(decodeSpec())!(garbled, out)).toBe(false);
  });
});

describe('native addon helpers', () => {
  beforeEach((ctx) => ctx.skip(!native, noNativeReason()));
  it('trimMemory hands free pages back where the C library can (glibc), and says so', () => {
    const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
    const glibc = typeof report.header?.glibcVersionRuntime === 'string';
    expect(nativeAddon()?.trimMemory()).toBe(glibc);
  });
});

describeBothPaths('loader decoder option', () => {
  it('rejects an unknown decoder', () => {
    expect(() => new ImageLoader(fromList(['x.jpg']), { decoder: 'libjpeg' as never, labelMode: null })).toThrow(
      /Expected one of 'auto', 'sharp', 'jpeg-turbo' for decoder but received 'libjpeg'/,
    );
  });

  it(`'auto' uses the fast path when it is built, and ${BACKEND_ENV}=sharp turns it off`, () => {
    const list = fromList(['x.jpg']);
    expect(new ImageLoader(list, { labelMode: null }).options.decoder).toBe(native ? 'jpeg-turbo' : 'sharp');
    const before = process.env[BACKEND_ENV];
    process.env[BACKEND_ENV] = 'sharp';
    try {
      expect(new ImageLoader(list, { labelMode: null }).options.decoder).toBe('sharp');
      expect(() => new ImageLoader(list, { labelMode: null, decoder: 'jpeg-turbo' })).toThrow(/unavailable: disabled by/);
    } finally {
      if (before === undefined) delete process.env[BACKEND_ENV];
      else process.env[BACKEND_ENV] = before;
    }
  });

  it('every fallback reaches sharp: same pixels, same skips, same codes as decoder sharp', async (ctx) => {
    ctx.skip(!native, noNativeReason());
    const dir = path.join(root, 'mixed');
    mkdirSync(dir, { recursive: true });
    const truncated = Buffer.from(await photoJpeg(64, 64, 9));
    const bad = { truncated: path.join(dir, 'truncated.jpg'), empty: path.join(dir, 'empty.jpg'), notImage: path.join(dir, 'text.jpg') };
    writeFileSync(bad.truncated, truncated.subarray(0, truncated.length >> 1));
    writeFileSync(bad.empty, Buffer.alloc(0));
    writeFileSync(bad.notImage, 'not an image\n'.repeat(20));
    const files: string[] = [];
    const add = (name: string, data: Buffer) => {
      const file = path.join(dir, name);
      writeFileSync(file, data);
      files.push(file);
    };
    add('baseline.jpg', await photoJpeg(300, 240, 1));
    add('cmyk.jpg', await photoJpeg(300, 240, 2, { cmyk: true }));
    add('small.jpg', await photoJpeg(40, 30, 3));
    add('png.png', await sharp(await photoJpeg(200, 150, 4)).png().toBuffer());
    add('webp.webp', await sharp(await photoJpeg(200, 150, 5)).webp().toBuffer());
    add('oriented.jpg', await photoJpeg(300, 240, 6, { orientation: 8 }));
    if (hasCjpeg) add('arith.jpg', cjpeg(200, 150, 7, ['-arithmetic'], path.join(dir, 'a.ppm')));
    const corrupt = Buffer.from(await photoJpeg(300, 240, 8));
    corrupt.fill(0x55, 1500, 2500);
    add('corrupt.jpg', corrupt);
    files.push(bad.truncated, bad.empty, bad.notImage);
    const opts = { imageSize: [64, 80] as const, labelMode: null, shuffle: false, dtype: 'uint8' as const, batchSize: 4, workers: 2 };
    const fast = new ImageLoader(fromList(files), { ...opts, decoder: 'jpeg-turbo' });
    const slow = new ImageLoader(fromList(files), { ...opts, decoder: 'sharp' });
    const [a, b] = [await collect(fast, { close: true }), await collect(slow, { close: true })];
    expect(a.flatMap((x) => x.paths)).toEqual(b.flatMap((x) => x.paths));
    expect(fast.stats.skipped.map((s) => [s.path, s.code])).toEqual(slow.stats.skipped.map((s) => [s.path, s.code]));
    expect(fast.stats.skipped.find((s) => s.path === bad.truncated)?.code).toBe('ERR_DECODE');
    const fastImages = Buffer.concat(a.map((x) => Buffer.from(x.images)));
    const slowImages = Buffer.concat(b.map((x) => Buffer.from(x.images)));
    const per = 64 * 80 * 3;
    a.flatMap((x) => x.paths).forEach((p, i) => {
      const mad = meanAbsDiff(fastImages.subarray(i * per, (i + 1) * per), slowImages.subarray(i * per, (i + 1) * per));
      // Files the fast path declines come from sharp: identical; the others agree within 2 levels.
      if (/cmyk|small|png|webp|arith/.test(p)) expect(mad, p).toBe(0);
      else expect(mad, p).toBeLessThanOrEqual(2);
    });
  }, 30_000);

  it('augments on the fast path as on sharp: same draws, the crop window resized in one pass', async (ctx) => {
    ctx.skip(!native, noNativeReason());
    const dir = path.join(root, 'augmented');
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const file = path.join(dir, `p${i}.jpg`);
      writeFileSync(file, await photoJpeg(360 + 20 * (i % 4), 300 - 10 * (i % 3), 20 + i, { orientation: 1 + (i % 8) }));
      files.push(file);
    }
    const augment = { randomResizedCrop: { scale: [0.08, 1] as [number, number] }, horizontalFlip: 0.5, colorJitter: { brightness: 0.3, saturation: 0.3 } };
    const opts = { imageSize: [96, 112] as const, labelMode: null, shuffle: false, dtype: 'uint8' as const, batchSize: 6, workers: 2, augment, seed: 5 };
    const fast = new ImageLoader(fromList(files), { ...opts, decoder: 'jpeg-turbo' });
    const slow = new ImageLoader(fromList(files), { ...opts, decoder: 'sharp' });
    const [a, b] = [await collect(fast, { close: true }), await collect(slow, { close: true })];
    const per = 96 * 112 * 3;
    const fastImages = Buffer.concat(a.map((x) => Buffer.from(x.images)));
    const slowImages = Buffer.concat(b.map((x) => Buffer.from(x.images)));
    expect(fastImages.length).toBe(files.length * per);
    const mads: number[] = [];
    for (let i = 0; i < files.length; i++) {
      // Crops smaller than the output are enlarged: the fast path's triangle filter and libvips' bilinear
      // interpolator differ by a level or two there, never by a different crop or flip.
      const mad = meanAbsDiff(fastImages.subarray(i * per, (i + 1) * per), slowImages.subarray(i * per, (i + 1) * per));
      expect(mad, files[i]).toBeLessThanOrEqual(3);
      mads.push(mad);
    }
    // Pixels identical to sharp's everywhere would mean the fast path declined every file.
    expect(mads.filter((m) => m > 0).length).toBe(files.length);
  }, 30_000);
});
