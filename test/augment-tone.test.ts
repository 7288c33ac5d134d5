import { describe, expect, it } from 'vitest';
import { resolveAugment } from '../src/index.js';
import { nativeAddon } from '../src/native/addon.js';
import { writeAugmented, type AugmentDraw, type PixelEngine } from '../workers/augment.js';
import { identityDraw, rawSpec } from './fixtures/augment.js';

// The tone ops as torchvision's functional transforms define them on the 0..255 scale, written out here
// independently of the passes: every step clipped to [0, 255]; contrast blends with the mean of
// rgb_to_grayscale (0.299 R + 0.587 G + 0.114 B; the channel itself for one channel) of the image after the
// shift and the brightness.
const clip = (v: number) => Math.min(255, Math.max(0, v));

const W = 12;
const H = 8;
const SHIFT = 17;
const BRIGHTNESS = 1.3;
const CONTRAST = 0.6;
const FILL = 40;
const ERASE_VALUE = 77;
const erase = { left: 5, top: 2, width: 3, height: 4 };

function randomImage(channels: number): Uint8Array {
  const img = new Uint8Array(W * H * channels);
  for (let i = 0; i < img.length; i++) img[i] = (i * 2654435761 + 12345) >>> 24;
  if (channels === 4) for (let i = 3; i < img.length; i += 4) img[i] = 100 + (i % 50);
  return img;
}

/** What the pass must write at (x, y), channel c: the image shifted right by 2 (constant fill), toned, erased. */
function expected(src: Uint8Array, channels: number): Float64Array {
  const bright = (v: number) => clip(clip(v + SHIFT) * BRIGHTNESS);
  let sum = 0;
  for (let p = 0; p < W * H; p++) {
    const i = p * channels;
    sum += channels === 1 ? bright(src[i]) : 0.299 * bright(src[i]) + 0.587 * bright(src[i + 1]) + 0.114 * bright(src[i + 2]);
  }
  const mean = sum / (W * H);
  const tone = (v: number) => clip(CONTRAST * bright(v) + (1 - CONTRAST) * mean);
  const out = new Float64Array(W * H * channels);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const erased = x >= erase.left && x < erase.left + erase.width && y >= erase.top && y < erase.top + erase.height;
      for (let c = 0; c < channels; c++) {
        const alpha = c === 3;
        let v: number;
        if (erased) v = alpha ? 255 : ERASE_VALUE;
        else if (x < 2) v = alpha ? 0 : tone(FILL);
        else v = alpha ? src[(y * W + x - 2) * channels + c] : tone(src[(y * W + x - 2) * channels + c]);
        out[(y * W + x) * channels + c] = v;
      }
    }
  }
  return out;
}

const colour = { channelShift: SHIFT, brightness: BRIGHTNESS, contrast: CONTRAST, erase };
const passes: [string, number, Partial<AugmentDraw>, PixelEngine][] = [
  // One stage pixel per output pixel: the crop window reads 2 columns left of the image.
  ['RGB without warp (JavaScript)', 3, { window: { left: -2, top: 0 } }, 'js'],
  ['RGB without warp (native when built)', 3, { window: { left: -2, top: 0 } }, 'auto'],
  // Interpolating: a translation by 2 of the 12 columns.
  ['RGB with a warp', 3, { translateX: 2 / W }, 'js'],
  ['RGBA without warp', 4, { window: { left: -2, top: 0 } }, 'js'],
  ['RGBA with a warp', 4, { translateX: 2 / W }, 'js'],
  ['grayscale without warp', 1, { window: { left: -2, top: 0 } }, 'js'],
  ['grayscale with a warp', 1, { translateX: 2 / W }, 'js'],
];

describe('the tone ops follow the reference rules in every pixel pass', () => {
  const aug = resolveAugment({ fillMode: 'constant', fillValue: FILL, randomErasing: { value: ERASE_VALUE } }, [H, W]);
  if (aug === null) throw new Error('expected an augmentation');
  for (const [name, channels, geometry, engine] of passes) {
    it.runIf(engine === 'js' || nativeAddon() !== null)(name, () => {
      const src = randomImage(channels);
      const out = new Float32Array(W * H * channels);
      writeAugmented(out, src, W, H, identityDraw({ ...colour, ...geometry }), aug, rawSpec(W, H, channels as 1 | 3 | 4, 'float32'), engine);
      const want = expected(src, channels);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(out[i] - want[i]));
      // float32 output (and the 8-bit pass' float32 tone table): a few 1e-5 on the 0..255 scale.
      expect(worst).toBeLessThan(1e-3);
      // The rule is not the identity: most values moved by more than one step.
      let moved = 0;
      for (let p = 0; p < W * H; p++) if (Math.abs(want[p * channels] - src[p * channels]) > 1) moved++;
      expect(moved).toBeGreaterThan((W * H) / 2);
    });
  }
});
