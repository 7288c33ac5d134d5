/**
 * BMP (workers/bmp.ts): the files PIL writes, and two layouts it reads but does not write, decoded to PIL's own
 * pixels, directly and end to end under `compat: 'keras'` (which lists `.bmp`, as Keras does) and on the default
 * path; a BMP that cannot be decoded is skipped with its path and reason.
 */
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ImageLoader, fromList, imageDatasetFromDirectory } from '../src/index.js';
import { decodeBmp } from '../workers/bmp.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { collect } from './fixtures/pipeline.js';
import { runReference } from './fixtures/python.js';

const WIDTH = 13; // rows of 39 bytes at 24 bits, padded to 40: the row padding is exercised
const HEIGHT = 7;

interface PilDecode {
  mode: string;
  rgb: number[];
  gray: number[];
  rgba: number[];
}

let base: string;
let folder: string;
let reference: Record<string, PilDecode>;
const file = (name: string) => path.join(folder, `${name}.bmp`);

beforeAll(async () => {
  base = tempDir('imgstream-bmp-');
  folder = path.join(base, 'data', 'pictures');
  reference = JSON.parse(await runReference('bmp_reference.py', { dir: folder, width: WIDTH, height: HEIGHT })) as Record<string, PilDecode>;
}, 120_000);
afterAll(() => removeDir(base));

describe('decodeBmp', () => {
  it("gives PIL's pixels for every BMP PIL writes, top-down rows and 32-bit bit fields with alpha", () => {
    expect(Object.keys(reference).sort()).toEqual(['alpha32', 'gray8', 'mono1', 'palette8', 'rgb24', 'rgba32', 'topdown24']);
    for (const [name, pil] of Object.entries(reference)) {
      const got = decodeBmp(readFileSync(file(name)), 1e9);
      expect([got.width, got.height], name).toEqual([WIDTH, HEIGHT]);
      // PIL's mode says whether there is an alpha channel: only the bit-field file declares one.
      expect(got.channels, name).toBe(pil.mode === 'RGBA' ? 4 : 3);
      expect(Array.from(got.pixels), name).toEqual(pil.mode === 'RGBA' ? pil.rgba : pil.rgb);
    }
  });

  it('refuses what it cannot read, naming why, and checks the pixel limit from the header', () => {
    const rgb = readFileSync(file('rgb24'));
    expect(() => decodeBmp(rgb.subarray(0, 200), 1e9)).toThrow(/truncated BMP: the file ends at 200 bytes/);
    const rle = Buffer.from(readFileSync(file('palette8')));
    rle.writeUInt32LE(1, 30);
    expect(() => decodeBmp(rle, 1e9)).toThrow(/unsupported BMP compression 1 \(RLE8/);
    expect(() => decodeBmp(rgb, WIDTH * HEIGHT - 1)).toThrow(expect.objectContaining({ code: 'ERR_TOO_MANY_PIXELS' }));
  });
});

describe("BMP through the loader", () => {
  it("under compat: 'keras', every listed BMP decodes to PIL's pixels (rgb, grayscale, rgba); bad ones are skipped with path and reason", async () => {
    const bad = folder;
    writeFileSync(path.join(bad, 'truncated.bmp'), readFileSync(file('rgb24')).subarray(0, 120));
    const rle = Buffer.from(readFileSync(file('palette8')));
    rle.writeUInt32LE(1, 30);
    writeFileSync(path.join(bad, 'rle8.bmp'), rle);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      for (const colorMode of ['rgb', 'grayscale', 'rgba'] as const) {
        const loader = await imageDatasetFromDirectory(path.join(base, 'data'), {
          compat: 'keras',
          imageSize: [HEIGHT, WIDTH],
          colorMode,
          shuffle: false,
          batchSize: 4,
          workers: 1,
        });
        expect(loader.filePaths.map((p) => path.basename(p, '.bmp'))).toEqual([...Object.keys(reference), 'rle8', 'truncated'].sort());
        const channels = { rgb: 3, grayscale: 1, rgba: 4 }[colorMode];
        let seen = 0;
        for (const batch of await collect(loader)) {
          batch.paths.forEach((p, i) => {
            const pil = reference[path.basename(p, '.bmp')];
            const size = HEIGHT * WIDTH * channels;
            const want = colorMode === 'rgb' ? pil.rgb : colorMode === 'grayscale' ? pil.gray : pil.rgba;
            expect(Array.from(batch.images.subarray(i * size, (i + 1) * size)), `${p} ${colorMode}`).toEqual(want);
            seen++;
          });
        }
        expect(seen).toBe(Object.keys(reference).length);
        const skipped = loader.stats.skipped.map((s) => [path.basename(s.path), s.code, s.message]);
        expect(skipped).toEqual([
          ['rle8.bmp', 'ERR_DECODE', expect.stringMatching(/unsupported BMP compression 1 \(RLE8/)],
          ['truncated.bmp', 'ERR_DECODE', expect.stringMatching(/truncated BMP: the file ends at 120 bytes/)],
        ]);
        await loader.close();
      }
    } finally {
      log.mockRestore();
      for (const name of readdirSync(bad)) if (name === 'truncated.bmp' || name === 'rle8.bmp') removeDir(path.join(bad, name));
    }
  });

  it("on the default path, a BMP given in the list decodes to PIL's pixels too", async () => {
    // Alpha is composited onto black on this path (not PIL's convert('RGB')), so the alpha file is left out.
    const names = Object.keys(reference).filter((n) => reference[n].mode !== 'RGBA');
    const copies = names.map((n) => {
      const copy = path.join(base, `${n}.bmp`);
      copyFileSync(file(n), copy);
      return copy;
    });
    const loader = new ImageLoader(fromList(copies), { imageSize: [HEIGHT, WIDTH], labelMode: null, dtype: 'uint8', shuffle: false, workers: 1 });
    const batches = await collect(loader, { close: true });
    const size = HEIGHT * WIDTH * 3;
    const got = batches.flatMap((b) => b.paths.map((p, i) => [path.basename(p, '.bmp'), Array.from(b.images.subarray(i * size, (i + 1) * size))]));
    expect(got).toEqual(names.map((n) => [n, reference[n].rgb]));
  });
});
