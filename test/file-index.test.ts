import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('follows links to files and folders, survives a link loop, keeps dangling links as files', async () => {
    const dir = await make(['cls/a.png', 'other/b.png']);
    symlinkSync(path.join(dir, 'other'), path.join(dir, 'cls', 'linked'));
    symlinkSync(path.join(dir, 'other', 'b.png'), path.join(dir, 'cls', 'c.png'));
    symlinkSync(path.join(dir, 'cls'), path.join(dir, 'cls', 'loop'));
    symlinkSync(path.join(dir, 'missing.png'), path.join(dir, 'cls', 'dangling.png'));
    const index = await fromDirectory(dir, { classNames: ['cls'] });
    const rel = Array.from({ length: index.size }, (_, i) => path.relative(dir, index.path(i)));
    expect(rel).toEqual(['cls/a.png', 'cls/c.png', 'cls/dangling.png', 'cls/linked/b.png']);
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
