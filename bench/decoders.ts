/**
 * Decoder micro-benchmark: CPU ms per image of each JPEG decoder, single-threaded, and the loader's images/s
 * with 2 workers for decoder 'sharp' and the default, interleaved in one run, on ImageNet-like JPEGs
 * (~500x375 photo-like, quality 85, 4:2:0) to 224x224.
 *
 *   npm run bench:decoders -- [files=64] [rounds=3]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { ImageLoader, fromList } from '../src/index.js';
import { describeDecoder } from '../src/native/addon.js';
import type { DecodeSpec } from '../src/protocol.js';
import { jpegFastPath } from '../workers/jpeg-turbo.js';
import { removeDir, tempDir } from '../test/fixtures/images.js';
import { photoJpeg } from '../test/fixtures/jpegs.js';

const count = Number(process.argv[2] ?? 64);
const rounds = Number(process.argv[3] ?? 3);
sharp.concurrency(1);
sharp.cache(false);

const spec: DecodeSpec = {
  width: 224,
  height: 224,
  channels: 3,
  dtype: 'float32',
  slotDtype: 'float32',
  normalization: null,
  interpolation: 'bilinear',
  cropToAspectRatio: false,
  maxPixels: 89_478_485,
  decoder: 'jpeg-turbo',
  reference: null,
  ignoreOrientation: false,
  convertIcc: false,
};

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The worker's sharp path for the same output. */
async function sharpDecode(data: Buffer, out: Float32Array): Promise<void> {
  const pixels = await sharp(data, { failOn: 'warning', sequentialRead: true })
    .autoOrient()
    .resize(224, 224, { fit: 'fill', kernel: 'linear' })
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .raw()
    .toBuffer();
  for (let i = 0; i < out.length; i++) out[i] = pixels[i];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

async function main(): Promise<void> {
  const dir = tempDir('imgstream-bench-');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `img_${i}.jpg`);
    writeFileSync(file, await photoJpeg(500 - (i % 5) * 20, 375 - (i % 3) * 15, i + 1));
    files.push(file);
  }
  const data = await Promise.all(files.map((f) => readFile(f)));
  const out = new Float32Array(224 * 224 * 3);
  const fast = jpegFastPath(spec);
  console.log(`${count} JPEGs ~500x375 -> 224x224 float32; ${describeDecoder()}`);

  const perImage: Record<string, number[]> = { sharp: [], 'jpeg-turbo (native)': [] };
  for (let r = 0; r < rounds; r++) {
    let t = cpuMs();
    for (const d of data) await sharpDecode(d, out);
    perImage.sharp.push((cpuMs() - t) / count);
    if (fast !== null) {
      t = cpuMs();
      for (const d of data) if (!fast(d, out)) throw new Error('the fast path declined a bench file');
      perImage['jpeg-turbo (native)'].push((cpuMs() - t) / count);
    }
  }
  console.log(`\nCPU ms per image, decode + resize + convert, one thread (median of ${rounds}):`);
  for (const [name, v] of Object.entries(perImage)) if (v.length) console.log(`  ${name.padEnd(22)} ${median(v).toFixed(2)} ms`);

  const list = fromList(Array.from({ length: count * 6 }, (_, i) => files[i % count]));
  const rates: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const dtype of ['uint8', 'float32'] as const) {
      for (const decoder of ['sharp', 'auto'] as const) {
        const loader = new ImageLoader(list, { imageSize: [224, 224], batchSize: 32, workers: 2, labelMode: null, dtype, decoder });
        const key = `${dtype}, decoder '${decoder}' (${loader.options.decoder})`;
        // The first epoch starts the worker threads; the second is the steady state training sees.
        for await (const batch of loader) void batch;
        const before = cpuMs();
        for await (const batch of loader) void batch;
        (rates[key] ??= []).push(loader.stats.imagesPerSecond);
        // All threads of the process (main, workers, libuv): robust to other load on the machine.
        (cpu[key] ??= []).push((cpuMs() - before) / loader.stats.decoded);
        await loader.close();
      }
    }
  }
  console.log(`\nloader, 2 workers, second epoch of ${count * 6} samples (median of ${rounds}, interleaved):`);
  for (const [key, v] of Object.entries(rates)) {
    console.log(`  ${key.padEnd(40)} ${median(v).toFixed(0).padStart(5)} images/s  ${median(cpu[key]).toFixed(2)} CPU ms/image (process)`);
  }
  for (const dtype of ['uint8', 'float32']) {
    const base = Object.entries(rates).find(([k]) => k.startsWith(`${dtype}, decoder 'sharp'`));
    const auto = Object.entries(rates).find(([k]) => k.startsWith(`${dtype}, decoder 'auto'`));
    if (base && auto) {
      const cpuRatio = median(cpu[base[0]]) / median(cpu[auto[0]]);
      console.log(`  default / sharp, ${dtype}: ${(median(auto[1]) / median(base[1])).toFixed(2)}x images/s, ${cpuRatio.toFixed(2)}x less CPU per image`);
    }
  }
  removeDir(dir);
}

await main();
