import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kerasSubset } from '../src/compat.js';
import { referenceListing, type ReferenceLoader } from '../src/reference-index.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { runReference } from './fixtures/python.js';

/**
 * A tree with everything the listing rules decide about: hidden files and folders, links to folders outside the
 * tree (a loop is left out: the references recurse through it until the OS refuses), nested folders whose paths sort differently from their tree order, mixed-case and
 * foreign extensions, the same name in NFC and NFD, a dangling link, files at the root.
 */
function makeTree(root: string): void {
  const file = (rel: string) => {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), 'x');
  };
  for (let i = 0; i < 7; i++) file(`cat/${i}.jpg`);
  file('cat/.hidden.jpg');
  file('cat/Upper.JPG');
  file('cat/mixed.JpEg');
  file('cat/sheet.bmp');
  file('cat/anim.GIF');
  file('cat/photo.webp');
  file('cat/photo.tiff');
  file('cat/notes.txt');
  file('cat/a/1.png');
  file('cat/a b/1.png');
  file('cat/a-b/1.png');
  file('cat/a/x/1.png');
  file('cat/.cache/1.png');
  file(`cat/${'caf\u00e9'.normalize('NFC')}.png`);
  file(`cat/${'caf\u00e9'.normalize('NFD')}.png`);
  file('cat/\u{1f431}.png');
  file('cat/\uff21.png');
  for (let i = 0; i < 9; i++) file(`dog/${String(i).padStart(2, '0')}.png`);
  file('dog/.DS_Store');
  file('.hiddenclass/1.jpg');
  file('root-level.jpg');
  for (let i = 0; i < 4; i++) file(`outside/linked-${i}.jpg`);
  file('outside/deeper/2.jpg');
  symlinkSync(path.join(root, 'outside'), path.join(root, 'dog', 'linked'));
  symlinkSync(path.join(root, 'nowhere.jpg'), path.join(root, 'dog', 'dangling.jpg'));
  symlinkSync(path.join(root, 'cat', '0.jpg'), path.join(root, 'dog', 'linked-file.jpg'));
  symlinkSync(path.join(root, 'outside'), path.join(root, 'zebra'));
}

let base: string;
let root: string;
beforeAll(() => {
  base = tempDir('imgstream-listing-');
  root = path.join(base, 'data');
  makeTree(root);
});
afterAll(() => removeDir(base));

interface Reference {
  classNames: string[];
  paths: string[];
  labels: number[] | null;
  messages: string[];
  error?: string;
}

async function references(cases: object[]): Promise<Reference[]> {
  return JSON.parse(await runReference('listing_reference.py', cases.map((c) => ({ dir: root, ...c }))));
}

const relative = (paths: string[]) => paths.map((p) => path.relative(root, p));

describe('referenceListing', () => {
  it.each<[ReferenceLoader, boolean]>([
    ['keras', false],
    ['keras', true],
    ['torchvision', true],
  ])('%s (followLinks %s): the same files, labels and classes as the reference rules', async (loader, followLinks) => {
    const [ref] = await references([{ loader, followLinks, shuffle: false }]);
    const ours = await referenceListing(loader, root, { followLinks });
    expect(ours.classNames).toEqual(ref.classNames);
    expect(relative(ours.paths)).toEqual(ref.paths);
    expect(ours.labels).toEqual(ref.labels);
  });

  it("keras' unlabeled listing (labels: null) walks the whole root", async () => {
    const [ref] = await references([{ loader: 'keras', labels: null, shuffle: false }]);
    const ours = await referenceListing('keras', root, { labels: null });
    expect(relative(ours.paths)).toEqual(ref.paths);
    expect(ours.labels).toBeNull();
  });

  it('makes the decisions the tree is built to test', async () => {
    const keras = relative((await referenceListing('keras', root)).paths);
    expect(keras).toContain('cat/.hidden.jpg');
    expect(keras).toContain('cat/.cache/1.png');
    expect(keras).toContain('cat/Upper.JPG');
    expect(keras).not.toContain('cat/photo.webp');
    expect(keras).not.toContain('dog/linked/linked-0.jpg');
    expect(keras).toContain('zebra/linked-0.jpg');
    expect(keras.filter((p) => p.startsWith('cat/caf'))).toHaveLength(2);
    // folders sort by whole path: 'cat/a-b' before 'cat/a/x' ('-' < '/'), unlike a depth-first walk
    expect(keras.indexOf('cat/a-b/1.png')).toBeLessThan(keras.indexOf('cat/a/x/1.png'));
  });
});

describe('kerasSubset', () => {
  it('gives the same training and validation lists and messages as Keras for several seeds and splits', async () => {
    const listing = await referenceListing('keras', root);
    const cases: Array<{ seed: number; validationSplit: number; subset: 'training' | 'validation'; shuffle: boolean }> = [];
    for (const seed of [0, 1, 42, 1337, 123456])
      for (const validationSplit of [0.1, 0.2, 0.5, 0.73])
        for (const subset of ['training', 'validation'] as const) cases.push({ seed, validationSplit, subset, shuffle: true });
    cases.push({ seed: 7, validationSplit: 0.3, subset: 'validation', shuffle: false });
    const refs = await references(cases.map((c) => ({ loader: 'keras', ...c })));
    cases.forEach((c, i) => {
      const ours = kerasSubset(listing, { ...c, verbose: true });
      const label = JSON.stringify(c);
      expect(relative(ours.paths), label).toEqual(refs[i].paths);
      expect(ours.labels, label).toEqual(refs[i].labels);
      expect(ours.messages, label).toEqual(refs[i].messages);
    });
  });

  it("refuses what Keras refuses: no seed with a shuffled split, a training share of zero files", async () => {
    const listing = await referenceListing('keras', root);
    const [noSeed, zero] = await references([
      { loader: 'keras', validationSplit: 0.2, subset: 'training', shuffle: true },
      { loader: 'keras', validationSplit: 0.01, subset: 'training', shuffle: true, seed: 3 },
    ]);
    expect(noSeed.error).toBe('seed required');
    expect(() => kerasSubset(listing, { validationSplit: 0.2, subset: 'training', shuffle: true, seed: null })).toThrow(
      /seed/,
    );
    expect(zero.error).toBe('no images');
    expect(() => kerasSubset(listing, { validationSplit: 0.01, subset: 'training', shuffle: true, seed: 3 })).toThrow(
      /validationSplit/,
    );
  });
});
