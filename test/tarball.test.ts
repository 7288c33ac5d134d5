/**
 * The package as npm ships it: `npm pack`, installed into an empty project (CommonJS, as `npm init -y` makes
 * it) with no other dependency, then used from there the way the README shows, from ES modules and from
 * CommonJS, and through its bin. One pack and one install are shared by every case; TensorFlow.js is added
 * to the project only for the `imgstream/tf` cases, after the loader alone has been measured and used.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClassFolders, removeDir, tempDir } from './fixtures/images.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};

/** Install size of the loader alone (no TensorFlow.js), the package's target. */
const INSTALL_TARGET_KB = 60 * 1024;

/** Every file the tarball may hold. Anything else (tests, fixtures, maps without sources, caches) fails. */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^CHANGELOG\.md$/,
  /^docs\/[\w-]+\.md$/,
  /^dist\/(src|workers)\/[\w/.-]+\.(js|d\.ts)$/,
  /^dist\/bench\/(?!decoders\.)[\w-]+\.(js|d\.ts)$/, // the runner's modules, not the decoder micro-benchmark (a dev tool)
  /^dist\/bench\/scenarios\/[\w-]+\.(js|d\.ts)$/,
  /^bench\/scenarios\/[\w-]+\.py$/,
  /^src\/native\/(binding\.gyp|build\.mjs|load\.cjs|[\w-]+\.[ch])$/,
  /^src\/native\/prebuilds\/[\w-]+\/imgstream\.node$/, // the addon prebuilt by prepack, for installs that skip scripts
];
/** Files without which an entry point, the bin or a bench row is broken. */
const REQUIRED = [
  'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/performance.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/tf/index.js',
  'dist/src/tf/index.d.ts', 'dist/src/cli.js', 'dist/workers/decode.js', 'dist/bench/run.js', 'dist/bench/scenarios/imgstream.js',
  'bench/scenarios/pytorch.py', 'bench/scenarios/pil-decode.py', 'src/native/binding.gyp', 'src/native/build.mjs',
  'src/native/load.cjs',
];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with npm's own variables removed from the environment: a child of `npm test` inherits
 * `npm_config_local_prefix` and friends, which would point npm at this repository instead of the project.
 * imgstream's own switches go too: `IMGSTREAM_JPEG_BACKEND=native` (CI) is about this repository's build, and
 * the installed copy has its own (npm runs a dependency's install script only once it is approved).
 */
function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') && !k.startsWith('IMGSTREAM_')));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not exit within ${timeoutMs / 1000} s; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function npm(args: string[], cwd: string, timeoutMs = 300_000): Promise<Ran> {
  return run('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], cwd, timeoutMs);
}

let root: string;
let project: string;
let data: string;
let files: string[];
let labels: number[];
let packed: string[];
let loaderInstallKb: number;

beforeAll(async () => {
  root = tempDir('imgstream-tarball-');
  project = path.join(root, 'project');
  data = path.join(root, 'data');
  mkdirSync(project);
  ({ files, labels } = await makeClassFolders(data, { cat: 5, dog: 4 }));
  // dist/ is built by `npm test` (tsc) before the tests run; pack it as it is.
  const pack = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', root], repo);
  expect(pack.code, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path).sort();
  writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'commonjs' }, null, 2)}\n`);
  const install = await npm(['install', path.join(root, info.filename)], project);
  expect(install.code, install.stderr).toBe(0);
  const du = spawnSync('du', ['-sk', 'node_modules'], { cwd: project, encoding: 'utf8' });
  loaderInstallKb = Number(du.stdout.split('\t')[0]);
}, 400_000);
afterAll(() => removeDir(root));

/** Writes `name` into the project and runs it with node from there. */
async function script(name: string, code: string, timeoutMs = 90_000): Promise<Ran> {
  writeFileSync(path.join(project, name), code);
  return run(process.execPath, [name], project, timeoutMs);
}

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>;

describe('the packed tarball', () => {
  it('holds only allow-listed files, and every file an entry point needs', () => {
    const unexpected = packed.filter((f) => !ALLOWED.some((pattern) => pattern.test(f)));
    expect(unexpected).toEqual([]);
    expect(packed).toEqual(expect.arrayContaining(REQUIRED));
    expect(packed.filter((f) => f.endsWith('.map') || f.startsWith('dist/test/'))).toEqual([]);
  });

  it(`installs the loader alone in under ${INSTALL_TARGET_KB / 1024} MB of node_modules, without TensorFlow.js`, () => {
    console.log(`loader alone: node_modules ${(loaderInstallKb / 1024).toFixed(1)} MB (du -sk)`);
    expect(loaderInstallKb).toBeGreaterThan(0);
    expect(loaderInstallKb).toBeLessThan(INSTALL_TARGET_KB);
    expect(existsSync(path.join(project, 'node_modules', '@tensorflow'))).toBe(false);
  });
});

describe('installed into an empty CommonJS project', () => {
  const stream = (dir: string) => `
    const ds = await imageDatasetFromDirectory(${JSON.stringify(dir)}, { imageSize: [16, 16], batchSize: 4, workers: 1, shuffle: false });
    const seen = [];
    for await (const b of ds) b.paths.forEach((p, i) => seen.push([p, b.labels[i]]));
    await ds.close();
    const index = await fromDirectory(${JSON.stringify(dir)});
    const list = fromList(['a.jpg'], [0]);
    console.log(JSON.stringify({ seen, classes: ds.classNames, indexSize: index.size, listSize: list.size, loader: typeof ImageLoader }));`;

  const expectEpoch = (out: Record<string, unknown>) => {
    expect(out.classes).toEqual(['cat', 'dog']);
    expect(out.seen).toEqual(files.map((f, i) => [f, labels[i]]));
    expect(out).toMatchObject({ indexSize: files.length, listSize: 1, loader: 'function' });
  };

  it("streams a folder through `import 'imgstream'` from an ES module", async () => {
    const r = await script('loader.mjs', `import { imageDatasetFromDirectory, fromDirectory, fromList, ImageLoader } from 'imgstream';\n${stream(data)}`);
    expect(r.code, r.stderr).toBe(0);
    expectEpoch(lastJson(r.stdout));
  });

  it("streams a folder through `require('imgstream')` from CommonJS", async () => {
    const r = await script('loader.cjs', `const { imageDatasetFromDirectory, fromDirectory, fromList, ImageLoader } = require('imgstream');\n(async () => {${stream(data)}\n})();`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('ExperimentalWarning');
    expectEpoch(lastJson(r.stdout));
  });

  it('exports its package.json', async () => {
    const r = await script('manifest.cjs', `console.log(JSON.stringify({ version: require('imgstream/package.json').version }));`);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)).toEqual({ version: manifest.version });
  });

  it('imgstream/tf without TensorFlow.js fails with ERR_NOT_INSTALLED naming what to install, from both module systems', async () => {
    const esm = await script('tf-missing.mjs', `try { await import('imgstream/tf'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`);
    const cjs = await script('tf-missing.cjs', `try { require('imgstream/tf'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`);
    for (const r of [esm, cjs]) {
      expect(r.code, r.stderr).toBe(0);
      const err = lastJson(r.stdout);
      expect(err.code).toBe('ERR_NOT_INSTALLED');
      expect(err.message).toMatch(/^imgstream\/tf needs TensorFlow\.js, which is not installed: npm install @tensorflow\/tfjs .* or npm install @tensorflow\/tfjs-node/);
    }
  });

  it('imgstream demo without TensorFlow.js says in one line what to install, exit code 1', async () => {
    const r = await run('npx', ['--no-install', 'imgstream', 'demo', '--per-class', '2', '--epochs', '1'], project, 60_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: imgstream\/tf needs TensorFlow\.js, which is not installed: npm install @tensorflow\/tfjs .*\n$/);
    expect(existsSync(path.join(project, '.cache'))).toBe(false);
  });

  it('npx imgstream --version prints the package version', async () => {
    const r = await run('npx', ['--no-install', 'imgstream', '--version'], project, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${manifest.version}\n`);
  });

  it('imgstream inspect --json prints one JSON report and nothing else on stdout', async () => {
    const r = await run('npx', ['--no-install', 'imgstream', 'inspect', '--json', data], project, 90_000);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { files: number; bad: unknown[]; classes: unknown };
    expect(report.files).toBe(files.length);
    expect(report.bad).toEqual([]);
  });

  it('imgstream bench --quick --json: the report as JSON, Python rows when python3 imports torch, cache outside the working folder', async () => {
    const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
    const pil = spawnSync('/usr/bin/python3', ['-c', 'import PIL'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
    // --quick, narrowed to one point of the workers sweep (imgstream and PyTorch) and the decode breakdown
    // (sharp and PIL) over a small set, to keep this test short.
    const args = ['bench', '--quick', '--json', '--only', 'breakdown', 'workers', '--workers', '1', '--pytorch-workers', '1', '--size', '40',
      '--breakdown-files', '6', '--python', '/usr/bin/python3', '--out', path.join(root, 'results')];
    const r = await run('npx', ['--no-install', 'imgstream', ...args], project, 400_000);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(r.stdout) as {
      command: string;
      notes: string[];
      settings: { cacheDir: string };
      derived: { workers: { workers: number; imgstream: number | null; pytorch: number | null }[] };
      records: { spec: { scenario: string } }[];
    };
    expect(report.command).toBe(`imgstream ${args.join(' ')}`);
    expect(report.settings.cacheDir).toBe(path.join(project, 'node_modules', '.cache', 'imgstream', 'bench-data'));
    expect(existsSync(path.join(report.settings.cacheDir, 'set-40', '.complete.json'))).toBe(true);
    expect(existsSync(path.join(project, '.cache'))).toBe(false);
    expect(r.stderr).not.toMatch(/\r|\u001b\[/); // no progress bar drawn (not a terminal, and --json)
    const [point] = report.derived.workers;
    expect(point).toMatchObject({ workers: 1, imgstream: expect.any(Number) });
    if (torch) {
      expect(point.pytorch, JSON.stringify(report.records.filter((rec) => rec.spec.scenario === 'pytorch'))).toBeGreaterThan(0);
    } else {
      expect(point.pytorch).toBeNull();
      expect(report.notes.some((n) => n.startsWith('PyTorch rows skipped: '))).toBe(true);
    }
    const pilRows = report.records.filter((rec) => rec.spec.scenario === 'pil-decode');
    if (pil) expect(pilRows).toHaveLength(1);
    else expect(report.notes.some((n) => n.startsWith('libjpeg-turbo timings (PIL) skipped'))).toBe(true);
  }, 420_000);

  describe('with @tensorflow/tfjs added', () => {
    beforeAll(async () => {
      const install = await npm(['install', `@tensorflow/tfjs@${manifest.devDependencies['@tensorflow/tfjs']}`], project);
      expect(install.code, install.stderr).toBe(0);
    }, 400_000);

    // The README's training example, cut down: imgstream's tf is the user's tf, batches become tensors, fit
    // names the engine once and tfjs' own banner does not appear.
    const train = (dir: string) => `
      const loader = await imageDatasetFromDirectory(${JSON.stringify(dir)}, { imageSize: [8, 8], batchSize: 3, workers: 1, shuffle: false, normalize: 'unit' });
      const it = await toTfDataset(loader).iterator();
      const { value } = await it.next();
      const shape = value.xs.shape;
      const ys = Array.from(await value.ys.data());
      tf.dispose(value);
      const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8, 3] }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
      model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
      await fit(model, loader, { epochs: 1, callbacks: [earlyStopping({ patience: 1, monitor: 'loss' })] });
      await fit(model, loader, { epochs: 1 });
      await loader.close();
      console.log(JSON.stringify({ sameEngine: tf.tensor === userTf.tensor, shape, ys, backend: backendInfo.backend, hasCheckpoint: typeof modelCheckpoint, hasPredict: typeof predict, hasFs: typeof fileSystem }));`;

    const expectTrained = (r: Ran) => {
      expect(r.code, r.stderr).toBe(0);
      expect(lastJson(r.stdout)).toEqual({ sameEngine: true, shape: [3, 8, 8, 3], ys: labels.slice(0, 3), backend: 'cpu', hasCheckpoint: 'function', hasPredict: 'function', hasFs: 'function' });
      expect(r.stderr).not.toContain('looks like you are running TensorFlow.js in Node.js');
      expect(r.stderr.match(/TensorFlow\.js backend: cpu \(@tensorflow\/tfjs, pure JavaScript; @tensorflow\/tfjs-node not installed/g)).toHaveLength(1);
    };

    it("trains through `import 'imgstream/tf'` from an ES module", async () => {
      const r = await script(
        'train.mjs',
        `import * as userTf from '@tensorflow/tfjs';\nimport { imageDatasetFromDirectory } from 'imgstream';\n` +
          `import { tf, fit, toTfDataset, modelCheckpoint, earlyStopping, predict, fileSystem, backendInfo } from 'imgstream/tf';\n${train(data)}`,
        180_000,
      );
      expectTrained(r);
    }, 200_000);

    it("trains through `require('imgstream/tf')` from CommonJS", async () => {
      const r = await script(
        'train.cjs',
        `const userTf = require('@tensorflow/tfjs');\nconst { imageDatasetFromDirectory } = require('imgstream');\n` +
          `const { tf, fit, toTfDataset, modelCheckpoint, earlyStopping, predict, fileSystem, backendInfo } = require('imgstream/tf');\n(async () => {${train(data)}\n})();`,
        180_000,
      );
      expect(r.stderr).not.toContain('ExperimentalWarning');
      expectTrained(r);
    }, 200_000);
  });
});
