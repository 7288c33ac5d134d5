/**
 * `imgstream inspect` for shards: reads every shard front to back once, as the loader would (same grouping,
 * same label rules, same decoders' verdict through sharp), and reports samples per class, image sizes and
 * formats, and every sample the loader would skip, with its code.
 */
import os from 'node:os';
import PQueue from 'p-queue';
import { IMAGE_EXTENSIONS } from '../file-index.js';
import type { SkippedSample } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { scanBytes, type InspectReport } from '../inspect.js';
import { describeDecoder } from '../native/addon.js';
import { DEFAULT_RETRY, displayUrl, openerFor, readShard, ShardReadError } from './openers.js';
import { expandShardUrls } from './loader.js';
import { keepsMember, toSample, type SampleRules } from './sample.js';
import { INDEX_FILE, loadShardIndex, siblingOf } from './shard-index.js';
import { streamEntries } from './tar-entries.js';
import { groupSamples, memberBytes } from './tar-samples.js';

/** Whether `arg` names shards rather than a folder: a `.tar`, brace notation, a URL or a `shards.json`. */
export function looksLikeShards(arg: string): boolean {
  return /\.tar$|\{.*\}|^[a-z][a-z0-9+.-]*:\/\/|\.json$/i.test(arg);
}

export async function inspectShards(arg: string, options: { concurrency?: number; maxPixels?: number } = {}): Promise<InspectReport> {
  const { concurrency = 2 * os.availableParallelism(), maxPixels = DEFAULTS.maxPixels } = options;
  let urls = arg.toLowerCase().endsWith('.json') ? [] : expandShardUrls(arg);
  const indexAt = urls.length === 0 ? arg : siblingOf(urls[0], INDEX_FILE);
  const index = await loadShardIndex(indexAt, DEFAULT_RETRY).catch(() => null);
  if (urls.length === 0) urls = (index?.shardlist ?? []).map((s) => (/^[a-z]+:\/\/|^\//i.test(s.url) ? s.url : siblingOf(arg, s.url)));
  const classNames = index?.classNames ?? [];
  const rules: SampleRules = {
    imageExtensions: IMAGE_EXTENSIONS,
    labeled: true,
    labelMember: 'auto',
    labelField: 'label',
    classNames,
    maxSampleBytes: 32 * 2 ** 20,
  };
  const counts = new Map<number, number>();
  const widths: number[] = [];
  const heights: number[] = [];
  const formats: Record<string, number> = {};
  const bad: SkippedSample[] = [];
  const queue = new PQueue({ concurrency });
  let samples = 0;
  for (const url of urls) {
    const opener = openerFor(url);
    const shown = displayUrl(url);
    if (opener === null) {
      bad.push({ path: shown, code: 'ERR_SHARD_READ', message: 'no opener for this URL scheme' });
      continue;
    }
    const controller = new AbortController();
    try {
      const keep = (ext: string) => keepsMember(rules, ext);
      const entries = streamEntries(readShard(url, opener, DEFAULT_RETRY, controller.signal));
      for await (const group of groupSamples(entries, { keep, maxMemberBytes: rules.maxSampleBytes })) {
        samples += 1;
        const path = `${shown}#${group.key}`;
        const outcome = toSample(group, rules);
        if (!outcome.ok) {
          // Unlabeled shards are fine to inspect: only the images are judged then.
          if (outcome.code !== 'ERR_LABEL' || group.members.some((m) => m.extension === 'cls' || m.extension === 'json' || m.extension === 'txt')) {
            bad.push({ path, code: outcome.code, message: outcome.message });
            continue;
          }
        } else counts.set(outcome.label, (counts.get(outcome.label) ?? 0) + 1);
        const image = rules.imageExtensions.map((e) => group.members.find((m) => m.extension === e)).find((m) => m?.data);
        if (!image?.data) continue;
        const data = memberBytes(image.data);
        void queue.add(async () => {
          const result = await scanBytes(data, maxPixels);
          if (result.ok) {
            widths.push(result.width);
            heights.push(result.height);
            formats[result.format] = (formats[result.format] ?? 0) + 1;
          } else bad.push({ path, code: result.code, message: result.message });
        });
        if (queue.size > 4 * concurrency) await queue.onSizeLessThan(2 * concurrency);
      }
    } catch (err) {
      const reason = err instanceof ShardReadError ? err.message : `not a readable tar (${(err as Error).message})`;
      bad.push({ path: shown, code: 'ERR_SHARD_READ', message: reason });
    }
  }
  await queue.onIdle();
  const summarize = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
  };
  const maxLabel = Math.max(-1, ...counts.keys());
  const names = classNames.length > 0 ? classNames : Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  return {
    root: arg,
    files: samples,
    warnings: [],
    decoder: describeDecoder(),
    classes: names.map((name, c) => ({ name, count: counts.get(c) ?? 0 })),
    sizes: widths.length > 0 ? { width: summarize(widths), height: summarize(heights) } : null,
    formats,
    bad: bad.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}
