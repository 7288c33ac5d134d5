import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoader, fromCsv } from '../src/index.js';
import { removeDir, tempDir, writeImage } from './fixtures/images.js';

let root: string;

beforeAll(async () => {
  root = tempDir('imgstream-csv-');
  mkdirSync(path.join(root, 'img'), { recursive: true });
  for (let i = 0; i < 6; i++) await writeImage(path.join(root, 'img', `f ${i}.png`), { width: 12, height: 10, seed: i + 1 });
});
afterAll(() => removeDir(root));

function csv(name: string, text: string): string {
  const file = path.join(root, name);
  writeFileSync(file, text);
  return file;
}

describe('fromCsv', () => {
  it('reads path,label rows relative to the CSV, with class names sorted as Keras sorts them', async () => {
    const file = csv('train.csv', 'label,path\ndog,img/f 0.png\ncat,"img/f 1.png"\n\nbird,img/f 2.png\ndog,img/f 3.png\n');
    const index = await fromCsv(file);
    expect(index.classNames).toEqual(['bird', 'cat', 'dog']);
    expect(index.size).toBe(4);
    expect(index.path(1)).toBe(path.join(root, 'img', 'f 1.png'));
    expect(Array.from(index.labels ?? [])).toEqual([2, 1, 0, 2]);
    const loader = new ImageLoader(index, { imageSize: [8, 8], batchSize: 4, shuffle: false, workers: 1 });
    const batches = [];
    for await (const b of loader) batches.push(b);
    await loader.close();
    expect(batches).toHaveLength(1);
    expect(Array.from(batches[0].labels ?? [])).toEqual([2, 1, 0, 2]);
    expect(loader.stats.skipped).toEqual([]);
  });

  it('takes integer labels as class indices, columns by number without a header, and no label column', async () => {
    const noHeader = csv('plain.csv', 'img/f 4.png;1\nimg/f 5.png;0\n');
    const index = await fromCsv(noHeader, { header: false, delimiter: ';' });
    expect(index.classNames).toEqual(['0', '1']);
    expect(Array.from(index.labels ?? [])).toEqual([1, 0]);
    const unlabeled = await fromCsv(csv('paths.csv', 'file\nimg/f 0.png\n'), { pathColumn: 'file', labelColumn: null });
    expect(unlabeled.labels).toBeNull();
    const named = await fromCsv(csv('named.csv', 'path,label\nimg/f 0.png,1\n'), { classNames: ['cat', 'dog'] });
    expect(Array.from(named.labels ?? [])).toEqual([1]);
  });

  it('names the problem: missing file, unknown column, empty path, unknown class', async () => {
    await expect(fromCsv(path.join(root, 'nope.csv'))).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    await expect(fromCsv(csv('cols.csv', 'file,y\na.png,1\n'))).rejects.toThrow(/pathColumn but received 'path'.*file, y|one of the CSV's columns \(file, y\) for pathColumn/);
    await expect(fromCsv(csv('empty-path.csv', 'path,label\n,cat\n'))).rejects.toThrow(/line 2 \(pathColumn\)/);
    await expect(fromCsv(csv('unknown.csv', 'path,label\na.png,cow\n'), { classNames: ['cat'] })).rejects.toThrow(/one of classNames \(cat\).*'cow'/);
    await expect(fromCsv(csv('header-only.csv', 'path,label\n'))).rejects.toMatchObject({ code: 'ERR_OPTION' });
  });

  it('refuses rows outside the root unless allowed, and labels that would set a huge number of classes, by line', async () => {
    const dir = path.join(root, 'sub');
    mkdirSync(dir, { recursive: true });
    const up = csv('sub/up.csv', 'path,label\n../img/f 0.png,0\n');
    await expect(fromCsv(up)).rejects.toMatchObject({ code: 'ERR_OUTSIDE_ROOT', message: expect.stringMatching(/up\.csv line 2: the path '\.\.\/img\/f 0\.png' is outside/) });
    const absolute = csv('sub/abs.csv', 'path,label\nok.png,0\n/etc/passwd,0\n');
    await expect(fromCsv(absolute)).rejects.toMatchObject({ code: 'ERR_OUTSIDE_ROOT', path: '/etc/passwd', message: expect.stringMatching(/line 3/) });
    const allowed = await fromCsv(up, { allowOutsideRoot: true });
    expect(allowed.path(0)).toBe(path.join(root, 'img', 'f 0.png'));
    // An explicit root decides what is inside.
    const rooted = await fromCsv(csv('sub/rooted.csv', 'path,label\nsub/../img/f 0.png,0\n'), { root });
    expect(rooted.path(0)).toBe(path.join(root, 'img', 'f 0.png'));
    const fine = await fromCsv(csv('sub/fine.csv', 'path,label\na/../b.png,0\n'));
    expect(fine.path(0)).toBe(path.join(dir, 'b.png'));

    const huge = csv('huge.csv', 'path,label\nimg/f 0.png,0\nimg/f 1.png,30000000\n');
    const started = Date.now();
    await expect(fromCsv(huge)).rejects.toThrow(/below 100000.*the label of .*huge\.csv line 3.*'30000000'/);
    expect(Date.now() - started).toBeLessThan(30_000);
    await expect(fromCsv(csv('huger.csv', 'path,label\nimg/f 0.png,99999999999\n'))).rejects.toThrow(/line 2/);
    await expect(fromCsv(csv('past.csv', 'path,label\nimg/f 0.png,5\n'), { classNames: ['cat', 'dog'] })).rejects.toThrow(/index below 2.*line 2.*'5'/);
  });
});
