import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImgstreamError, imageDatasetFromShards, type Batch } from '../src/index.js';
import { makeShardIndex } from '../src/shards/shard-index.js';
import { removeDir, tempDir, texturedRaw } from './fixtures/images.js';
import { claimSize, headerOffsetOf, tarBytes, type TarMember } from './fixtures/shards.js';

let root: string;
let jpeg: Buffer;
const expected = new Map<string, string>();
const good = ['good1', 'good2', '../../x', 'good3', 'good4', 'good5'];

const image = (name: string): TarMember => ({ name: `${name}.jpg`, data: jpeg });
const label = (name: string, text = '1'): TarMember => ({ name: `${name}.cls`, data: Buffer.from(text) });

beforeAll(async () => {
  root = tempDir();
  jpeg = await sharp(texturedRaw(32, 24, 5), { raw: { width: 32, height: 24, channels: 3 } }).jpeg().toBuffer();
  // Shard a: one of each bad sample between good ones.
  const a: TarMember[] = [
    image('good1'), label('good1'),
    { name: 'bad.jpg', data: Buffer.from('this is not a JPEG at all'.repeat(10)) }, label('bad'),
    label('orphan'),
    image('dup'), label('dup'), image('dup'),
    image('good2'), label('good2'),
    image('good1'), label('good1'),
    { name: 'empty.jpg', data: Buffer.alloc(0) }, label('empty'),
    image('words'), label('words', 'seven'),
    image('../../x'), label('../../x'),
    { name: '__meta__', data: Buffer.from('{}') },
  ];
  expected.set('bad', 'ERR_NOT_IMAGE|ERR_DECODE').set('orphan', 'ERR_SHARD_SAMPLE').set('dup', 'ERR_SHARD_SAMPLE');
  expected.set('good1', 'ERR_SHARD_SAMPLE').set('empty', 'ERR_EMPTY_FILE').set('words', 'ERR_LABEL');
  writeFileSync(path.join(root, 'a.tar'), await tarBytes(a));
  // Shard b: a member that claims 10 GiB, after a good sample.
  const b: TarMember[] = [image('good3'), label('good3'), image('huge'), label('huge')];
  const bBytes = await tarBytes(b);
  claimSize(bBytes, headerOffsetOf(b, 2), 10n * 2n ** 30n);
  writeFileSync(path.join(root, 'b.tar'), bBytes);
  expected.set('huge', 'ERR_SHARD_READ');
  // Shard c: cut in the middle of its last image.
  const c: TarMember[] = [image('good4'), label('good4'), image('good5'), label('good5'), image('cut'), label('cut')];
  const cBytes = await tarBytes(c);
  writeFileSync(path.join(root, 'c.tar'), cBytes.subarray(0, headerOffsetOf(c, 4) + 512 + 100));
  expected.set('cut', 'ERR_SHARD_READ');
  const index = makeShardIndex(['zero', 'one'], [
    { url: 'a.tar', nsamples: 9, filesize: 0, maxSampleBytes: jpeg.length },
    { url: 'b.tar', nsamples: 2, filesize: 0, maxSampleBytes: jpeg.length },
    { url: 'c.tar', nsamples: 3, filesize: 0, maxSampleBytes: jpeg.length },
  ]);
  writeFileSync(path.join(root, 'shards.json'), JSON.stringify(index));
});
afterAll(() => removeDir(root));

async function run(options: Record<string, unknown>) {
  const loader = await imageDatasetFromShards(path.join(root, '{a,b,c}.tar'), {
    imageSize: [12, 16],
    batchSize: 4,
    workers: 2,
    memoryBudget: '16MiB',
    shuffle: false,
    // Most of these shards' samples are bad on purpose: every one is checked below, none may stop the epoch.
    maxSkipShare: 1,
    ...options,
  });
  const batches: Batch[] = [];
  try {
    for await (const batch of loader) batches.push(batch);
  } finally {
    await loader.close();
  }
  return { loader, batches };
}

const keyOf = (p: string) => p.slice(p.indexOf('#') + 1);

describe('hostile shards', () => {
  it('skip each bad sample with its reason, deliver every good one once, never pair members across keys', async () => {
    // Most of this fixture is hostile on purpose (8 of 14 samples): the share guard would stop the epoch.
    const { loader, batches } = await run({ maxSkipShare: 1 });
    const delivered = batches.flatMap((b) => b.paths.map(keyOf));
    expect(delivered).toEqual(good);
    expect([...batches.flatMap((b) => [...(b.labels as Int32Array)])]).toEqual(good.map(() => 1));
    const skipped = loader.stats.skipped;
    // The 10 GiB member and the cut one stop their shard; the samples it had left are reported with it.
    expect(skipped.length).toBe(8);
    for (const s of skipped) {
      const key = keyOf(s.path);
      const want = expected.get(key.startsWith('sample-') ? (s.path.includes('b.tar') ? 'huge' : 'cut') : key);
      expect(want, s.path).toBeDefined();
      expect(s.code, `${s.path}: ${s.message}`).toMatch(new RegExp(`^(${want})$`));
      expect(s.message.length).toBeGreaterThan(5);
    }
    const byKey = new Map(skipped.map((s) => [keyOf(s.path), s]));
    expect(byKey.get('orphan')?.message).toMatch(/no image member/);
    expect(byKey.get('dup')?.message).toMatch(/duplicate member/);
    expect(byKey.get('good1')?.message).toMatch(/duplicate key/);
    expect(byKey.get('words')?.message).toMatch(/label 'seven'/);
    expect(skipped.find((s) => s.path.includes('b.tar'))?.message).toMatch(/b\.tar broke after 1 of 2 samples/);
    expect(skipped.find((s) => s.path.includes('c.tar'))?.message).toMatch(/c\.tar broke after 2 of 3 samples/);
    // Nothing held the 10 GiB member, nor any other: a local shard's images stay in the file until each is read
    // into the staging arena, when it is due.
    expect(loader.streamStats.peakBufferedBytes).toBe(0);
    // A member name is only a key: nothing was written under it.
    expect(existsSync(path.join(root, '..', '..', 'x.jpg'))).toBe(false);
  });

  it("stop the epoch at the first bad sample with onError 'throw', naming it", async () => {
    const err = await run({ onError: 'throw' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImgstreamError);
    expect((err as ImgstreamError).path).toMatch(/a\.tar#bad$/);
    expect((err as Error).message).toMatch(/Cannot load .*a\.tar#bad/);
  });

  it('counts samples by a header pass without an index, stopping at a broken shard', async () => {
    const bare = path.join(root, 'bare');
    mkdirSync(bare);
    for (const f of ['a.tar', 'c.tar']) copyFileSync(path.join(root, f), path.join(bare, f));
    const loader = await imageDatasetFromShards([path.join(bare, 'a.tar'), path.join(bare, 'c.tar')], {
      labelMode: null,
      imageSize: [8, 8],
      memoryBudget: '16MiB',
      batchSize: 4,
      shuffle: false,
    });
    // a.tar has 9 keys; c.tar 2 whole samples before the cut. Without labels, 'words' is a good sample.
    expect(loader.size).toBe(11);
    const batches: Batch[] = [];
    for await (const b of loader) batches.push(b);
    await loader.close();
    expect(batches.flatMap((b) => b.paths.map(keyOf))).toEqual(['good1', 'good2', 'words', '../../x', 'good4', 'good5']);
  });
});
