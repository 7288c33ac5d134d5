/**
 * The benchmark runner (`imgstream bench`, `npm run bench`): plans the runs, runs each scenario in its own
 * child process (clean peak memory), interleaves the repeats, takes medians, and writes the JSON, markdown
 * and SVG report (and, when asked, the measured section of docs/performance.md).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bytes from 'bytes';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import sharp from 'sharp';
import { parseByteSize } from '../src/options.js';
import { defaultCacheDir, describeFolder, ensureDataset, jpegOnlyView } from './dataset.js';
import { GROUPS, type Attempt, type Figures, type Group, type Machine, type RunRecord, type RunSpec, type Settings } from './records.js';
import { TORCH_WARM_LABEL, WARM_LABEL, writeReport, type Report } from './report.js';
import type { Dtype, ScenarioConfig, ScenarioResult } from './scenarios/common.js';
import { prepareDecodeOnly } from './scenarios/decode-loop.js';
import { findPil, findTorch, scriptPath } from './scenarios/pytorch.js';
import { IMGSTREAM_VARIANTS, parseVariant, type Variant } from './variants.js';
import { packedShards, shardSpecs } from './shards.js';
import { objectStoreMissing, startObjectStore } from './object-store.js';
import { decoderReported, describeDecoder } from '../src/native/addon.js';

function intList(value: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 0)) throw new InvalidArgumentError('Expected a comma-separated list of non-negative integers.');
  return list;
}

function byteSize(value: string): number {
  try {
    return parseByteSize('size', value);
  } catch {
    throw new InvalidArgumentError(`Expected a size like 64MiB or 2GiB but received ${value}.`);
  }
}

function sizeList(value: string): number[] {
  return value.split(',').map(byteSize);
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected a positive integer.');
  return n;
}

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

export function buildCommand(): Command {
  return new Command('imgstream bench')
    .description(
      'Measure imgstream against the decode ceiling, a naive load-everything loader, a one-at-a-time generator and ' +
        "PyTorch's DataLoader on the same images: images/s, peak memory, time to first batch, consumer stalls, and sweeps " +
        'over workers, memory budget, model step time and dataset size. Writes JSON, markdown and SVG plots.',
    )
    .option('--quick', 'a smoke run of under 2 minutes: small dataset, one repeat, short sweeps')
    .option('--dir <folder>', 'run on your own images (one sub-folder per class) instead of the generated set')
    .option('--cache-dir <folder>', 'where generated datasets are cached (default: node_modules/.cache/imgstream/bench-data of the project, else the user cache folder)')
    .option('--size <n>', 'images in the generated main dataset (default 2000; quick 400)', positive)
    .option('--sizes <list>', 'dataset sizes of the memory sweep (default 1000,10000,50000; quick 200,800)', intList)
    .option('--repeats <n>', 'runs of each scenario, interleaved; medians are reported (default 3; quick 1)', positive)
    .option('--image-size <h,w>', 'output size', intList, [224, 224])
    .option('--batch-size <n>', 'batch size', positive, 32)
    .addOption(new Option('--dtype <dtype...>', 'output dtypes of the main comparison').choices(['float32', 'uint8']).default(['uint8', 'float32']))
    .option('--workers <list>', 'worker counts of the workers sweep (default 1..2 x cores; quick 1..cores)', intList)
    .option('--pytorch-workers <list>', 'num_workers of the PyTorch rows (default 0..2 x cores; quick cores)', intList)
    .option('--ceiling-concurrency <list>', 'sharp calls in flight tried for the ceiling (default cores,2 x cores,4 x cores)', intList)
    .option('--budgets <list>', 'memoryBudget values of the budget sweep (default 64MiB..1GiB; quick 64MiB,128MiB)', sizeList)
    .option('--steps <list>', 'model step times (ms per batch) of the stall sweep (default: 0..2 x the ceiling time of a batch)', intList)
    .option('--breakdown-files <n>', 'JPEGs timed in the sharp breakdown (default 60; quick 30)', positive)
    .option('--sizes-budget <size>', "imgstream's memoryBudget in the dataset-size sweep (default 256MiB; quick 64MiB)", byteSize)
    .option('--memory-cap <size>', 'RSS past which a run of the dataset-size sweep or the naive loader is killed (default 2GiB; quick 400MiB)', byteSize)
    .addOption(new Option('--only <group...>', 'run only these groups').choices([...GROUPS]))
    .option('--variant <name=json>', 'add an imgstream row with these loader options (and "env" for its process), e.g. \'decoder=sharp={"decoder":"sharp"}\'', (v, acc: Variant[]) => [...acc, parseVariant(v)], [] as Variant[])
    .option('--python <path>', 'Python interpreter for the PyTorch and PIL rows (default: the first that imports torch)')
    .option('--no-pytorch', 'skip the PyTorch rows')
    .option('--out <folder>', 'results folder', 'bench/results')
    .option('--write-docs [file]', "replace the measured section of docs/performance.md (between its <!-- PERFORMANCE --> markers) with this run's tables")
    .option('--report-from <json>', 'run nothing: write the report (and docs section) again from a saved results JSON')
    .option('--json', 'print the report (every run and the derived figures) as JSON instead of the tables; no progress output')
    .option('--no-progress', 'no progress bars (they show only on a terminal)')
    .option('--timeout <seconds>', 'longest a single run may take', positive, 1800)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
}

export function resolveSettings(opts: Record<string, unknown>): Settings {
  const quick = Boolean(opts.quick);
  const cores = Math.max(1, os.availableParallelism());
  const mib = 1024 * 1024;
  const imageSize = opts.imageSize as number[];
  if (imageSize.length !== 2 || imageSize.some((n) => n < 1)) throw new Error(`Expected --image-size h,w but received ${imageSize.join(',')}`);
  const docs = opts.writeDocs;
  return {
    quick,
    dir: (opts.dir as string | undefined) ?? null,
    cacheDir: (opts.cacheDir as string | undefined) ?? defaultCacheDir(),
    size: (opts.size as number | undefined) ?? (quick ? 400 : 2000),
    sizes: (opts.sizes as number[] | undefined) ?? (quick ? [200, 800] : [1000, 10_000, 50_000]),
    repeats: (opts.repeats as number | undefined) ?? (quick ? 1 : 3),
    imageSize: [imageSize[0], imageSize[1]],
    batchSize: opts.batchSize as number,
    dtypes: opts.dtype as Dtype[],
    workers: (opts.workers as number[] | undefined) ?? range(1, quick ? cores : 2 * cores),
    pytorchWorkers: (opts.pytorchWorkers as number[] | undefined) ?? (quick ? [cores] : range(0, 2 * cores)),
    ceilingConcurrency: (opts.ceilingConcurrency as number[] | undefined) ?? (quick ? [cores, 2 * cores] : [cores, 2 * cores, 4 * cores]),
    budgets: (opts.budgets as number[] | undefined) ?? (quick ? [64 * mib, 128 * mib] : [64, 128, 256, 512, 1024].map((m) => m * mib)),
    steps: (opts.steps as number[] | undefined) ?? null,
    breakdownFiles: (opts.breakdownFiles as number | undefined) ?? (quick ? 30 : 60),
    sizesBudget: (opts.sizesBudget as number | undefined) ?? (quick ? 64 * mib : 256 * mib),
    memoryCap: (opts.memoryCap as number | undefined) ?? (quick ? 400 * mib : 2048 * mib),
    // --quick keeps to its two minutes: the object store (a server to start and fill) only when asked for.
    groups: (opts.only as Group[] | undefined) ?? GROUPS.filter((g) => !(quick && g === 'object-store')),
    variants: [...IMGSTREAM_VARIANTS, ...(opts.variant as Variant[])],
    python: opts.python as string | undefined,
    pytorch: opts.pytorch !== false,
    out: opts.out as string,
    writeDocs: docs === undefined || docs === false ? null : docs === true ? 'docs/performance.md' : String(docs),
    reportFrom: (opts.reportFrom as string | undefined) ?? null,
    progress: opts.progress !== false && opts.json !== true,
    json: opts.json === true,
    timeoutSeconds: opts.timeout as number,
  };
}

/** The child's command line for a scenario: built `.js` next to this file, or `.ts` through tsx from sources. */
function scenarioCommand(spec: RunSpec, python: string | null): { file: string; args: string[] } | null {
  const json = JSON.stringify(spec.config);
  if (spec.scenario === 'pytorch' || spec.scenario === 'pil-decode') {
    const script = scriptPath(spec.scenario === 'pytorch' ? 'pytorch.py' : 'pil-decode.py');
    if (python === null || script === null) return null;
    const config = spec.scenario === 'pil-decode' ? JSON.stringify({ ...spec.config, ...spec.config.options }) : json;
    return { file: python, args: [script, config] };
  }
  const self = fileURLToPath(import.meta.url);
  const ext = self.endsWith('.ts') ? 'ts' : 'js';
  const file = fileURLToPath(new URL(`./scenarios/${spec.scenario}.${ext}`, import.meta.url));
  return { file: process.execPath, args: [...(ext === 'ts' ? ['--import', 'tsx'] : []), file, json] };
}

function readRss(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs one scenario in a child process, watching its RSS against the cap. */
export function runOnce(spec: RunSpec, python: string | null, timeoutSeconds: number): Promise<Attempt> {
  const command = scenarioCommand(spec, python);
  if (command === null) return Promise.resolve({ ok: false, error: 'not available', watchedPeakBytes: 0 });
  return new Promise((resolve) => {
    const child = spawn(command.file, command.args, { env: { ...process.env, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let watchedPeakBytes = 0;
    let killedAtCap = false;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
    });
    const poll = setInterval(() => {
      if (child.pid === undefined) return;
      const rss = readRss(child.pid);
      watchedPeakBytes = Math.max(watchedPeakBytes, rss);
      if (spec.capBytes !== undefined && rss > spec.capBytes && !killedAtCap) {
        killedAtCap = true;
        child.kill('SIGKILL');
      }
    }, 20);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      clearInterval(poll);
      clearTimeout(timer);
      const loaded = [...stderr.matchAll(/loaded (\d+)/g)].pop();
      if (killedAtCap) {
        resolve({ ok: false, killedAtCap: true, loadedAtKill: loaded ? Number(loaded[1]) : 0, watchedPeakBytes, error: `killed past the ${bytes.format(spec.capBytes ?? 0)} memory cap` });
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) {
        try {
          resolve({ ok: true, result: JSON.parse(line) as ScenarioResult, watchedPeakBytes });
          return;
        } catch {
          // reported below as a failure
        }
      }
      const why = spawnError?.message ?? (timedOut ? `timed out after ${timeoutSeconds} s` : `exit ${code ?? signal}`);
      const tail = stderr.trim().split('\n').slice(-3).join(' | ');
      resolve({ ok: false, error: `${why}${tail ? `: ${tail}` : ''}`, watchedPeakBytes });
    };
    child.on('error', (err) => finish(null, null, err));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function figuresOf(attempts: Attempt[]): Figures | null {
  const results = attempts.filter((a) => a.ok && a.result).map((a) => a.result as ScenarioResult);
  if (results.length === 0) return null;
  const pick = (f: (r: ScenarioResult) => number) => median(results.map(f));
  return {
    imagesPerSecond: pick((r) => (r.wallMs > 0 ? r.images / (r.wallMs / 1000) : 0)),
    wallMs: pick((r) => r.wallMs),
    timeToFirstBatchMs: pick((r) => r.timeToFirstBatchMs),
    stallShare: pick((r) => (r.wallMs > r.timeToFirstBatchMs ? r.stallMs / (r.wallMs - r.timeToFirstBatchMs) : 0)),
    peakMemoryBytes: pick((r) => r.peakMemoryBytes),
    images: pick((r) => r.images),
    cpuMsPerImage: results.every((r) => r.cpuMs !== undefined && r.images > 0) ? pick((r) => (r.cpuMs ?? 0) / r.images) : null,
  };
}

interface Progress {
  start(total: number, label: string): void;
  tick(label: string, line: string): void;
  stop(): void;
}

function makeProgress(enabled: boolean): Progress {
  const tty = enabled && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(total, label) {
      if (!tty) {
        if (enabled) process.stderr.write(`${label}: ${total} runs\n`);
        return;
      }
      bar = new cliProgress.SingleBar(
        { format: '{phase} [{bar}] {value}/{total} {run}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { phase: label, run: '' });
    },
    tick(label, line) {
      if (bar) bar.increment(1, { run: label });
      else if (enabled) process.stderr.write(`  ${line}\n`);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

function describeAttempt(spec: RunSpec, a: Attempt): string {
  if (!a.ok) return `${spec.label}: ${a.error}`;
  const r = a.result as ScenarioResult;
  if (spec.group === 'breakdown') return `${spec.label}: done`;
  return `${spec.label} (${spec.config.dtype}${spec.config.stepMs ? `, step ${spec.config.stepMs} ms` : ''}): ${(r.images / (r.wallMs / 1000)).toFixed(0)} img/s, ${bytes.format(r.peakMemoryBytes)}`;
}

/** Runs `specs` `repeats` times, interleaved (all specs once, then again), and records every attempt. */
async function runGroup(name: string, specs: RunSpec[], settings: Settings, python: string | null, progress: Progress): Promise<RunRecord[]> {
  const records = specs.map((spec) => ({ spec, attempts: [] as Attempt[], median: null as Figures | null }));
  const repeats = specs[0]?.group === 'breakdown' ? 1 : settings.repeats;
  progress.start(specs.length * repeats, name);
  // A run that cannot start (no Python) or hit the memory cap will not do better next time.
  const settled = new Set<string>();
  for (let r = 0; r < repeats; r++) {
    for (const record of records) {
      if (settled.has(record.spec.id)) {
        progress.tick(record.spec.label, `${record.spec.label}: not repeated`);
        continue;
      }
      const attempt = await runOnce(record.spec, python, settings.timeoutSeconds);
      record.attempts.push(attempt);
      progress.tick(record.spec.label, describeAttempt(record.spec, attempt));
      if (!attempt.ok && (attempt.error === 'not available' || attempt.killedAtCap)) settled.add(record.spec.id);
    }
  }
  progress.stop();
  for (const record of records) record.median = figuresOf(record.attempts);
  return records;
}

function machine(torch: ReturnType<typeof findTorch>, pil: ReturnType<typeof findPil>): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    jpeg: (sharp.versions as Record<string, string | undefined>).mozjpeg ? `mozjpeg ${(sharp.versions as Record<string, string>).mozjpeg}` : 'libjpeg',
    decoder: describeDecoder(),
    torch: 'torch' in torch ? `torch ${torch.torch}, torchvision ${torch.torchvision} (${torch.python})` : null,
    pil: pil ? `PIL ${pil.pil.split(' ')[0]}, libjpeg ${pil.pil.split(' ')[1]}` : null,
    loadAverageAtStart: os.loadavg(),
    loadAverageAtEnd: [] as number[],
  };
}

/** The command line the report names: the one the user typed, or `imgstream bench <args>`. */
export interface RunBenchOptions {
  /** Default `imgstream bench` followed by `argv`. */
  command?: string;
}

/** What `runBench` prints on stdout: the tables, or with `--json` the report itself. */
function printReport(report: Report, written: { markdown: string; derived: unknown; files: string[] }, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify({ ...report, derived: written.derived }, null, 2)}\n` : `${written.markdown}\n`);
  process.stderr.write(`${json ? '' : '\n'}wrote ${written.files.join(', ')}\n`);
}

/**
 * Runs the benchmark with command-line arguments (after `bench`) and returns the exit code.
 *
 * @example
 * process.exitCode = await runBench(['--quick']);
 */
export async function runBench(argv: string[], options: RunBenchOptions = {}): Promise<number> {
  const command = buildCommand();
  try {
    command.parse(argv, { from: 'user' });
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return typeof code === 'number' ? code : 1;
  }
  let settings: Settings;
  try {
    settings = resolveSettings(command.opts());
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  }
  if (settings.reportFrom !== null) {
    const saved = JSON.parse(readFileSync(settings.reportFrom, 'utf8')) as Report & { derived?: unknown };
    delete saved.derived;
    const written = await writeReport(saved, { ...saved.settings, out: settings.out, writeDocs: settings.writeDocs });
    printReport(saved, written, settings.json);
    return 0;
  }
  const startedAt = new Date();
  const cores = Math.max(1, os.availableParallelism());
  const progress = makeProgress(settings.progress);
  const notes: string[] = [];

  const torch = settings.pytorch ? findTorch(settings.python) : { missing: 'skipped (--no-pytorch)' };
  const torchPython = 'python' in torch ? torch.python : null;
  if ('missing' in torch) notes.push(`PyTorch rows skipped: ${torch.missing}.`);
  const pil = findPil(settings.python);
  if (pil === null) notes.push('libjpeg-turbo timings (PIL) skipped: no python3 that imports PIL.');

  const generate = async (size: number) => {
    let bar: cliProgress.SingleBar | null = null;
    const dir = await ensureDataset(settings.cacheDir, size, {
      onProgress: (done, total) => {
        if (!settings.progress || !process.stderr.isTTY) return;
        if (bar === null) {
          bar = new cliProgress.SingleBar({ format: `dataset ${size} [{bar}] {value}/{total} {eta_formatted}`, clearOnComplete: true, stream: process.stderr }, cliProgress.Presets.shades_classic);
          bar.start(total, 0);
        }
        bar.update(done);
      },
    });
    (bar as cliProgress.SingleBar | null)?.stop();
    return dir;
  };

  let mainDir: string;
  if (settings.dir !== null) {
    if (!existsSync(settings.dir)) {
      process.stderr.write(`error: Expected an existing folder for --dir but received ${settings.dir}\n`);
      return 1;
    }
    mainDir = path.resolve(settings.dir);
  } else {
    if (settings.progress) process.stderr.write(`dataset: ${settings.size} images in ${settings.cacheDir} (generated once, cached)\n`);
    mainDir = path.resolve(await generate(settings.size));
  }
  const has = (g: Group) => settings.groups.includes(g);
  // The main comparison reads the folder's JPEGs only, so that every row, the decode-only one included, reads the same files.
  const jpegs = has('main') ? await jpegOnlyView(mainDir, settings.cacheDir) : { dir: mainDir, left: {} };
  const leftOut = Object.entries(jpegs.left).map(([ext, n]) => `${n} ${ext}`).join(', ');
  if (leftOut !== '') notes.push(`The main comparison reads the folder's JPEGs only (${leftOut} left out), the files the libjpeg-turbo decode-only row reads.`);
  const dataset = { dir: settings.dir ?? `generated, ${settings.size} images`, ...(await describeFolder(jpegs.dir)) };

  const base = (dtype: Dtype, options: Record<string, unknown> = {}, stepMs = 0, dir = mainDir): ScenarioConfig => ({
    dir,
    imageSize: settings.imageSize,
    dtype,
    batchSize: settings.batchSize,
    stepMs,
    options,
  });
  const records: RunRecord[] = [];

  if (has('breakdown')) {
    const specs: RunSpec[] = [
      { id: 'breakdown-sharp', group: 'breakdown', label: 'sharp step timings', scenario: 'sharp-breakdown', config: base('uint8', { files: settings.breakdownFiles, passes: settings.quick ? 2 : 3 }) },
    ];
    if (pil) specs.push({ id: 'breakdown-pil', group: 'breakdown', label: 'PIL (libjpeg-turbo) timings', scenario: 'pil-decode', config: base('uint8', { files: settings.breakdownFiles, passes: settings.quick ? 2 : 3 }) });
    records.push(...(await runGroup('breakdown', specs, settings, pil?.python ?? null, progress)));
  }

  const ceilingFor = (dtype: Dtype) =>
    Math.max(0, ...records.filter((r) => r.spec.group === 'main' && r.spec.scenario === 'ceiling' && r.spec.config.dtype === dtype).map((r) => r.median?.imagesPerSecond ?? 0));

  if (has('main')) {
    const mainBase = (dtype: Dtype, options: Record<string, unknown> = {}) => base(dtype, options, 0, jpegs.dir);
    const specs: RunSpec[] = [];
    const decodeOnly = prepareDecodeOnly(path.join(settings.cacheDir, 'tools'));
    if ('missing' in decodeOnly) notes.push(`libjpeg-turbo decode-only row skipped: ${decodeOnly.missing}`);
    for (const dtype of settings.dtypes) {
      for (const c of settings.ceilingConcurrency) {
        const env = { UV_THREADPOOL_SIZE: String(Math.max(4, c)) };
        specs.push({ id: `main-ceiling-${dtype}-c${c}`, group: 'main', label: `decode ceiling (bare sharp, ${c} in flight)`, scenario: 'ceiling', config: mainBase(dtype, { concurrency: c }), env });
      }
      // As imgstream runs: one thread per core, two calls in flight each.
      specs.push({
        id: `main-ceiling-${dtype}-threads`, group: 'main', label: `decode ceiling (bare sharp, ${cores} threads x 2 in flight)`, scenario: 'ceiling',
        config: mainBase(dtype, { concurrency: 2 * cores, threads: cores }), env: { UV_THREADPOOL_SIZE: String(Math.max(4, 2 * cores)) },
      });
      // libjpeg-turbo alone, full size, files in memory: the physical limit every row is read against.
      if (!('missing' in decodeOnly)) {
        specs.push({ id: `main-decode-only-${dtype}`, group: 'main', label: `libjpeg-turbo decode only (${cores} threads, full size, files in memory)`, scenario: 'decode-only', config: mainBase(dtype, { threads: cores, ...decodeOnly }) });
      }
      // The decoder imgstream runs (the native fast path where built), bare: its loader's own ceiling.
      specs.push({ id: `main-fast-ceiling-${dtype}`, group: 'main', label: `imgstream's decoder bare (${cores} threads, no ring)`, scenario: 'fast-ceiling', config: mainBase(dtype, { threads: cores }) });
      for (const v of settings.variants) specs.push({ id: `main-${v.name}-${dtype}`, group: 'main', label: v.name, scenario: 'imgstream', config: mainBase(dtype, v.options), env: v.env });
      // Every epoch after the first: the same loader's second epoch, timed alone (workers started, sharp loaded).
      specs.push({ id: `main-warm-${dtype}`, group: 'main', label: WARM_LABEL, scenario: 'imgstream', config: mainBase(dtype, { warmEpochs: 1 }) });
      specs.push({ id: `main-one-${dtype}`, group: 'main', label: 'one-at-a-time generator', scenario: 'one-at-a-time', config: mainBase(dtype) });
      specs.push({ id: `main-naive-${dtype}`, group: 'main', label: 'naive load-all', scenario: 'naive', config: mainBase(dtype), capBytes: settings.memoryCap });
      if (torchPython) {
        specs.push({ id: `main-pytorch-${dtype}`, group: 'main', label: `PyTorch DataLoader (num_workers=${cores})`, scenario: 'pytorch', config: mainBase(dtype, { numWorkers: cores }) });
        specs.push({ id: `main-pytorch-warm-${dtype}`, group: 'main', label: `${TORCH_WARM_LABEL} (num_workers=${cores}, persistent workers)`, scenario: 'pytorch', config: mainBase(dtype, { numWorkers: cores, warmEpochs: 1 }) });
      }
    }
    records.push(...(await runGroup('main', specs, settings, torchPython, progress)));
    // A JPEG libjpeg-turbo does not decode as RGB or grey (CMYK) is declined by the decode-only loop but loaded by the others.
    const declined = Math.max(0, ...records.filter((r) => r.spec.scenario === 'decode-only').flatMap((r) => r.attempts.map((x) => Number(x.result?.extra?.declined ?? 0))));
    if (declined > 0) notes.push(`The decode-only row declined ${declined} of the JPEGs (not RGB or grey to libjpeg-turbo): the other rows decode them too.`);
  }

  if (has('workers')) {
    const specs: RunSpec[] = settings.workers.map((w) => ({
      id: `workers-imgstream-${w}`, group: 'workers' as const, label: `imgstream workers=${w}`, scenario: 'imgstream' as const,
      config: base('uint8', { workers: w }), env: { UV_THREADPOOL_SIZE: String(Math.max(4, w)) }, series: 'imgstream', x: w,
    }));
    if (torchPython) {
      for (const w of settings.pytorchWorkers) {
        specs.push({ id: `workers-pytorch-${w}`, group: 'workers', label: `PyTorch num_workers=${w}`, scenario: 'pytorch', config: base('uint8', { numWorkers: w }), series: 'PyTorch DataLoader', x: w });
      }
    }
    records.push(...(await runGroup('workers', specs, settings, torchPython, progress)));
  }

  if (has('budget')) {
    const specs: RunSpec[] = settings.budgets.map((b) => ({
      id: `budget-${b}`, group: 'budget' as const, label: `imgstream memoryBudget=${bytes.format(b)}`, scenario: 'imgstream' as const,
      // prefetch as deep as the budget allows, so that the sweep shows what a deeper ring buys.
      config: base('float32', { memoryBudget: b, prefetch: 1 << 20 }), series: 'imgstream', x: b / (1024 * 1024),
    }));
    records.push(...(await runGroup('budget', specs, settings, torchPython, progress)));
  }

  if (has('steps')) {
    let steps = settings.steps;
    if (steps === null) {
      const ceiling = ceilingFor('float32');
      const batchMs = ceiling > 0 ? (settings.batchSize / ceiling) * 1000 : 100;
      const factors = settings.quick ? [0, 1, 2] : [0, 0.25, 0.5, 0.75, 1, 1.5, 2];
      steps = factors.map((f) => Math.round(f * batchMs));
      notes.push(`Model step times are multiples (${factors.join(', ')}) of the time the decode ceiling takes for one batch (${batchMs.toFixed(0)} ms).`);
    }
    const specs: RunSpec[] = steps.map((t) => ({
      id: `steps-${t}`, group: 'steps' as const, label: `imgstream, model step ${t} ms`, scenario: 'imgstream' as const,
      config: base('float32', {}, t), series: 'imgstream', x: t,
    }));
    records.push(...(await runGroup('steps', specs, settings, torchPython, progress)));
  }

  if (has('shards')) {
    if (settings.progress) process.stderr.write('shards: packing the dataset once (cached)\n');
    const shards = await packedShards(mainDir, settings.cacheDir);
    records.push(...(await runGroup('shards', shardSpecs(base, shards, 'uint8'), settings, torchPython, progress)));
  }

  if (has('object-store')) {
    const missing = objectStoreMissing();
    if (missing !== null) {
      notes.push(`Object-storage rows skipped: ${missing}.`);
    } else {
      if (settings.progress) process.stderr.write('object-store: starting the store and uploading the dataset (folder and shards)\n');
      const shards = await packedShards(mainDir, settings.cacheDir);
      const store = await startObjectStore(base, mainDir, shards, cores);
      try {
        records.push(...(await runGroup('object-store', store.specs, settings, torchPython, progress)));
      } finally {
        await store.stop();
      }
    }
  }

  if (has('sizes')) {
    if (settings.dir !== null) {
      notes.push('Dataset-size sweep skipped: it needs the generated datasets (it runs without --dir).');
    } else {
      const specs: RunSpec[] = [];
      for (const size of settings.sizes) {
        if (settings.progress) process.stderr.write(`dataset: ${size} images\n`);
        const dir = path.resolve(await generate(size));
        specs.push({ id: `sizes-imgstream-${size}`, group: 'sizes', label: `imgstream, ${size} images`, scenario: 'imgstream', config: base('float32', { memoryBudget: settings.sizesBudget }, 0, dir), capBytes: settings.memoryCap, series: 'imgstream', x: size });
        specs.push({ id: `sizes-naive-${size}`, group: 'sizes', label: `naive load-all, ${size} images`, scenario: 'naive', config: base('float32', {}, 0, dir), capBytes: settings.memoryCap, series: 'naive load-all', x: size });
      }
      records.push(...(await runGroup('sizes', specs, settings, torchPython, progress)));
    }
  }

  const m = machine(torch, pil);
  decoderReported();
  m.loadAverageAtEnd = os.loadavg();
  const report: Report = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: options.command ?? ['imgstream bench', ...argv].join(' '),
    machine: m,
    settings: { ...settings, variants: settings.variants },
    dataset,
    notes,
    records,
  };
  const written = await writeReport(report, settings);
  printReport(report, written, settings.json);
  return 0;
}
