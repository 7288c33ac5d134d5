#!/usr/bin/env node
/**
 * The `imgstream` command: `demo` (train a small CNN from a generated folder), `bench` (the benchmark),
 * `inspect <dir>` (class counts, sizes, undecodable files), `pack <folder-or-csv> <out-dir>` (WebDataset shards)
 * and `preview <dir>` (a grid of augmented samples).
 * Errors print as one line with a non-zero exit code. Commands whose output a script reads take `--json`
 * (one JSON document on stdout, nothing else there); progress bars go to stderr, only on a terminal.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import bytes from 'bytes';
import { Command, InvalidArgumentError } from 'commander';

/** Exit code of `inspect` when it found files that cannot be decoded (1 is for errors). */
export const EXIT_BAD_FILES = 2;

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected a positive integer.');
  return n;
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('Expected a non-negative integer.');
  return n;
}

function byteSizeArgument(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : bytes.parse(value.trim().replace(/([kmgtp])ib$/i, '$1b'));
  if (n === null || !Number.isFinite(n) || n < 1024) throw new InvalidArgumentError('Expected a size such as 256MB or 1GiB.');
  return Math.floor(n);
}

function imageSizeArgument(value: string): readonly [number, number] {
  const parts = value.toLowerCase().split('x').map(Number);
  const [h, w] = parts.length === 1 ? [parts[0], parts[0]] : parts;
  if (parts.length > 2 || ![h, w].every((v) => Number.isInteger(v) && v >= 1 && v <= 4096)) {
    throw new InvalidArgumentError('Expected HxW, e.g. 128x128.');
  }
  return [h, w];
}

/** The installed package's version (the package reads its own package.json through its exports). */
function packageVersion(): string {
  return (createRequire(import.meta.url)('imgstream/package.json') as { version: string }).version;
}

/** `value` as one JSON document on stdout, for `--json`. */
function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A shell word: quoted when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * The command line the user typed, for reports: `npm run <script> -- <args>` when an npm script runs this
 * command, else the bin's name (`imgstream`, as `npx imgstream` and the installed bin run it) or
 * `node <file>`, followed by the arguments.
 */
function invokedAs(args: readonly string[]): string {
  const file = process.argv[1] ?? 'imgstream';
  const event = process.env.npm_lifecycle_event;
  // A child of any npm script inherits these variables: count it as that script only if the script runs us.
  const words = (process.env.npm_lifecycle_script ?? '').trim().split(/\s+/);
  const at = words.findIndex((w) => w === 'imgstream' || path.resolve(w) === file);
  const own = at < 0 ? [] : words.slice(at + 1);
  if (event && at >= 0 && own.every((w, i) => args[i] === w)) {
    const extra = args.slice(own.length).map(shellWord);
    // npm 7-9 name `npm run` 'run-script', npm 10+ 'run'; `npm test` and `npm start` run their script directly.
    const npm = ['run', 'run-script'].includes(process.env.npm_command ?? 'run') ? `npm run ${event}` : `npm ${event}`;
    return [npm, ...(extra.length ? ['--', ...extra] : [])].join(' ');
  }
  const head = path.basename(file) === 'imgstream' ? 'imgstream' : `node ${path.relative(process.cwd(), file) || file}`;
  return [head, ...args.map(shellWord)].join(' ');
}

function fail(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message.split('\n')[0]}\n`);
  process.exitCode = 1;
}

export function buildProgram(): Command {
  const program = new Command('imgstream')
    .description('Stream image folders far larger than memory into TensorFlow.js training.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => write(`${text.trim().split('\n').join(' ')}\n`) });

  program
    .command('demo')
    .description(
      'Generate a small image dataset (10 classes of noisy seven-segment digits, cached), then train a small CNN on it, ' +
        'streaming from disk under a memory budget, with validation, checkpointing and early stopping.',
    )
    .option('--data <dir>', 'folder of the generated images', '.cache/demo-data')
    .option('--out <dir>', 'folder the best model is saved to', '.cache/demo-model')
    .option('--epochs <n>', 'most epochs (early stopping may end sooner)', positiveInteger, 5)
    .option('--per-class <n>', 'images per class', positiveInteger, 200)
    .option('--memory-budget <size>', 'memory for decoded pixels, e.g. 1MiB', '1MiB')
    .action(async (opts: { data: string; out: string; epochs: number; perClass: number; memoryBudget: string }) => {
      const { runDemo } = await import('./demo/run.js');
      await runDemo({ data: opts.data, out: opts.out, epochs: opts.epochs, perClass: opts.perClass, memoryBudget: opts.memoryBudget });
    });

  program
    .command('bench')
    .description('Run the benchmark: images/s and peak RSS of the loader against the decode ceiling and naive loaders (`imgstream bench --help` lists its options).')
    .argument('[args...]', 'arguments for the benchmark runner')
    // Every argument, --help included, goes to the runner, whose own help lists its options.
    .helpOption(false)
    .allowUnknownOption(true)
    .passThroughOptions(true)
    .action(async (args: string[]) => {
      const runner = '../bench/run.js';
      const { runBench } = (await import(runner)) as { runBench: (argv: string[], options: { command: string }) => Promise<number> };
      process.exitCode = await runBench(args, { command: invokedAs(['bench', ...args]) });
    });

  program
    .command('inspect')
    .description(
      `Count images per class, summarise their sizes and formats, and decode every file to list those that cannot be loaded. ` +
        `Exit code ${EXIT_BAD_FILES} when any file cannot be decoded, 1 on errors.`,
    )
    .argument('<dir>', 'dataset folder (one sub-folder per class, or a folder of images), or shards (a .tar, brace notation, a URL or a shards.json)')
    .option('--concurrency <n>', 'files decoded at once (default: 2 x cores)', positiveInteger)
    .option('--json', 'print the report as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (dir: string, opts: { concurrency?: number; json?: boolean; progress: boolean }) => {
      const { inspectDirectory, formatReport } = await import('./inspect.js');
      (await import('./native/addon.js')).decoderReported();
      const shards = await import('./shards/inspect.js');
      // The folder `pack` wrote is read as its shards, through the index it holds.
      const index = path.join(dir, (await import('./shards/shard-index.js')).INDEX_FILE);
      const target = shards.looksLikeShards(dir) ? dir : existsSync(index) ? index : null;
      const report = target !== null
        ? await shards.inspectShards(target, { concurrency: opts.concurrency })
        : await inspectDirectory(dir, { concurrency: opts.concurrency, progress: opts.progress && !opts.json });
      if (opts.json) printJson(report);
      else process.stdout.write(`${formatReport(report)}\n`);
      if (report.bad.length > 0) process.exitCode = EXIT_BAD_FILES;
    });

  program
    .command('pack')
    .description(
      'Write a folder of class sub-folders (or a CSV of path,label) as WebDataset tar shards, <key>.<ext> + <key>.cls per sample, ' +
        'with a shards.json index (sample counts, class names) for imageDatasetFromShards.',
    )
    .argument('<folder-or-csv>', 'dataset folder (one sub-folder per class) or CSV file')
    .argument('<out-dir>', 'folder the shards and shards.json are written to')
    .option('--shard-size <size>', 'largest shard, e.g. 256MB or 1GiB', byteSizeArgument, 256 * 2 ** 20)
    .option('--samples-per-shard <n>', 'samples per shard (a shard also ends at --shard-size)', positiveInteger)
    .option('--max-side <px>', 'shrink images whose longer side is above this, re-encoded in their format', positiveInteger)
    .option('--prefix <name>', 'shard file names: <name>-000000.tar, ...', 'shard')
    .option('--seed <n>', 'seed of the shuffle before packing', nonNegativeInteger, 0)
    .option('--no-shuffle', 'keep the folder order (classes would then sit in separate shards)')
    .option('--no-progress', 'no progress bar')
    .action(
      async (
        source: string,
        outDir: string,
        opts: { shardSize: number; samplesPerShard?: number; maxSide?: number; prefix: string; seed: number; shuffle: boolean; progress: boolean },
      ) => {
        const { packShards } = await import('./shards/pack.js');
        const result = await packShards(source, outDir, {
          shardSize: opts.shardSize,
          samplesPerShard: opts.samplesPerShard ?? null,
          maxSide: opts.maxSide ?? null,
          prefix: opts.prefix,
          seed: opts.seed,
          shuffle: opts.shuffle,
          progress: opts.progress && process.stderr.isTTY === true,
        });
        const rate = result.samples / Math.max(result.seconds, 1e-3);
        process.stdout.write(
          `Wrote ${result.shards.length} shards (${result.samples} samples, ${(result.bytes / 2 ** 20).toFixed(1)} MiB of images) ` +
            `and ${result.index} in ${result.seconds.toFixed(1)} s (${rate.toFixed(0)} images/s)\n`,
        );
        for (const s of result.skipped) process.stderr.write(`skipped ${s.path}: ${s.code} ${s.message}\n`);
        if (result.skipped.length > 0) process.exitCode = EXIT_BAD_FILES;
      },
    );

  program
    .command('preview')
    .description(
      'Write a PNG grid showing what an augmentation does: one row per sample, the plain image first, then draws of ' +
        'successive epochs, exactly as the loader produces them.',
    )
    .argument('<dir>', 'dataset folder (one sub-folder per class, or a folder of images)')
    .option('--augment <json>', "the augment option as JSON, or 'typical' (random resized crop, flip, colour jitter)", 'typical')
    .option('--out <file>', 'PNG file to write', 'augment-preview.png')
    .option('--samples <n>', 'rows: samples taken evenly across the folder', positiveInteger, 6)
    .option('--variants <n>', 'augmented columns per sample', positiveInteger, 4)
    .option('--size <HxW>', 'cell size, e.g. 128x128', imageSizeArgument, [128, 128] as const)
    .option('--seed <n>', 'seed of the draws', nonNegativeInteger, 0)
    .option('--json', 'print what was written as JSON')
    .action(
      async (
        dir: string,
        opts: { augment: string; out: string; samples: number; variants: number; size: readonly [number, number]; seed: number; json?: boolean },
      ) => {
        const { previewAugmentation, TYPICAL_AUGMENT } = await import('./index.js');
        // The grid is the output; the loader behind it does not log its decoder.
        (await import('./native/addon.js')).decoderReported();
        let augment: unknown = TYPICAL_AUGMENT;
        if (opts.augment !== 'typical') {
          try {
            augment = JSON.parse(opts.augment);
          } catch {
            throw new Error(`--augment is not valid JSON (nor 'typical'): ${opts.augment}`);
          }
        }
        const result = await previewAugmentation(dir, augment as never, {
          out: opts.out,
          samples: opts.samples,
          variants: opts.variants,
          imageSize: opts.size,
          seed: opts.seed,
        });
        if (opts.json) return printJson(result);
        process.stdout.write(`Wrote ${result.out} (${result.width}x${result.height}: ${result.rows} samples, original + ${result.columns - 1} draws)\n`);
      },
    );

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const program = buildProgram();
    if (argv.length <= 2) {
      program.outputHelp();
      process.exitCode = 1;
      return;
    }
    await program.parseAsync(argv);
  } catch (err) {
    fail(err);
  }
}

await main(process.argv);
