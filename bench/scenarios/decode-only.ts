/**
 * The physical limit of a JPEG loader: libjpeg-turbo's own full-size decode of the same files, one thread per
 * core, every file already in memory (`decode-only.c`, a plain C loop over `tjDecompress2`, built once with the
 * system's C compiler, see `decode-loop.ts`). No DCT scaling, resampling, conversion, file reads, ring or batches: what any loader
 * built on libjpeg-turbo can at most reach on these cores, so that every row is read as a share of it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromDirectory } from '../../src/index.js';
import { runScenario, type ScenarioConfig, type ScenarioResult } from './common.js';

interface LoopResult {
  images: number;
  declined: number;
  wallMs: number;
  cpuMs: number;
  peakRssBytes: number;
}

async function decodeOnly(config: ScenarioConfig): Promise<ScenarioResult> {
  const { binary, library } = config.options as { binary: string; library: string };
  const threads = Number(config.options.threads ?? 2);
  const index = await fromDirectory(config.dir);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'imgstream-decode-only-'));
  try {
    const list = path.join(scratch, 'files.txt');
    writeFileSync(list, Array.from({ length: index.size }, (_, i) => index.path(i)).join('\n'));
    const out = execFileSync(binary, [library, String(threads), list], { encoding: 'utf8', maxBuffer: 1 << 20 });
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as LoopResult;
    return {
      images: r.images,
      batches: Math.ceil(r.images / config.batchSize),
      wallMs: r.wallMs,
      timeToFirstBatchMs: r.wallMs,
      stallMs: 0,
      peakMemoryBytes: r.peakRssBytes,
      cpuMs: r.cpuMs,
      extra: { threads, library, declined: r.declined },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await runScenario(decodeOnly);
