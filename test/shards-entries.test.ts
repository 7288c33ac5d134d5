/**
 * The two walks over tar entries agree with each other and with Python's tarfile: the local walk over headers
 * (tar-stream's header code, data seeked over) and the stream walk over the bytes as chunks arrive (headers,
 * pax records and data cut anywhere between chunks), on ustar, GNU long-name and pax archives, and on one cut
 * inside a member.
 */
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileEntries, streamEntries, type TarEntry } from '../src/shards/tar-entries.js';
import { removeDir, tempDir } from './fixtures/images.js';
import { runReference } from './fixtures/python.js';

let root: string;
const long = `${'deep/'.repeat(30)}name-longer-than-a-ustar-header-holds.jpg`;
const members = [
  { name: 'a/000001.jpg', size: 70_000 },
  { name: 'a/000001.cls', size: 1 },
  { name: long, size: 513 },
  { name: 'b/000002.json', size: 0 },
  { name: 'b/000002.png', size: 20_000 },
];

interface Seen {
  name: string;
  start: number;
  size: number;
  dataOffset: number;
  bytes: string;
}

async function collect(entries: AsyncIterable<TarEntry>): Promise<{ seen: Seen[]; error: string | null }> {
  const seen: Seen[] = [];
  try {
    for await (const e of entries) {
      // Every other member's data read, the others passed over.
      const bytes = seen.length % 2 === 0 ? Buffer.concat(await e.read()).toString('hex').slice(0, 64) : '';
      seen.push({ name: e.name, start: e.start, size: e.size, dataOffset: e.dataOffset, bytes });
    }
    return { seen, error: null };
  } catch (err) {
    return { seen, error: (err as Error).message };
  }
}

beforeAll(() => {
  root = tempDir();
});
afterAll(() => removeDir(root));

describe('tar entries', () => {
  for (const format of ['ustar', 'gnu', 'pax'] as const) {
    it(`are the same from the header walk, the stream walk and Python's tarfile (${format})`, async () => {
      const file = path.join(root, `${format}.tar`);
      const spec = format === 'ustar' ? members.filter((m) => m.name !== long) : members;
      await runReference('tar_reference.py', spec, ['write', file, format]);
      const python = JSON.parse(await runReference('tar_reference.py', null, ['members', file])) as { name: string; offset: number; data: number; size: number }[];
      const walked = await collect(fileEntries(file));
      const streamed = await collect(streamEntries(createReadStream(file, { highWaterMark: 4096 })));
      // Chunks of 7 bytes: every header, pax record and member straddles chunks.
      const cutSmall = await collect(streamEntries(createReadStream(file, { highWaterMark: 7 })));
      expect(walked.error).toBeNull();
      expect(streamed.error).toBeNull();
      expect(cutSmall).toEqual(streamed);
      expect(walked.seen.map(({ name, start, size, dataOffset }) => ({ name, offset: start, data: dataOffset, size }))).toEqual(python);
      expect(walked.seen).toEqual(streamed.seen);
      const bytes = readFileSync(file);
      for (const [i, e] of walked.seen.entries()) {
        if (i % 2 === 0) expect(e.bytes).toBe(bytes.subarray(e.dataOffset, e.dataOffset + e.size).toString('hex').slice(0, 64));
      }
    });
  }

  it('break at the same entry, with the same error, on a tar cut inside a member', async () => {
    const whole = path.join(root, 'whole.tar');
    await runReference('tar_reference.py', members, ['write', whole, 'pax']);
    const python = JSON.parse(await runReference('tar_reference.py', null, ['members', whole])) as { name: string; data: number }[];
    const cut = path.join(root, 'cut.tar');
    writeFileSync(cut, readFileSync(whole).subarray(0, python[4].data + 100));
    const walked = await collect(fileEntries(cut));
    const streamed = await collect(streamEntries(createReadStream(cut)));
    // The members before the cut one, whole; reading the cut one's data is the error.
    expect(walked.seen.map((e) => e.name)).toEqual(python.slice(0, 4).map((m) => m.name));
    expect(walked.seen).toEqual(streamed.seen);
    expect(walked.error).toBe('Unexpected end of data');
    expect(streamed.error).toBe(walked.error);
  });
});
