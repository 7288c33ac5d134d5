import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImageLoader,
  TYPICAL_AUGMENT,
  fromList,
  imageDatasetFromDirectory,
  previewAugmentation,
  resolveAugment,
  type AugmentOptions,
  type Batch,
} from '../src/index.js';
import type { AugmentSpec } from '../src/augment-options.js';
import { applySharpStage, drawAugmentation, resolveCrop, writeAugmented, type AugmentDraw } from '../workers/augment.js';
import { writeConverted } from '../workers/convert.js';
import { nativeAddon } from '../src/native/addon.js';
import { gradientRaw, identityDraw, rawSpec } from './fixtures/augment.js';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';
import { noNativeReason } from './fixtures/jpegs.js';
import { describeBothPaths } from './fixtures/pipeline.js';

const W = 12;
const H = 8;

function spec(options: AugmentOptions = {}, size: readonly [number, number] = [H, W]): AugmentSpec {
  const s = resolveAugment(options, size);
  if (s === null) throw new Error('expected an augmentation');
  return s;
}

/** Runs the pixel pass on `src` (W x H unless given) and returns the uint8 output. */
function apply(
  draw: AugmentDraw,
  options: AugmentOptions = {},
  src = gradientRaw(W, H),
  srcSize: [number, number] = [W, H],
  channels: 1 | 3 | 4 = 3,
): Uint8Array {
  const out = new Uint8Array(W * H * channels);
  writeAugmented(out, src, srcSize[0], srcSize[1], draw, spec(options), rawSpec(W, H, channels));
  return out;
}

function pixel(img: Uint8Array, x: number, y: number, width = W, channels = 3): number[] {
  const i = (y * width + x) * channels;
  return Array.from(img.subarray(i, i + channels));
}

describeBothPaths('augment options fail at construction, naming the field', () => {
  const index = fromList(['a.jpg']);
  const cases: [string, AugmentOptions, RegExp][] = [
    ['negative rotation', { rotation: -5 }, /^Expected a number of degrees between 0 and 180 for augment.rotation but received -5 of type number$/],
    ['flip probability above 1', { horizontalFlip: 1.5 }, /^Expected a probability between 0 and 1 for augment.horizontalFlip but received 1.5/],
    ['grayscale probability below 0', { grayscale: -0.1 }, /probability between 0 and 1 for augment.grayscale/],
    ['negative brightness', { colorJitter: { brightness: -0.2 } }, /non-negative number or \[min, max\] for augment.colorJitter.brightness but received -0.2/],
    ['reversed range', { randomResizedCrop: { scale: [0.9, 0.1] } }, /\[min, max\] with min <= max.* for augment.randomResizedCrop.scale but received \[0.9,0.1\]/],
    ['scale above 1', { randomResizedCrop: { scale: [0.5, 1.5] } }, /for augment.randomResizedCrop.scale/],
    ['hue above one half', { colorJitter: { hue: 0.7 } }, /between 0 and 0.5 for augment.colorJitter.hue/],
    ['unknown fill mode', { fillMode: 'mirror' as never }, /'constant', 'nearest', 'reflect', 'wrap' for augment.fillMode but received 'mirror'/],
    ['crop larger than the image without padding', { randomCrop: { size: [100, 100] } }, /crop is larger than the image.* for augment.randomCrop.size but received \[100,100\]/],
    ['negative padding', { randomCrop: { padding: -2 } }, /integer between 0 and 4096 for augment.randomCrop.padding/],
    ['unknown op', { rotate: 10 } as never, /only known fields .* for augment but received 'rotate'/],
    ['erasing value out of range', { randomErasing: { value: 300 } }, /between 0 and 255 for augment.randomErasing.value/],
    ['zoom of 1 or more', { zoom: 1 }, /between 0 and 0.99 for augment.zoom/],
  ];
  for (const [name, augment, message] of cases) {
    it(name, () => {
      let error: (Error & { code?: string }) | null = null;
      try {
        new ImageLoader(index, { imageSize: [224, 224], labelMode: null, augment });
      } catch (err) {
        error = err as Error & { code?: string };
      }
      expect(error?.code).toBe('ERR_OPTION');
      expect(error?.message).toMatch(message);
    });
  }

  it('accepts padding that makes the crop fit, and resolves shorthands', () => {
    expect(() => new ImageLoader(index, { imageSize: [32, 32], labelMode: null, augment: { randomCrop: { size: [24, 24], padding: 4 } } })).not.toThrow();
    const s = spec({ horizontalFlip: true, zoom: 0.2, translate: 0.1, colorJitter: { brightness: 0.4, hue: 0.1 }, randomResizedCrop: true });
    expect(s.horizontalFlip).toBe(0.5);
    expect(s.zoom).toEqual([0.8, 1.2]);
    expect(s.translate).toEqual([0.1, 0.1]);
    expect(s.brightness).toEqual([0.6, 1.4]);
    expect(s.hue).toEqual([-0.1, 0.1]);
    expect(s.resizedCrop?.scale).toEqual([0.08, 1]);
    expect(Object.isFrozen(s)).toBe(true);
    expect(resolveAugment(null, [8, 8])).toBeNull();
  });
});

describeBothPaths('drawAugmentation', () => {
  const typical = spec(TYPICAL_AUGMENT as AugmentOptions, [224, 224]);
  const out = { height: 224, width: 224 };

  it('is a pure function of (seed, epoch, entry), new for each epoch and entry', () => {
    const a = drawAugmentation(typical, out, 7, 0, 42);
    expect(drawAugmentation(typical, out, 7, 0, 42)).toEqual(a);
    expect(drawAugmentation(typical, out, 7, 1, 42)).not.toEqual(a);
    expect(drawAugmentation(typical, out, 7, 0, 43)).not.toEqual(a);
    expect(drawAugmentation(typical, out, 8, 0, 42)).not.toEqual(a);
  });

  it('flips with the asked probability: about half of 1,000 samples at 0.5', () => {
    const flips = Array.from({ length: 1000 }, (_, i) => drawAugmentation(typical, out, 3, 0, i).flipH).filter(Boolean).length;
    // Binomial(1000, 0.5): sd 15.8, so 440..560 is beyond 3.7 sd.
    expect(flips).toBeGreaterThan(440);
    expect(flips).toBeLessThan(560);
    const never = spec({ horizontalFlip: 0, verticalFlip: 1 });
    const draws = Array.from({ length: 100 }, (_, i) => drawAugmentation(never, out, 3, 0, i));
    expect(draws.every((d) => !d.flipH && d.flipV)).toBe(true);
  });

  it('keeps the draws of one op when another is turned on', () => {
    const flipOnly = spec({ horizontalFlip: 0.5 });
    const flipAndColor = spec({ horizontalFlip: 0.5, colorJitter: { brightness: 0.5 } });
    for (let i = 0; i < 50; i++) {
      expect(drawAugmentation(flipAndColor, out, 1, 2, i).flipH).toBe(drawAugmentation(flipOnly, out, 1, 2, i).flipH);
    }
  });

  it('draws colour factors within their ranges', () => {
    for (let i = 0; i < 200; i++) {
      const d = drawAugmentation(typical, out, 5, 1, i);
      for (const f of [d.brightness, d.contrast, d.saturation]) {
        expect(f).toBeGreaterThanOrEqual(0.6);
        expect(f).toBeLessThanOrEqual(1.4);
      }
      expect(Math.abs(d.hue)).toBeLessThanOrEqual(0.1);
    }
  });

  it('random resized crops stay within the source, near the asked area and ratio', () => {
    const s = spec({ randomResizedCrop: { scale: [0.2, 0.6], ratio: [0.5, 2] } });
    for (const [w, h] of [[450, 400], [100, 300], [37, 19]]) {
      for (let i = 0; i < 200; i++) {
        const r = resolveCrop(drawAugmentation(s, out, 9, 0, i), s, w, h);
        expect(r).not.toBeNull();
        const { left, top, width, height } = r!;
        expect(left).toBeGreaterThanOrEqual(0);
        expect(top).toBeGreaterThanOrEqual(0);
        expect(width).toBeGreaterThan(0);
        expect(height).toBeGreaterThan(0);
        expect(left + width).toBeLessThanOrEqual(w);
        expect(top + height).toBeLessThanOrEqual(h);
        if (w === 450) {
          expect((width * height) / (w * h)).toBeGreaterThan(0.19);
          expect((width * height) / (w * h)).toBeLessThan(0.61);
          expect(width / height).toBeGreaterThan(0.48);
          expect(width / height).toBeLessThan(2.05);
        }
      }
    }
  });

  it('random crop windows stay within the padded image', () => {
    const s = spec({ randomCrop: { size: [10, 14], padding: 2 } }, [H, W]);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const { left, top } = drawAugmentation(s, { height: H, width: W }, 1, 0, i).window;
      expect(left).toBeGreaterThanOrEqual(-2);
      expect(left + W).toBeLessThanOrEqual(14 + 2);
      expect(top).toBeGreaterThanOrEqual(-2);
      expect(top + H).toBeLessThanOrEqual(10 + 2);
      seen.add(`${left},${top}`);
    }
    // Every one of the 7 x 7 places is drawn.
    expect(seen.size).toBe(49);
  });

  it('erases rectangles inside the image', () => {
    const s = spec({ randomErasing: { probability: 1 } }, [32, 32]);
    for (let i = 0; i < 100; i++) {
      const e = drawAugmentation(s, { height: 32, width: 32 }, 1, 0, i).erase;
      if (e === null) continue;
      expect(e.left + e.width).toBeLessThanOrEqual(32);
      expect(e.top + e.height).toBeLessThanOrEqual(32);
    }
  });
});

describeBothPaths('the pixel pass', () => {
  it('with identity draws equals the plain conversion, uint8 and normalized float32', () => {
    const src = gradientRaw(W, H);
    expect(apply(identityDraw())).toEqual(src);
    const floatSpec = { ...rawSpec(W, H, 3, 'float32'), normalization: { scale: [2 / 255, 2 / 255, 2 / 255], offset: [-1, -1, -1] } };
    const plain = new Float32Array(W * H * 3);
    const augmented = new Float32Array(W * H * 3);
    writeConverted(plain, src, floatSpec);
    writeAugmented(augmented, src, W, H, identityDraw(), spec(), floatSpec);
    expect(augmented).toEqual(plain);
    for (const channels of [1, 4] as const) {
      const img = gradientRaw(W, H, channels);
      expect(apply(identityDraw(), {}, img, [W, H], channels)).toEqual(img);
    }
  });

  it('a horizontal flip reverses a left/right gradient, a vertical flip a top/bottom one', () => {
    const h = apply(identityDraw({ flipH: true }));
    const v = apply(identityDraw({ flipV: true }));
    const src = gradientRaw(W, H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        expect(pixel(h, x, y)).toEqual(pixel(src, W - 1 - x, y));
        expect(pixel(v, x, y)).toEqual(pixel(src, x, H - 1 - y));
      }
    }
    const row = Array.from({ length: W }, (_, x) => pixel(h, x, 0)[0]);
    expect(row).toEqual([...row].sort((a, b) => b - a));
  });

  it('rotation by (almost) 0 through the interpolating path is the identity', () => {
    expect(apply(identityDraw({ rotation: 1e-9 }))).toEqual(gradientRaw(W, H));
    expect(apply(identityDraw({ shear: 1e-9, zoom: 1 + 1e-12 }))).toEqual(gradientRaw(W, H));
  });

  it('rotates counter-clockwise: 90 degrees turns a square image exactly', () => {
    const n = 8;
    const src = gradientRaw(n, n);
    const out = new Uint8Array(n * n * 3);
    writeAugmented(out, src, n, n, identityDraw({ rotation: 90 }), spec({}, [n, n]), rawSpec(n, n));
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) expect(pixel(out, x, y, n)).toEqual(pixel(src, n - 1 - y, x, n));
  });

  it('the RGB fast paths agree with the general one (rgba)', () => {
    const rgb = gradientRaw(W, H, 3);
    const rgba = gradientRaw(W, H, 4);
    const draws = [
      identityDraw({ rotation: 30, zoom: 0.8, translateX: 0.1, flipH: true, brightness: 1.2, contrast: 0.7, saturation: 0.5, hue: 0.1 }),
      identityDraw({ window: { left: -2, top: 1 }, flipV: true, channelShift: 20, grayscale: true }),
    ];
    for (const fillMode of ['constant', 'reflect'] as const) {
      for (const draw of draws) {
        const fast = apply(draw, { fillMode, fillValue: 50 }, rgb);
        const general = apply(draw, { fillMode, fillValue: 50 }, rgba, [W, H], 4);
        for (let p = 0; p < W * H; p++) expect(Array.from(fast.subarray(p * 3, p * 3 + 3))).toEqual(Array.from(general.subarray(p * 4, p * 4 + 3)));
      }
    }
  });

  it('the native RGB pass writes exactly what the JavaScript one does', (ctx) => {
    ctx.skip(nativeAddon() === null, noNativeReason());
    // A photo-like stage image larger than the output, so crop windows, flips and padding all land inside and outside.
    const sw = 37;
    const sh = 29;
    const src = new Uint8Array(sw * sh * 3);
    for (let i = 0; i < src.length; i++) src[i] = (i * 2654435761) >>> 24;
    const size: [number, number] = [23, 31];
    const options: AugmentOptions = {
      randomCrop: { size: [sh, sw], padding: 6 },
      horizontalFlip: 0.5,
      verticalFlip: 0.5,
      colorJitter: { brightness: 0.5, contrast: 0.5, saturation: 0.5, hue: 0.2 },
      channelShift: 30,
      grayscale: 0.2,
      randomErasing: { probability: 0.5, value: 77 },
    };
    const normalization = { scale: [1 / 58.4, 1 / 57.1, 1 / 57.4], offset: [-2.12, -2.04, -1.8] };
    let compared = 0;
    for (const fillMode of ['constant', 'nearest', 'reflect', 'wrap'] as const) {
      const aug = spec({ ...options, fillMode, fillValue: 90 }, size);
      for (let entry = 0; entry < 40; entry++) {
        const draw = drawAugmentation(aug, { height: size[0], width: size[1] }, 7, 1, entry);
        for (const dtype of ['uint8', 'float32'] as const) {
          const outSpec = { ...rawSpec(size[1], size[0], 3, dtype), normalization: dtype === 'float32' ? normalization : null };
          const make = () => (dtype === 'uint8' ? new Uint8Array(size[0] * size[1] * 3) : new Float32Array(size[0] * size[1] * 3));
          const native = make();
          const js = make();
          writeAugmented(native, src, sw, sh, draw, aug, outSpec, 'auto');
          writeAugmented(js, src, sw, sh, draw, aug, outSpec, 'js');
          expect(native).toEqual(js);
          compared++;
        }
      }
    }
    expect(compared).toBe(320);
  });

  it('translation by whole pixels shifts, filling as fillMode says', () => {
    // Shift right by 3 pixels (a quarter of the width).
    const shifted = (fillMode: AugmentOptions['fillMode']) => apply(identityDraw({ translateX: 3 / W }), { fillMode, fillValue: 9 });
    const src = gradientRaw(W, H);
    const expectLeft = (img: Uint8Array, columns: number[]) => {
      for (let x = 0; x < 3; x++) expect(pixel(img, x, 2)).toEqual(columns[x] < 0 ? [9, 9, 9] : pixel(src, columns[x], 2));
    };
    for (const mode of ['constant', 'nearest', 'reflect', 'wrap'] as const) {
      const img = shifted(mode);
      for (let x = 3; x < W; x++) expect(pixel(img, x, 2)).toEqual(pixel(src, x - 3, 2));
      expectLeft(img, { constant: [-1, -1, -1], nearest: [0, 0, 0], reflect: [2, 1, 0], wrap: [9, 10, 11] }[mode]);
    }
  });

  it('a crop window reads the stage image at its offset, with padding filled', () => {
    const stage = gradientRaw(16, 10);
    const img = apply(identityDraw({ window: { left: -2, top: 1 } }), { fillMode: 'constant', fillValue: 0 }, stage, [16, 10]);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        expect(pixel(img, x, y)).toEqual(x < 2 ? [0, 0, 0] : pixel(stage, x - 2, y + 1, 16));
      }
    }
  });

  it('brightness 1 is the identity; brightness scales, contrast 0 gives the mean, saturation 0 and grayscale give gray', () => {
    const src = gradientRaw(W, H);
    expect(apply(identityDraw({ brightness: 1, contrast: 1, saturation: 1, hue: 0 }))).toEqual(src);
    const half = apply(identityDraw({ brightness: 0.5 }));
    for (let i = 0; i < src.length; i++) expect(half[i]).toBe(Math.round(src[i] * 0.5));
    const flat = apply(identityDraw({ contrast: 0 }));
    expect(new Set(flat).size).toBe(1);
    let sum = 0;
    for (let i = 0; i < src.length; i += 3) sum += 0.299 * src[i] + 0.587 * src[i + 1] + 0.114 * src[i + 2];
    expect(flat[0]).toBe(Math.round(sum / (W * H)));
    for (const draw of [identityDraw({ saturation: 0 }), identityDraw({ grayscale: true })]) {
      const gray = apply(draw);
      for (let i = 0; i < gray.length; i += 3) {
        expect(Math.abs(gray[i] - gray[i + 1])).toBeLessThanOrEqual(1);
        expect(Math.abs(gray[i] - gray[i + 2])).toBeLessThanOrEqual(1);
      }
    }
  });

  it('a channel shift adds one offset to every channel, clipped', () => {
    const src = gradientRaw(W, H);
    for (const shift of [-40, 25]) {
      const out = apply(identityDraw({ channelShift: shift }));
      for (let i = 0; i < src.length; i++) expect(out[i]).toBe(Math.min(255, Math.max(0, src[i] + shift)));
    }
    const s = spec({ channelShift: 30 });
    const shifts = Array.from({ length: 200 }, (_, i) => drawAugmentation(s, { height: H, width: W }, 1, 0, i).channelShift);
    expect(Math.min(...shifts)).toBeGreaterThanOrEqual(-30);
    expect(Math.max(...shifts)).toBeLessThanOrEqual(30);
    expect(Math.min(...shifts)).toBeLessThan(-20);
  });

  it('a hue shift leaves gray pixels gray and changes colours', () => {
    const src = new Uint8Array(W * H * 3);
    for (let i = 0; i < src.length; i += 3) src.set(i < src.length / 2 ? [100, 100, 100] : [200, 40, 40], i);
    const out = apply(identityDraw({ hue: 0.25 }), {}, src);
    expect(pixel(out, 0, 0).every((v) => Math.abs(v - 100) <= 1)).toBe(true);
    expect(pixel(out, 0, H - 1)).not.toEqual([200, 40, 40]);
  });

  it('erasing sets the rectangle to the value and leaves the rest', () => {
    const src = gradientRaw(W, H);
    const erase = { left: 2, top: 1, width: 4, height: 3 };
    const out = apply(identityDraw({ erase }), { randomErasing: { value: 77 } });
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inside = x >= 2 && x < 6 && y >= 1 && y < 4;
        expect(pixel(out, x, y)).toEqual(inside ? [77, 77, 77] : pixel(src, x, y));
      }
    }
  });
});

describeBothPaths('the decode stage', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('imgstream-augment-');
  });
  afterAll(() => removeDir(root));

  it('crops the EXIF-oriented source, as the user sees the image', async () => {
    const file = path.join(root, 'oriented.jpg');
    mkdirSync(root, { recursive: true });
    // Smooth ramps (red left to right, green top to bottom), so that a wrong orientation shows in every pixel.
    const smooth = Buffer.alloc(60 * 40 * 3);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 60; x++) smooth.set([x * 4, y * 6, 128], (y * 60 + x) * 3);
    await sharp(smooth, { raw: { width: 60, height: 40, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(file);
    const oriented = await sharp(file).autoOrient().raw().toBuffer();
    const resize = { fit: 'fill', kernel: 'linear' } as const;
    const upsideDown = await sharp(oriented, { raw: { width: 40, height: 60, channels: 3 } }).rotate(180).raw().toBuffer();
    // A crop under twice the output size is extracted before the resize: the same pixels as cropping first.
    // A larger one is taken after a resize of the whole image (for shrink-on-load), its place rounded to the
    // output grid: close to them, and far from the same crop of the image turned around.
    for (const [size, tolerance] of [[16, 0], [6, 6]] as const) {
      const aug = spec({ randomResizedCrop: { scale: [0.25, 0.25], ratio: [1, 1] } }, [size, size]);
      const draw = drawAugmentation(aug, { height: size, width: size }, 1, 0, 0);
      // Oriented, the image is 40 wide and 60 high.
      const region = resolveCrop(draw, aug, 40, 60)!;
      expect(region.width).toBe(24);
      const image = sharp(file).autoOrient();
      await applySharpStage(image, draw, aug, rawSpec(size, size), resize);
      const got = await image.raw().toBuffer({ resolveWithObject: true });
      const expected = await sharp(oriented, { raw: { width: 40, height: 60, channels: 3 } }).extract(region).resize(size, size, resize).raw().toBuffer();
      expect([got.info.width, got.info.height]).toEqual([size, size]);
      const wrong = await sharp(upsideDown, { raw: { width: 40, height: 60, channels: 3 } }).extract(region).resize(size, size, resize).raw().toBuffer();
      const meanDiff = (a: Buffer, b: Buffer) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]), 0) / a.length;
      expect(meanDiff(got.data, expected)).toBeLessThanOrEqual(tolerance);
      expect(meanDiff(got.data, wrong)).toBeGreaterThan(20);
    }
  });
});

describeBothPaths('augmenting loader', () => {
  let root: string;
  let files: string[];
  beforeAll(async () => {
    root = tempDir('imgstream-augment-');
    ({ files } = await makeClassFolders(path.join(root, 'data'), { a: 10, b: 8 }));
  });
  afterAll(() => removeDir(root));

  async function pixels(loader: ImageLoader, epochs: number): Promise<Map<string, number[]>[]> {
    const out: Map<string, number[]>[] = [];
    for (let e = 0; e < epochs; e++) {
      const byPath = new Map<string, number[]>();
      for await (const b of loader as AsyncIterable<Batch>) {
        const per = b.images.length / b.shape[0];
        b.paths.forEach((p, i) => byPath.set(p, Array.from(b.images.subarray(i * per, (i + 1) * per))));
        expect(b.shape.slice(1)).toEqual([16, 16, 3]);
      }
      out.push(byPath);
    }
    await loader.close();
    return out;
  }

  const recipe: AugmentOptions = { ...TYPICAL_AUGMENT, rotation: 20, gaussianBlur: true, randomErasing: true };
  const options = { imageSize: [16, 16] as const, batchSize: 5, seed: 11, dtype: 'uint8' as const, labelMode: null };

  it('gives the same pixels for 1 and 2 workers, and new ones each epoch', async () => {
    const one = await pixels(new ImageLoader(fromList(files), { ...options, workers: 1, augment: recipe }), 2);
    const two = await pixels(new ImageLoader(fromList(files), { ...options, workers: 2, augment: recipe }), 2);
    expect(two).toEqual(one);
    for (const f of files) expect(one[1].get(f)).not.toEqual(one[0].get(f));
    const plain = await pixels(new ImageLoader(fromList(files), { ...options, workers: 2 }), 1);
    expect(files.filter((f) => JSON.stringify(plain[0].get(f)) !== JSON.stringify(one[0].get(f))).length).toBeGreaterThan(files.length / 2);
  });

  it('random crops from a larger stage image, in every colour mode, within the value range', async () => {
    for (const colorMode of ['grayscale', 'rgba'] as const) {
      const loader = new ImageLoader(fromList(files.slice(0, 6)), {
        imageSize: [12, 10],
        colorMode,
        labelMode: null,
        batchSize: 6,
        workers: 1,
        normalize: 'unit',
        augment: { randomCrop: { size: [16, 14], padding: 2 }, rotation: 10, colorJitter: { brightness: 0.5, contrast: 0.5 }, fillMode: 'constant' },
      });
      for await (const b of loader) {
        expect(b.shape).toEqual([6, 12, 10, colorMode === 'rgba' ? 4 : 1]);
        expect(b.images).toBeInstanceOf(Float32Array);
        expect(Math.min(...b.images)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...b.images)).toBeLessThanOrEqual(1);
      }
      expect(loader.stats.skipped).toEqual([]);
      await loader.close();
    }
  });

  it('augments the training subset only, unless the validation subset asks', async () => {
    const dir = path.join(root, 'data');
    const split = { ...options, validationSplit: 0.3, workers: 1 };
    const [train, val] = await imageDatasetFromDirectory(dir, { ...split, subset: 'both', augment: recipe });
    const plainVal = await imageDatasetFromDirectory(dir, { ...split, subset: 'validation' });
    const [v, pv] = await Promise.all([val, plainVal].map(async (l) => (await pixels(l, 1))[0]));
    expect(v).toEqual(pv);
    expect(train.options.augment).toEqual(resolveAugment(recipe, [16, 16]));
    expect(val.options.augment).toBeNull();
    await train.close();
    const asked = await imageDatasetFromDirectory(dir, { ...split, subset: 'validation', validationAugment: { horizontalFlip: 1 } });
    expect(asked.options.augment?.horizontalFlip).toBe(1);
    await asked.close();
  });
});

describeBothPaths('previewAugmentation', () => {
  let root: string;
  beforeAll(async () => {
    root = tempDir('imgstream-preview-');
    await makeClassFolders(path.join(root, 'data'), { a: 4, b: 4 });
  });
  afterAll(() => removeDir(root));

  it('writes a PNG grid of original and augmented samples with the expected size', async () => {
    const out = path.join(root, 'grid.png');
    const result = await previewAugmentation(path.join(root, 'data'), TYPICAL_AUGMENT, { out, samples: 3, variants: 2, imageSize: [20, 24] });
    const meta = await sharp(out).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([result.width, result.height]);
    // 3 columns of 24 px, gaps of 4 (a double one after the original), 3 rows of 20 px.
    expect(result.width).toBe(3 * 24 + 6 * 4);
    expect(result.height).toBe(3 * 20 + 4 * 4);
    expect(result.paths).toHaveLength(3);
  });

  it('refuses bad augment options with the option error', async () => {
    await expect(previewAugmentation(path.join(root, 'data'), { rotation: 500 }, { out: path.join(root, 'x.png') })).rejects.toMatchObject({
      code: 'ERR_OPTION',
    });
  });
});
