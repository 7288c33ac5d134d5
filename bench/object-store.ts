/**
 * The object-storage bench (`npm run bench:object-store`): the same images from a local folder, local
 * shards, and an S3-compatible store through a latency proxy at 0, 20 and 100 ms of added round trip, as a
 * bucket of class folders and as shards in a bucket. Each row runs in its own process (peak RSS is the
 * process's); the store (Swift s3api, the tests' server) and the proxy run in this one. Prints a table with
 * images/s, peak RSS and time to first batch, the ratios to the local rows, and writes it as JSON.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bytes from 'bytes';
import { Command } from 'commander';
import { parseByteSize } from '../src/options.js';
import { packShards } from '../src/shards/pack.js';
import { startFaultProxy } from '../test/fixtures/fault-proxy.js';
import { createBucket, testClient, uploadTree } from '../test/fixtures/s3-bucket.js';
import { startSwift } from '../test/servers/swift/server.js';
import { ensureDataset } from './dataset.js';
import type { ScenarioConfig, ScenarioResult } from './scenarios/common.js';

interface Row {
  label: string;
  group: 'folder' | 'shards';
  latencyMs: number | null;
  result: ScenarioResult | null;
  error?: string;
}

const program = new Command()
  .option('--size <n>', 'images', '1000')
  .option('--memory-budget <bytes>', 'memoryBudget of every row', '256MiB')
  .option('--latencies <ms>', 'added round-trip times', '0,20,100')
  .option('--workers <n>', 'decode workers', String(Math.max(1, os.availableParallelism())))
  .option('--cache-dir <folder>', 'where generated datasets are cached', '.cache/bench-data')
  .option('--out <folder>', 'results folder', 'bench/results')
  .parse();
const opts = program.opts<{ size: string; memoryBudget: string; latencies: string; workers: string; cacheDir: string; out: string }>();
const size = Number(opts.size);
const latencies = opts.latencies.split(',').map(Number);
const budget = parseByteSize('--memory-budget', opts.memoryBudget);
const here = path.dirname(fileURLToPath(import.meta.url));

function runRow(options: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<ScenarioResult> {
  const config: ScenarioConfig = { dir: '', imageSize: [224, 224], dtype: 'uint8', batchSize: 32, stepMs: 0, options };
  const ts = path.join(here, 'scenarios', 'object-store.ts');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ts, JSON.stringify(config)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as ScenarioResult);
      else reject(new Error(`exit ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

const dir = await ensureDataset(opts.cacheDir, size);
const work = mkdtemp();
const shardsDir = path.join(work, 'shards');
await packShards(dir, shardsDir, { samplesPerShard: Math.max(1, Math.ceil(size / 16)) });
const server = await startSwift();
const proxy = await startFaultProxy(server.endpoint);
const rows: Row[] = [];
try {
  const client = testClient(server);
  await createBucket(client, 'bench');
  await uploadTree(client, 'bench', 'folder', dir);
  await uploadTree(client, 'bench', 'shards', shardsDir);
  client.destroy();
  const env = {
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    AWS_REGION: server.region,
    AWS_ENDPOINT_URL: proxy.url,
  };
  const base = { workers: Number(opts.workers), memoryBudget: budget, shuffle: true, seed: 1 };
  const plan: { label: string; group: Row['group']; latencyMs: number | null; options: Record<string, unknown> }[] = [
    { label: 'local folder', group: 'folder', latencyMs: null, options: { ...base, source: 'folder', url: dir } },
  ];
  plan.push({ label: 'local shards', group: 'shards', latencyMs: null, options: { ...base, source: 'shards', url: path.join(shardsDir, 'shards.json') } });
  for (const ms of latencies) {
    plan.push({ label: `bucket of class folders, +${ms} ms RTT`, group: 'folder', latencyMs: ms, options: { ...base, source: 'folder', url: 's3://bench/folder' } });
    plan.push({ label: `shards in a bucket, +${ms} ms RTT`, group: 'shards', latencyMs: ms, options: { ...base, source: 'shards', url: 's3://bench/shards/shards.json' } });
  }
  for (const row of plan) {
    proxy.setLatency(row.latencyMs ?? 0);
    process.stderr.write(`${row.label} ...\n`);
    try {
      rows.push({ label: row.label, group: row.group, latencyMs: row.latencyMs, result: await runRow(row.options, row.latencyMs === null ? {} : env) });
    } catch (err) {
      rows.push({ label: row.label, group: row.group, latencyMs: row.latencyMs, result: null, error: (err as Error).message });
    }
  }
} finally {
  await proxy.close();
  await server.stop();
}

const ips = (r: ScenarioResult | null) => (r === null || r.wallMs === 0 ? 0 : (r.images * 1000) / r.wallMs);
const local = (g: Row['group']) => ips(rows.find((r) => r.group === g && r.latencyMs === null)?.result ?? null);
const lines = [
  `${size} images (224x224 uint8, batch 32), memoryBudget ${bytes(budget)}, ${opts.workers} workers, ${os.availableParallelism()} cores`,
  '| source | images/s | vs local | peak RSS | RSS - budget | first batch |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
];
for (const r of rows) {
  if (r.result === null) {
    lines.push(`| ${r.label} | failed: ${r.error} | | | | |`);
    continue;
  }
  const ratio = local(r.group) > 0 ? (ips(r.result) / local(r.group)).toFixed(2) : '-';
  lines.push(
    `| ${r.label} | ${ips(r.result).toFixed(0)} | ${ratio}x | ${bytes(r.result.peakMemoryBytes, { decimalPlaces: 0 })} | ${bytes(r.result.peakMemoryBytes - budget, { decimalPlaces: 0 })} | ${r.result.timeToFirstBatchMs.toFixed(0)} ms |`,
  );
}
console.log(lines.join('\n'));
mkdirSync(opts.out, { recursive: true });
const file = path.join(opts.out, 'object-store.json');
writeFileSync(file, JSON.stringify({ size, memoryBudget: budget, workers: Number(opts.workers), rows }, null, 2));
console.error(`wrote ${file}`);

function mkdtemp(): string {
  const d = path.join(os.tmpdir(), `imgstream-bench-s3-${process.pid}`);
  mkdirSync(d, { recursive: true });
  return d;
}
