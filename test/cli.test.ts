/**
 * The `imgstream` command as a user runs it: the built bin in a child process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir, writeImage } from './fixtures/images.js';
import { runNode, type Ran } from './fixtures/process.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(repo, 'dist/src/cli.js');
let root: string;

function run(args: string[], cwd = repo): Promise<Ran> {
  return runNode([bin, ...args], { cwd, timeoutMs: 90_000 });
}

beforeAll(async () => {
  root = tempDir('imgstream-cli-');
  for (let i = 0; i < 3; i++) await writeImage(path.join(root, 'data', 'cat', `c${i}.jpg`), { width: 30 + i, height: 20, seed: i + 1 });
  for (let i = 0; i < 2; i++) await writeImage(path.join(root, 'data', 'dog', `d${i}.png`), { width: 24, height: 40 + i, seed: i + 10 });
  mkdirSync(path.join(root, 'data', 'dog'), { recursive: true });
  writeFileSync(path.join(root, 'data', 'dog', 'broken.png'), 'not a png at all\n');
});
afterAll(() => removeDir(root));

describe('imgstream CLI', () => {
  it('is built', () => {
    expect(existsSync(bin)).toBe(true);
  });

  it('prints help for the program and for each command', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['demo', 'bench', 'inspect', 'pack', 'preview']) expect(top.stdout).toContain(command);
    // bench's help is its runner's: every benchmark option, not only a pass-through argument.
    for (const [command, text] of [['demo', '--epochs'], ['bench', '--quick'], ['bench', '--json'], ['inspect', '<dir>'], ['pack', '--samples-per-shard'], ['preview', '--augment <json>']]) {
      const help = await run([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toContain(`Usage: imgstream ${command}`);
      expect(help.stdout).toContain(text);
    }
  });

  it('prints the package version with --version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const { code, stdout } = await run([flag]);
      expect(code).toBe(0);
      expect(stdout).toBe(`${version}\n`);
    }
  });

  it('inspects a folder: class counts, sizes, and the undecodable file with its reason; exit code 2', async () => {
    const { code, stdout } = await run(['inspect', path.join(root, 'data')]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/cat\s+3/);
    expect(stdout).toMatch(/dog\s+3/);
    expect(stdout).toContain('width 24..32');
    expect(stdout).toContain(`${path.join(root, 'data', 'dog', 'broken.png')}: ERR_NOT_IMAGE`);
    expect(stdout).toContain('1 file(s) cannot be decoded');
  });

  it('packs a folder into WebDataset shards that inspect reads as the loader would', async () => {
    const out = path.join(root, 'shards');
    const packed = await run(['pack', path.join(root, 'data'), out, '--samples-per-shard', '4', '--no-progress']);
    expect(packed.code, packed.stderr).toBe(0);
    expect(packed.stdout).toMatch(/Wrote 2 shards \(6 samples, .* images\/s\)/);
    const tarList = spawnSync('tar', ['-tf', path.join(out, 'shard-000001.tar')], { encoding: 'utf8' });
    expect(tarList.stdout.trim().split('\n')).toHaveLength(4);
    const { code, stdout } = await run(['inspect', path.join(out, 'shard-{000000..000001}.tar')]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/: 6 image files/);
    expect(stdout).toMatch(/cat\s+3/);
    expect(stdout).toMatch(/dog\s+3/);
    expect(stdout).toMatch(/shard-00000[01]\.tar#dog\/broken: ERR_NOT_IMAGE/);
    // The folder pack wrote, given as it is: read as its shards through its shards.json.
    const folder = await run(['inspect', out]);
    expect(folder.code).toBe(2);
    expect(folder.stdout).toMatch(/: 6 image files/);
    expect(folder.stdout).toMatch(/shard-00000[01]\.tar#dog\/broken: ERR_NOT_IMAGE/);
  });

  it('inspect --json gives the same report as data, and exit code 0 on a clean folder', async () => {
    const { code, stdout } = await run(['inspect', '--json', path.join(root, 'data', 'cat')]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.files).toBe(3);
    expect(report.bad).toEqual([]);
    expect(report.formats).toEqual({ jpeg: 3 });
  });

  it('reports errors as one line without a stack trace and exits non-zero', async () => {
    for (const args of [['inspect', path.join(root, 'nope')], ['frobnicate'], ['demo', '--epochs', 'zero']]) {
      const { code, stderr } = await run(args);
      expect(code, args.join(' ')).toBe(1);
      expect(stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(stderr).toMatch(/^error: /);
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('previews an augmentation as a PNG grid, skipping the undecodable file', async () => {
    const out = path.join(root, 'preview', 'grid.png');
    const augment = JSON.stringify({ horizontalFlip: 0.5, rotation: 10 });
    const { code, stdout, stderr } = await run(['preview', path.join(root, 'data'), '--augment', augment, '--out', out, '--samples', '6', '--variants', '2', '--size', '20x30']);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^Wrote .*grid\.png \(\d+x\d+: 5 samples, original \+ 2 draws\)/);
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([3 * 30 + 6 * 4, 5 * 20 + 6 * 4]);
    const bad = await run(['preview', path.join(root, 'data'), '--augment', '{"rotation": -1}', '--out', out]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: Expected a number of degrees between 0 and 180 for augment.rotation but received -1 of type number\n$/);
    const json = await run(['preview', path.join(root, 'data'), '--out', out, '--samples', '2', '--variants', '1', '--size', '20x30', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const written = JSON.parse(json.stdout) as { out: string; width: number; height: number; rows: number; columns: number; paths: string[] };
    const png = await sharp(written.out).metadata();
    expect(written).toMatchObject({ width: png.width, height: png.height, columns: 2 });
    expect(written.paths).toHaveLength(written.rows);
    const notJson = await run(['preview', path.join(root, 'data'), '--augment', '{rotation', '--out', out]);
    expect(notJson.stderr).toMatch(/^error: --augment is not valid JSON/);
  });

  it('runs a small demo end to end into the given folders', async () => {
    const cwd = path.join(root, 'demo');
    mkdirSync(cwd, { recursive: true });
    const { code, stdout, stderr } = await run(['demo', '--per-class', '6', '--epochs', '1'], cwd);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('TensorFlow.js backend');
    expect(stderr).toMatch(/Epoch 1\/1 .* loss [\d.]+ acc [\d.]+ .*img\/s .*peak RSS \d+ MB/);
    expect(stdout).toMatch(/Validation accuracy of the best model: [\d.]+%/);
    expect(existsSync(path.join(cwd, '.cache', 'demo-model', 'model.json'))).toBe(true);
    expect(existsSync(path.join(cwd, '.cache', 'demo-data', '9'))).toBe(true);
    const again = await run(['demo', '--per-class', '6', '--epochs', '1'], cwd);
    expect(again.stdout).toContain('Using the cached dataset');
  });
});
