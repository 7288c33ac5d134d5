import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromDirectory, fromList, ImgstreamError } from '../src/index.js';
import { removeDir, tempDir, writeImage } from './fixtures/images.js';

let root: string;

beforeAll(() => {
  root = tempDir();
});
afterAll(() => removeDir(root));

async function make(files: string[]): Promise<string> {
  const dir = tempDir();
  for (const f of files) await writeImage(path.join(dir, f), { width: 8, height: 8, seed: 1, format: 'png' });
  return dir;
}

describe('fromDirectory', () => {
  it('labels by class folder (sorted), finds images recursively by extension, ignores hidden files and root files', async () => {
    const dir = await make([
      'b/1.png',
      'b/sub/deeper/2.PNG',
      'a/z.jpeg.png',
      'a/.hidden.png',
      'a/._resource.png',
      'root.png',
      'C/x.png',
      '.git/obj.png',
    ]);
    writeFileSync(path.join(dir, 'a', 'notes.txt'), 'x');
    mkdirSync(path.join(dir, 'a', 'folder.jpg'));
    await writeImage(path.join(dir, 'a', 'folder.jpg', 'inside.webp'), { width: 8, height: 8, seed: 2, format: 'webp' });
    const index = await fromDirectory(dir);
    // Python's sorted(): upper case before lower case.
    expect(index.classNames).toEqual(['C', 'a', 'b']);
    const entries = Array.from({ length: index.size }, (_, i) => [path.relative(dir, index.path(i)), index.labels?.[i]]);
    expect(entries).toEqual([
      ['C/x.png', 0],
      ['a/z.jpeg.png', 1],
      ['a/folder.jpg/inside.webp', 1],
      ['b/1.png', 2],
      ['b/sub/deeper/2.PNG', 2],
    ]);
    expect(index.root).toBe(dir);
    removeDir(dir);
  });

  it('orders folders by full path like Keras (os.walk sorted by root)', async () => {
    const dir = await make(['k/a b/1.png', 'k/a/x/2.png', 'k/a/3.png', 'k/0.png']);
    const index = await fromDirectory(dir);
    const rel = Array.from({ length: index.size }, (_, i) => path.relative(dir, index.path(i)));
    // sorted(['k', 'k/a', 'k/a b', 'k/a/x']) in Python keeps this order: a prefix first, then ' ' < '/'.
    expect(rel).toEqual(['k/0.png', 'k/a/3.png', 'k/a b/1.png', 'k/a/x/2.png']);
    removeDir(dir);
  });

  it('sorts names by code point, as Python does, beyond the UTF-16 order of JavaScript strings', async () => {
    // U+FF21 (one UTF-16 unit) sorts before U+1F600 (a surrogate pair, whose first unit is 0xD83D).
    const dir = await make(['c/\u{1F600}.png', 'c/\uFF21.png', 'c/z.png', 'c/\u00E9.png', 'c/\u{1F600}a.png']);
    const index = await fromDirectory(dir);
    const names = Array.from({ length: index.size }, (_, i) => path.basename(index.path(i)));
    expect(names).toEqual(['z.png', '\u00E9.png', '\uFF21.png', '\u{1F600}.png', '\u{1F600}a.png']);
    removeDir(dir);
  });

  it('lists links to files, does not enter links to folders unless followLinks (Keras follow_links), says so', async () => {
    const outside = await make(['secret/s.png']);
    const dir = await make(['cls/a.png', 'other/b.png']);
    symlinkSync(path.join(dir, 'other'), path.join(dir, 'cls', 'linked'));
    symlinkSync(path.join(outside, 'secret'), path.join(dir, 'cls', 'out'));
    symlinkSync(path.join(dir, 'other', 'b.png'), path.join(dir, 'cls', 'c.png'));
    symlinkSync(path.join(dir, 'cls'), path.join(dir, 'cls', 'loop'));
    symlinkSync(path.join(dir, 'missing.png'), path.join(dir, 'cls', 'dangling.png'));
    const index = await fromDirectory(dir, { classNames: ['cls'] });
    const rel = Array.from({ length: index.size }, (_, i) => path.relative(dir, index.path(i)));
    expect(rel).toEqual(['cls/a.png', 'cls/c.png', 'cls/dangling.png']);
    expect(index.warnings.map((w) => [path.relative(dir, w.path), w.code])).toEqual([
      ['cls/linked', 'WARN_LINK_NOT_FOLLOWED'],
      ['cls/loop', 'WARN_LINK_NOT_FOLLOWED'],
      ['cls/out', 'WARN_LINK_NOT_FOLLOWED'],
    ]);
    const followed = await fromDirectory(dir, { classNames: ['cls'], followLinks: true });
    const all = Array.from({ length: followed.size }, (_, i) => path.relative(dir, followed.path(i)));
    expect(all).toEqual(['cls/a.png', 'cls/c.png', 'cls/dangling.png', 'cls/linked/b.png', 'cls/out/s.png']);
    expect(followed.warnings).toEqual([]);
    await expect(fromDirectory(dir, { followLinks: 'yes' as unknown as boolean })).rejects.toThrow(/followLinks/);
    removeDir(dir);
    removeDir(outside);
  });

  it('a class folder that is a link is a class, as Keras lists it', async () => {
    const outside = await make(['x/1.png']);
    const dir = await make(['a/2.png']);
    symlinkSync(path.join(outside, 'x'), path.join(dir, 'b'));
    const index = await fromDirectory(dir);
    expect(index.classNames).toEqual(['a', 'b']);
    expect(Array.from(index.labels ?? [])).toEqual([0, 1]);
    removeDir(dir);
    removeDir(outside);
  });

  it('skips __MACOSX as a hidden folder, warns about empty class folders and NFC/NFD twins, does not list .bmp', async () => {
    const dir = await make(['__MACOSX/a/._1.png', 'caf\u00e9/1.png', 'cafe\u0301/2.png', 'dog/3.png']);
    mkdirSync(path.join(dir, 'empty'));
    writeFileSync(path.join(dir, 'dog', 'x.bmp'), Buffer.from('BM'));
    const index = await fromDirectory(dir);
    expect(index.classNames).toEqual(['cafe\u0301', 'caf\u00e9', 'dog', 'empty']);
    expect(index.size).toBe(3);
    expect(index.warnings.map((w) => w.code).sort()).toEqual(['WARN_EMPTY_CLASS', 'WARN_SAME_NAME_CLASSES']);
    const twin = index.warnings.find((w) => w.code === 'WARN_SAME_NAME_CLASSES');
    expect(twin?.message).toMatch(/U\+0301.*U\+00E9|U\+00E9.*U\+0301/);
    expect(index.warnings.find((w) => w.code === 'WARN_EMPTY_CLASS')?.path).toBe(path.join(dir, 'empty'));
    removeDir(dir);
  });

  it('lists a name that is not UTF-8 by its bytes, and FIFOs for the reader to refuse', async () => {
    const dir = await make(['c/a.png']);
    const raw = Buffer.concat([Buffer.from(path.join(dir, 'c') + '/'), Buffer.from([0x66, 0xe9, 0xff]), Buffer.from('.png')]);
    await writeImage(path.join(dir, 'c', 'tmp.png'), { width: 8, height: 8, seed: 5, format: 'png' });
    renameSync(path.join(dir, 'c', 'tmp.png'), raw);
    execFileSync('mkfifo', [path.join(dir, 'c', 'pipe.png')]);
    const index = await fromDirectory(dir);
    expect(index.size).toBe(3);
    const names = Array.from({ length: index.size }, (_, i) => index.fileName(i));
    expect(names[0]).toBe(path.join(dir, 'c', 'a.png'));
    // Python's sorted() on os.fsdecode names: 'f\udce9\udcff.png' after 'a.png', before 'pipe.png'.
    expect(Buffer.isBuffer(names[1]) && Buffer.compare(names[1], raw)).toBe(0);
    expect(index.path(1)).toBe(path.join(dir, 'c', 'f\uFFFD\uFFFD.png'));
    expect(names[2]).toBe(path.join(dir, 'c', 'pipe.png'));
    expect(readFileSync(names[1]).length).toBeGreaterThan(0);
    removeDir(dir);
  });

  it('handles spaces and non-ASCII names', async () => {
    const dir = await make(['chats noirs/été 1.png', 'données/日本.png']);
    const index = await fromDirectory(dir);
    expect(index.classNames).toEqual(['chats noirs', 'données']);
    expect(path.basename(index.path(0))).toBe('été 1.png');
    expect(path.basename(index.path(1))).toBe('日本.png');
    removeDir(dir);
  });

  it('gives an unlabeled index for a flat folder or labels: null', async () => {
    const flat = await make(['1.png', '2.png']);
    const index = await fromDirectory(flat);
    expect(index.labels).toBeNull();
    expect(index.size).toBe(2);
    removeDir(flat);
    const nested = await make(['a/1.png', 'b/2.png']);
    const all = await fromDirectory(nested, { labels: null });
    expect(all.labels).toBeNull();
    expect(all.size).toBe(2);
    removeDir(nested);
  });

  it('names the problem: missing folder, empty folder, no images, unknown class', async () => {
    await expect(fromDirectory(path.join(root, 'nope'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    const empty = tempDir();
    await expect(fromDirectory(empty)).rejects.toMatchObject({ code: 'ERR_NO_IMAGES' });
    mkdirSync(path.join(empty, 'cls'));
    writeFileSync(path.join(empty, 'cls', 'readme.txt'), 'x');
    await expect(fromDirectory(empty)).rejects.toThrow(/No image files found/);
    await expect(fromDirectory(empty, { classNames: ['dog'] })).rejects.toThrow(/classNames/);
    removeDir(empty);
  });
});

describe('fromList', () => {
  it('packs paths and labels', () => {
    const index = fromList(['x/ü 1.jpg', 'y/2.png'], [1, 0], { classNames: ['a', 'b'] });
    expect(index.size).toBe(2);
    expect(index.path(0)).toBe('x/ü 1.jpg');
    expect(index.path(1)).toBe('y/2.png');
    expect(Array.from(index.labels ?? [])).toEqual([1, 0]);
    expect(index.pathBytes).toBeInstanceOf(SharedArrayBuffer);
    expect(fromList(['a', 'b'], [0, 2]).classNames).toEqual(['0', '1', '2']);
  });

  it('rejects bad input by name', () => {
    expect(() => fromList([])).toThrow(ImgstreamError);
    expect(() => fromList(['a'], [0, 1])).toThrow(/labels/);
    expect(() => fromList(['a'], [-1])).toThrow(/labels\[0\]/);
    expect(() => fromList(['a', ''])).toThrow(/paths\[1\]/);
    expect(() => fromList(['a'], [3], { classNames: ['x'] })).toThrow(/classNames.length/);
    // A label sets how many classes there are: one huge label must not allocate classes until the heap dies.
    expect(() => fromList(['a', 'b'], [0, 30_000_000])).toThrow(/below 100000.*labels\[1\].*30000000/);
    expect(() => fromList(['a'], [99_999_999_999])).toThrow(/labels\[0\]/);
  });

  it('holds a million paths in well under 200 MB', () => {
    globalThis.gc?.();
    const before = process.memoryUsage();
    function* paths() {
      for (let i = 0; i < 1_000_000; i++) yield `/datasets/imagenet/train/n${String(i % 1000).padStart(8, '0')}/img_${i}.JPEG`;
    }
    const index = fromList(paths());
    const after = process.memoryUsage();
    expect(index.size).toBe(1_000_000);
    expect(index.path(999_999)).toBe('/datasets/imagenet/train/n00000999/img_999999.JPEG');
    expect(index.byteLength).toBeLessThan(200 * 2 ** 20);
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(grown).toBeLessThan(200 * 2 ** 20);
  });
});

describe('imageDatasetFromDirectory followLinks', () => {
  it('passes followLinks to the listing', async () => {
    const { imageDatasetFromDirectory } = await import('../src/index.js');
    const dir = await make(['cls/a.png', 'other/b.png']);
    symlinkSync(path.join(dir, 'other'), path.join(dir, 'cls', 'linked'));
    const plain = await imageDatasetFromDirectory(dir, { classNames: ['cls'], imageSize: [8, 8] });
    const followed = await imageDatasetFromDirectory(dir, { classNames: ['cls'], imageSize: [8, 8], followLinks: true });
    expect([plain.size, followed.size]).toEqual([1, 2]);
    await plain.close();
    await followed.close();
    removeDir(dir);
  });
});
