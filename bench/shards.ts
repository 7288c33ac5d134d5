/**
 * The shard rows of the benchmark: the same images read from their folder, from WebDataset shards on local
 * disk and from the same shards over HTTP on loopback (images/s, peak RSS, time to first batch), and
 * `imgstream pack`'s own images/s. The shards are packed once per dataset into the cache folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import bytes from 'bytes';
import { packShards } from '../src/shards/pack.js';
import { INDEX_FILE } from '../src/shards/shard-index.js';
import type { RunRecord, RunSpec } from './records.js';
import type { Dtype, ScenarioConfig } from './scenarios/common.js';

/** Packs `dir` into `<cacheDir>/shards/<name of dir>` unless already there; returns the folder and brace pattern. */
export async function packedShards(dir: string, cacheDir: string): Promise<{ shardDir: string; shardPattern: string }> {
  const shardDir = path.resolve(cacheDir, 'shards', path.basename(dir));
  const indexFile = path.join(shardDir, INDEX_FILE);
  if (!existsSync(indexFile)) await packShards(dir, shardDir, { shardSize: 64 * 2 ** 20 });
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { shardlist: { url: string }[] };
  const last = index.shardlist.length - 1;
  const pattern = last === 0 ? 'shard-000000.tar' : `shard-{000000..${String(last).padStart(6, '0')}}.tar`;
  return { shardDir, shardPattern: pattern };
}

export function shardSpecs(
  base: (dtype: Dtype, options?: Record<string, unknown>) => ScenarioConfig,
  shards: { shardDir: string; shardPattern: string },
  dtype: Dtype,
): RunSpec[] {
  const read = (source: 'local' | 'http') => base(dtype, { source, ...shards, loader: {} });
  return [
    { id: `shards-folder-${dtype}`, group: 'shards', label: 'folder', scenario: 'imgstream', config: base(dtype, {}) },
    { id: `shards-local-${dtype}`, group: 'shards', label: 'local shards', scenario: 'shards', config: read('local') },
    { id: `shards-http-${dtype}`, group: 'shards', label: 'shards over HTTP (loopback)', scenario: 'shards', config: read('http') },
    { id: 'shards-pack', group: 'shards', label: 'imgstream pack', scenario: 'shards', config: base(dtype, { source: 'pack', ...shards }) },
  ];
}

const fmt = (n: number | null | undefined, unit = '') => (n == null ? '—' : `${n.toFixed(0)}${unit}`);
const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);

/** The markdown section and the two targets (local >= 0.95x folder, HTTP >= 0.9x). */
export function shardSection(records: RunRecord[], heading: string): { markdown: string; targets: { target: string; measured: string; met: boolean | null }[] } {
  const of = (label: string) => records.find((r) => r.spec.group === 'shards' && r.spec.label === label);
  const folder = of('folder')?.median;
  if (!folder && !of('local shards')) return { markdown: '', targets: [] };
  const rows = ['folder', 'local shards', 'shards over HTTP (loopback)'].map((label) => {
    const m = of(label)?.median;
    const r = ratio(m?.imagesPerSecond, folder?.imagesPerSecond);
    const cpu = m?.cpuMsPerImage ?? null;
    const cpuRatio = ratio(cpu, folder?.cpuMsPerImage);
    const cpuCell = cpu === null ? '—' : `${cpu.toFixed(2)}${cpuRatio === null ? '' : ` (${cpuRatio.toFixed(2)}x)`}`;
    return `| ${label} | ${fmt(m?.imagesPerSecond)} | ${r === null ? '—' : `${r.toFixed(2)}x`} | ${cpuCell} | ${m ? bytes.format(m.peakMemoryBytes) : '—'} | ${fmt(m?.timeToFirstBatchMs, ' ms')} |`;
  });
  const pack = of('imgstream pack')?.median;
  const dtype = of('folder')?.spec.config.dtype ?? 'uint8';
  const markdown = [
    `\n${heading} Shards: the same images from their folder, local WebDataset shards and HTTP (${dtype}, defaults)\n`,
    '| source | images/s | vs folder | CPU ms per image (vs folder) | peak memory | first batch |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    // On a loaded machine images/s swing with the other load; CPU time per image (every thread) does much less.
    'CPU ms per image: all the process\'s threads (decode workers, reading, the main thread) per image delivered.',
    '',
    `\`imgstream pack\` (no resize): ${fmt(pack?.imagesPerSecond)} images/s, peak ${pack ? bytes.format(pack.peakMemoryBytes) : '—'}.`,
  ].join('\n');
  const targets: { target: string; measured: string; met: boolean | null }[] = [];
  for (const [label, floor] of [['local shards', 0.95], ['shards over HTTP (loopback)', 0.9]] as const) {
    const r = ratio(of(label)?.median?.imagesPerSecond, folder?.imagesPerSecond);
    if (r !== null) targets.push({ target: `${label} >= ${floor}x the folder's images/s`, measured: `x${r.toFixed(2)}`, met: r >= floor });
  }
  return { markdown, targets };
}
