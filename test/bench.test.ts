/**
 * Smoke run of the benchmark harness (built, as `imgstream bench`): a tiny generated dataset, one repeat, a
 * few scenarios; checks the report's structure and that its files are written. No timing is asserted.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from './fixtures/images.js';
import { runCommand, runNode, type Ran } from './fixtures/process.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repo, 'dist/src/cli.js');
let root: string;
let run: Ran;
let args: string[];

beforeAll(async () => {
  root = tempDir('imgstream-bench-');
  writeFileSync(path.join(root, 'performance.md'), '# x\n\nintro\n\n<!-- PERFORMANCE -->\n');
  args = [
    bin, 'bench', '--cache-dir', path.join(root, 'cache'), '--out', path.join(root, 'results'), '--size', '24', '--sizes', '12,24',
    '--repeats', '1', '--only', 'breakdown', 'main', 'workers', 'sizes', '--dtype', 'uint8', '--workers', '1', '--ceiling-concurrency', '2',
    '--memory-cap', '2GiB', '--breakdown-files', '6', '--no-pytorch', '--no-progress', '--write-docs', path.join(root, 'performance.md'),
  ];
  // Generous: a loaded machine slows every scenario; nothing here is timed.
  run = await runNode(args, { cwd: repo, timeoutMs: 300_000 });
}, 310_000);
afterAll(() => removeDir(root));

describe('imgstream bench (smoke)', () => {
  it('exits 0 and prints the table', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('| loader | dtype | images/s |');
  });

  it('writes a JSON report with the machine, every run and the derived rows', () => {
    const files = readdirSync(path.join(root, 'results'));
    const json = files.find((f) => f.endsWith('.json')) as string;
    expect(json).toBeDefined();
    const report = JSON.parse(readFileSync(path.join(root, 'results', json), 'utf8'));
    // The command the user ran (here the built file, as `node <file>`), not a fixed string.
    expect(report.command).toBe(['node dist/src/cli.js', ...args.slice(1)].join(' '));
    expect(report.machine).toMatchObject({ cores: expect.any(Number), node: process.version, libvips: expect.any(String) });
    // The main comparison reads the set's JPEGs alone, the files the decode-only row decodes, and says what it left out.
    const leftOut = (report.notes as string[]).map((n) => /^The main comparison reads the folder's JPEGs only \((\d+) png left out\)/.exec(n)).find((m) => m !== null);
    expect(leftOut, report.notes.join('\n')).toBeDefined();
    const jpegs = 24 - Number(leftOut?.[1]);
    expect(jpegs).toBeLessThan(24);
    expect(report.dataset.files).toBe(jpegs);
    expect(report.dataset.formats).toEqual({ jpg: jpegs });
    const groups = new Set(report.records.map((r: { spec: { group: string } }) => r.spec.group));
    expect([...groups].sort()).toEqual(['breakdown', 'main', 'sizes', 'workers']);
    for (const r of report.records.filter((x: { spec: { group: string } }) => x.spec.group !== 'breakdown')) {
      expect(r.attempts).toHaveLength(1);
      // Every main row reads the same JPEGs; the decode-only row declines none of them.
      if (r.spec.scenario === 'decode-only') expect(r.attempts[0].result.extra.declined).toBe(0);
      const images = r.spec.group === 'main' ? jpegs : 24 - (r.spec.x === 12 ? 12 : 0);
      expect(r.median, `${r.spec.label}: ${r.attempts[0].error}`).toMatchObject({ imagesPerSecond: expect.any(Number), peakMemoryBytes: expect.any(Number), images });
    }
    // Every loader row reports its CPU time per image (all threads or processes), a positive figure.
    for (const row of report.derived.rows) expect(row.cpuMsPerImage, row.label).toBeGreaterThan(0);
    expect(run.stdout).toContain('| CPU ms/image |');
    const labels = report.derived.rows.map((r: { label: string }) => r.label);
    expect(labels.some((l: string) => l.startsWith('decode ceiling'))).toBe(true);
    expect(labels.some((l: string) => l.startsWith("imgstream's decoder bare"))).toBe(true);
    // The physical limit is measured, or the run says why not.
    const decodeOnly = labels.some((l: string) => l.startsWith('libjpeg-turbo decode only'));
    expect(decodeOnly || report.notes.some((n: string) => n.startsWith('libjpeg-turbo decode-only row skipped'))).toBe(true);
    expect(labels).toEqual(expect.arrayContaining(['imgstream', 'imgstream, warm epoch (2nd of one loader)', 'one-at-a-time generator', 'naive load-all']));
    // The warm row times the loader's second epoch alone: one epoch's images (checked above), after one untimed.
    const warm = report.records.find((r: { spec: { label: string } }) => r.spec.label.startsWith('imgstream, warm epoch'));
    expect(warm.attempts[0].result.extra.warmEpochs).toBe(1);
    expect(report.derived.breakdown.length).toBeGreaterThan(5);
    expect(report.derived.sizes.map((s: { size: number }) => s.size)).toEqual([12, 24]);
    expect(report.derived.targets.length).toBeGreaterThan(0);
  });

  it('writes the markdown, the SVG plots and the docs page\'s section', () => {
    const files = readdirSync(path.join(root, 'results'));
    expect(files.some((f) => f.endsWith('.md'))).toBe(true);
    for (const plot of ['workers', 'sizes']) {
      const svg = files.find((f) => f.endsWith(`-${plot}.svg`)) as string;
      expect(svg, plot).toBeDefined();
      expect(readFileSync(path.join(root, 'results', svg), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    }
    const page = readFileSync(path.join(root, 'performance.md'), 'utf8');
    expect(page).toMatch(/^# x\n\nintro\n\n<!-- PERFORMANCE -->\n## Measured\n[\s\S]*\| loader \|[\s\S]*<!-- \/PERFORMANCE -->\n?$/);
    expect(existsSync(path.join(root, 'cache', 'set-24', '.complete.json'))).toBe(true);
  });

  it("names `npm run bench -- <args>` as its command when run that way, and prints the report as JSON with --json", async () => {
    const extra = ['--only', 'breakdown', '--breakdown-files', '2', '--size', '10', '--cache-dir', path.join(root, 'cache'), '--out', path.join(root, 'npm-results'), '--no-pytorch', '--json'];
    const out = await runCommand('npm', ['run', '--silent', 'bench', '--', ...extra], { cwd: repo, timeoutMs: 200_000 });
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as { command: string; derived: { breakdown: unknown[] } };
    expect(report.command).toBe(`npm run bench -- ${extra.join(' ')}`);
    expect(report.derived.breakdown.length).toBeGreaterThan(0);
  }, 210_000);
});

describe('imgstream bench --only shards (smoke)', () => {
  let shardsRoot: string;
  let ran: Ran;
  beforeAll(async () => {
    shardsRoot = tempDir('imgstream-bench-shards-');
    const args = [
      bin, 'bench', '--cache-dir', path.join(shardsRoot, 'cache'), '--out', path.join(shardsRoot, 'results'), '--size', '24',
      '--repeats', '1', '--only', 'shards', '--no-pytorch', '--no-progress',
    ];
    ran = await runNode(args, { cwd: repo, timeoutMs: 100_000 });
  }, 110_000);
  afterAll(() => removeDir(shardsRoot));

  it('runs the folder, local shards, HTTP shards and pack rows on the same images and reports their ratios', () => {
    expect(ran.code, ran.stderr).toBe(0);
    const json = readdirSync(path.join(shardsRoot, 'results')).find((f) => f.endsWith('.json')) as string;
    const report = JSON.parse(readFileSync(path.join(shardsRoot, 'results', json), 'utf8'));
    expect(report.records.map((r: { spec: { label: string } }) => r.spec.label)).toEqual(['folder', 'local shards', 'shards over HTTP (loopback)', 'imgstream pack']);
    for (const r of report.records) {
      expect(r.median, `${r.spec.label}: ${r.attempts[0].error}`).toMatchObject({ images: 24, imagesPerSecond: expect.any(Number), peakMemoryBytes: expect.any(Number) });
    }
    expect(ran.stdout).toContain('| source | images/s | vs folder | CPU ms per image (vs folder) | peak memory | first batch |');
    const targets = report.derived.targets.map((t: { target: string }) => t.target);
    expect(targets).toEqual(expect.arrayContaining(["local shards >= 0.95x the folder's images/s", "shards over HTTP (loopback) >= 0.9x the folder's images/s"]));
  });
});
