/**
 * Where a sharp call's time goes on one JPEG to 224x224: each step of imgstream's worker pipeline timed
 * alone, one call at a time (`sharp.concurrency(1)`, files already in memory), per image. The thread
 * hand-off is an empty operation on a 1x1 image.
 */
import { promises as fsp } from 'node:fs';
import sharp from 'sharp';
import { fromDirectory } from '../../src/index.js';
import { peakRss, runScenario } from './common.js';

type Step = (data: Buffer) => Promise<unknown>;

await runScenario(async (config) => {
  sharp.concurrency(1);
  sharp.cache(false);
  const [height, width] = config.imageSize;
  const wanted = Number(config.options.files ?? 40);
  const passes = Number(config.options.passes ?? 3);
  const started = performance.now();
  const index = await fromDirectory(config.dir);
  const files: string[] = [];
  for (let i = 0; i < index.size && files.length < wanted; i++) if (/\.jpe?g$/i.test(index.path(i))) files.push(index.path(i));
  const buffers = await Promise.all(files.map((f) => fsp.readFile(f)));
  let pixels = 0;
  for (const b of buffers) {
    const m = await sharp(b).metadata();
    pixels += (m.width ?? 0) * (m.height ?? 0);
  }
  const tiny = Buffer.alloc(3);
  const fill = { fit: 'fill' as const };
  const byBuffer = new Map<Buffer, string>(buffers.map((b, i) => [b, files[i]]));
  const decoded = new Map<Buffer, { data: Buffer; raw: { width: number; height: number; channels: 3 } }>();
  for (const b of buffers) {
    const { data, info } = await sharp(b).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    decoded.set(b, { data, raw: { width: info.width, height: info.height, channels: 3 } });
  }
  const fromRaw = (b: Buffer) => {
    const d = decoded.get(b) as { data: Buffer; raw: { width: number; height: number; channels: 3 } };
    return sharp(d.data, { raw: d.raw });
  };
  const half = async (b: Buffer) => {
    const d = decoded.get(b) as { raw: { width: number; height: number } };
    return sharp(b).resize(Math.floor(d.raw.width / 2), Math.floor(d.raw.height / 2), fill).raw().toBuffer();
  };
  const steps: [string, Step][] = [
    ['thread hand-off (empty op on 1x1)', () => sharp(tiny, { raw: { width: 1, height: 1, channels: 3 } }).raw().toBuffer()],
    ['header only (metadata)', (b) => sharp(b).metadata()],
    ['full-size decoded pixels in and out (no decode)', (b) => fromRaw(b).raw().toBuffer()],
    ['resize of decoded pixels (no decode)', (b) => fromRaw(b).resize(width, height, fill).raw().toBuffer()],
    ['full-size decode to raw', (b) => sharp(b).raw().toBuffer()],
    ['decode + resize to exactly 1/2 size', half],
    ['decode + resize (shrink-on-load off)', (b) => sharp(b).resize(width, height, { ...fill, fastShrinkOnLoad: false }).raw().toBuffer()],
    ['decode + resize (bare call)', (b) => sharp(b).resize(width, height, fill).raw().toBuffer()],
    ['  + sequentialRead', (b) => sharp(b, { sequentialRead: true }).resize(width, height, fill).raw().toBuffer()],
    ["  + failOn 'warning'", (b) => sharp(b, { failOn: 'warning' }).resize(width, height, fill).raw().toBuffer()],
    ['  + autoOrient', (b) => sharp(b).autoOrient().resize(width, height, fill).raw().toBuffer()],
    ['  + flatten + sRGB', (b) => sharp(b).resize(width, height, fill).flatten({ background: '#000000' }).toColourspace('srgb').raw().toBuffer()],
    [
      "imgstream's worker pipeline",
      (b) =>
        sharp(b, { failOn: 'warning', limitInputPixels: 89_478_485, sequentialRead: true })
          .autoOrient()
          .resize(width, height, { ...fill, position: 'centre', kernel: 'linear' })
          .flatten({ background: '#000000' })
          .toColourspace('srgb')
          .raw({ depth: 'uchar' })
          .toBuffer(),
    ],
    ['bare call from the path (file read included)', (b) => sharp(byBuffer.get(b) as string).resize(width, height, fill).raw().toBuffer()],
  ];
  for (const [, step] of steps) for (const b of buffers.slice(0, 3)) await step(b);
  // Passes interleave the steps, so that a slow moment of a busy machine is shared among them.
  const perPass: number[][] = steps.map(() => []);
  for (let p = 0; p < passes; p++) {
    for (let s = 0; s < steps.length; s++) {
      const t = performance.now();
      for (const b of buffers) await steps[s][1](b);
      perPass[s].push((performance.now() - t) / buffers.length);
    }
  }
  const results = steps.map(([step], s) => {
    const sorted = [...perPass[s]].sort((a, b) => a - b);
    return { step, msPerImage: sorted[Math.floor(sorted.length / 2)] };
  });
  const wallMs = performance.now() - started;
  return {
    images: buffers.length,
    batches: 0,
    wallMs,
    timeToFirstBatchMs: 0,
    stallMs: 0,
    peakMemoryBytes: peakRss(),
    extra: { steps: results, files: buffers.length, meanPixels: Math.round(pixels / Math.max(1, buffers.length)) },
  };
});
