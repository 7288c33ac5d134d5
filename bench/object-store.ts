/**
 * The object-storage rows of the benchmark (`imgstream bench`, group `object-store`; alone with
 * `npm run bench:object-store`): the same images from their folder, local shards, and an S3-compatible
 * store through a latency proxy at 0, 20 and 100 ms of added round trip, as a bucket of class folders and as
 * shards in a bucket: images/s, peak RSS, time to first batch. The store is the tests' (OpenStack Swift with
 * s3api, `test/servers/swift/`), so these rows run from a clone of the project on a machine with Debian's
 * `python3-swift` and `memcached`; elsewhere the group is skipped with a note saying why.
 *
 * Each latency has its own proxy, so that the rows are independent and the runner can interleave their
 * repeats. The store and the proxies run in the runner's process tree, not in the rows' processes (a row's
 * peak RSS is the loader's alone); the store shares the machine's cores with the decoders, which a remote
 * bucket does not.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bytes from 'bytes';
import type { RunRecord, RunSpec } from './records.js';
import type { Dtype, ScenarioConfig } from './scenarios/common.js';

export const OBJECT_STORE_LATENCIES = [0, 20, 100] as const;
/** memoryBudget of every object-store row (the targets' "memoryBudget + 150 MiB" is read against it). */
export const OBJECT_STORE_BUDGET = 256 * 2 ** 20;
const MIB = 2 ** 20;

/** The tests' store module, in a clone: next to the sources, or under `dist/` when built (its launcher stays in `test/`). */
function serverModule(): string | null {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const built = !import.meta.url.endsWith('.ts');
  const module = path.join(here, '..', 'test', 'servers', 'swift', `server.${built ? 'js' : 'ts'}`);
  const launcher = path.join(here, ...(built ? ['..', '..'] : ['..']), 'test', 'servers', 'swift', 'launcher.py');
  return existsSync(module) && existsSync(launcher) ? module : null;
}

/** Why the object-store rows cannot run here, or null when they can. */
export function objectStoreMissing(): string | null {
  if (serverModule() === null) return "the tests' object store (test/servers/swift) is not here: run the bench from a clone of the project";
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import swift'], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    return "Debian's python3-swift is not installed (apt-get install python3-swift memcached)";
  }
  try {
    execFileSync('memcached', ['-h'], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    return 'memcached is not installed (apt-get install memcached)';
  }
  return null;
}

export interface ObjectStore {
  specs: RunSpec[];
  stop(): Promise<void>;
}

/**
 * Starts the store (one process per core: a single Python process caps it at one core), a proxy per
 * latency, uploads `dir` as a bucket of class folders and `shardDir` as shards, and returns the rows.
 */
export async function startObjectStore(
  base: (dtype: Dtype, options?: Record<string, unknown>) => ScenarioConfig,
  dir: string,
  shards: { shardDir: string },
  workers: number,
): Promise<ObjectStore> {
  const module = serverModule() as string;
  const { startSwift } = (await import(module)) as typeof import('../test/servers/swift/server.js');
  const fixtures = path.join(path.dirname(module), '..', '..', 'fixtures');
  const ext = module.endsWith('.ts') ? 'ts' : 'js';
  const { startFaultProxy } = (await import(path.join(fixtures, `fault-proxy.${ext}`))) as typeof import('../test/fixtures/fault-proxy.js');
  const { createBucket, testClient, uploadTree } = (await import(path.join(fixtures, `s3-bucket.${ext}`))) as typeof import('../test/fixtures/s3-bucket.js');
  const server = await startSwift({ workers: os.availableParallelism() });
  const proxies: { close(): Promise<void> }[] = [];
  try {
    // The uploading client is the bench's, not imgstream's: without the SDK's Node.js policy warning too.
    const quiet = process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined;
    if (quiet) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const client = testClient(server);
    if (quiet) delete process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    await createBucket(client, 'bench');
    await uploadTree(client, 'bench', 'folder', dir);
    await uploadTree(client, 'bench', 'shards', shards.shardDir);
    client.destroy();
    const specs: RunSpec[] = [];
    const options = (source: 'folder' | 'shards', url: string) => base('uint8', { source, url, workers, memoryBudget: OBJECT_STORE_BUDGET, shuffle: true, seed: 1 });
    specs.push({ id: 'object-store-local-folder', group: 'object-store', label: 'local folder', scenario: 'object-store', config: options('folder', dir) });
    specs.push({ id: 'object-store-local-shards', group: 'object-store', label: 'local shards', scenario: 'object-store', config: options('shards', path.join(shards.shardDir, 'shards.json')) });
    for (const ms of OBJECT_STORE_LATENCIES) {
      const proxy = await startFaultProxy(server.endpoint, { latencyMs: ms });
      proxies.push(proxy);
      const env = {
        AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        AWS_REGION: server.region,
        AWS_ENDPOINT_URL: proxy.url,
      };
      specs.push({ id: `object-store-folder-${ms}`, group: 'object-store', label: `bucket of class folders, +${ms} ms RTT`, scenario: 'object-store', config: options('folder', 's3://bench/folder'), env, x: ms });
      specs.push({ id: `object-store-shards-${ms}`, group: 'object-store', label: `shards in a bucket, +${ms} ms RTT`, scenario: 'object-store', config: options('shards', 's3://bench/shards/shards.json'), env, x: ms });
    }
    return {
      specs,
      async stop() {
        for (const p of proxies) await p.close();
        await server.stop();
      },
    };
  } catch (err) {
    for (const p of proxies) await p.close();
    await server.stop();
    throw err;
  }
}

const fmt = (n: number | null | undefined, unit = '') => (n == null ? '—' : `${n.toFixed(0)}${unit}`);

/** The markdown section and the three targets. */
export function objectStoreSection(records: RunRecord[], heading: string): { markdown: string; targets: { target: string; measured: string; met: boolean | null }[] } {
  const rows = records.filter((r) => r.spec.group === 'object-store');
  if (rows.length === 0) return { markdown: '', targets: [] };
  const of = (label: string) => rows.find((r) => r.spec.label === label)?.median ?? null;
  const localFor = (label: string) => of(label.startsWith('shards') || label === 'local shards' ? 'local shards' : 'local folder');
  const lines = rows.map((r) => {
    const m = r.median;
    const local = localFor(r.spec.label);
    const ratio = m && local && local.imagesPerSecond > 0 ? `${(m.imagesPerSecond / local.imagesPerSecond).toFixed(2)}x` : '—';
    const over = m ? `${bytes.format(m.peakMemoryBytes - OBJECT_STORE_BUDGET, { decimalPlaces: 0 })}` : '—';
    return `| ${r.spec.label} | ${fmt(m?.imagesPerSecond)} | ${ratio} | ${m ? bytes.format(m.peakMemoryBytes, { decimalPlaces: 0 }) : (r.attempts[0]?.error ?? 'failed')} | ${over} | ${fmt(m?.timeToFirstBatchMs, ' ms')} |`;
  });
  const markdown = [
    `\n${heading} Object storage: the same images from local disk and from an S3-compatible store through a latency proxy (uint8, memoryBudget ${bytes.format(OBJECT_STORE_BUDGET)})\n`,
    "The store is the tests' (OpenStack Swift with s3api, one process per core) on this machine's own cores, where a remote bucket would take that work elsewhere.\n",
    '| source | images/s | vs local | peak RSS | RSS - budget | first batch |',
    '| --- | --- | --- | --- | --- | --- |',
    ...lines,
  ].join('\n');
  const targets: { target: string; measured: string; met: boolean | null }[] = [];
  const ratio = (label: string, local: string) => {
    const a = of(label);
    const b = of(local);
    return a && b && b.imagesPerSecond > 0 ? a.imagesPerSecond / b.imagesPerSecond : null;
  };
  for (const [label, local, floor] of [
    ['shards in a bucket, +20 ms RTT', 'local shards', 0.9],
    ['bucket of class folders, +20 ms RTT', 'local folder', 0.7],
  ] as const) {
    const r = ratio(label, local);
    if (r !== null) targets.push({ target: `${label} >= ${floor}x ${local}`, measured: `x${r.toFixed(2)}`, met: r >= floor });
  }
  const peaks = rows.map((r) => r.median?.peakMemoryBytes ?? null).filter((p): p is number => p !== null);
  if (peaks.length > 0) {
    const worst = Math.max(...peaks);
    targets.push({ target: 'object-store rows: peak RSS <= memoryBudget + 150 MiB', measured: `worst ${bytes.format(worst, { decimalPlaces: 0 })} (budget ${bytes.format(OBJECT_STORE_BUDGET)})`, met: worst <= OBJECT_STORE_BUDGET + 150 * MIB });
  }
  return { markdown, targets };
}
