/**
 * The benchmark's report: derived figures (ratios to the ceiling, targets), a markdown table, the JSON of
 * every figure, SVG plots, and the measured section of docs/performance.md.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import bytes from 'bytes';
import { lineChart, type Series } from './plot.js';
import { shardSection } from './shards.js';
import { objectStoreSection } from './object-store.js';
import type { Machine, RunRecord, Settings } from './records.js';
import type { Dtype } from './scenarios/common.js';

export interface Report {
  version: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Machine;
  settings: Settings;
  dataset: { dir: string; files: number; meanBytes: number; formats: Record<string, number> };
  notes: string[];
  records: RunRecord[];
}

export interface Row {
  label: string;
  dtype: Dtype;
  imagesPerSecond: number | null;
  ratioToCeiling: number | null;
  /** images/s as a share of libjpeg-turbo's own full-size decode of the same files (the decode-only row). */
  ratioToDecodeOnly: number | null;
  peakMemoryBytes: number | null;
  timeToFirstBatchMs: number | null;
  stallShare: number | null;
  /** CPU ms per image over every thread or process of the loader. */
  cpuMsPerImage: number | null;
  note: string;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

export interface Derived {
  ceiling: Partial<Record<Dtype, { imagesPerSecond: number; label: string }>>;
  /** libjpeg-turbo's full-size decode alone, per dtype (the same work in both; each run on its own). */
  decodeOnly: Partial<Record<Dtype, number>>;
  rows: Row[];
  workers: { workers: number; imgstream: number | null; imgstreamPeak: number | null; pytorch: number | null; pytorchPeak: number | null }[];
  budget: { budgetBytes: number; imagesPerSecond: number | null; peakMemoryBytes: number | null }[];
  steps: { stepMs: number; stallShare: number | null; imagesPerSecond: number | null }[];
  sizes: { size: number; imgstreamPeak: number | null; imgstreamFirstBatchMs: number | null; naivePeak: number | null; naiveNote: string }[];
  breakdown: { step: string; msPerImage: number }[];
  targets: Target[];
}

const MIB = 1024 * 1024;
/** The rows of the main comparison that time a second epoch of one loader alone (`warmEpochs: 1`). */
export const WARM_LABEL = 'imgstream, warm epoch (2nd of one loader)';
export const TORCH_WARM_LABEL = 'PyTorch DataLoader, warm epoch';
const fmtBytes = (n: number | null): string => (n === null ? '—' : (bytes.format(n, { unitSeparator: ' ', decimalPlaces: Math.abs(n) >= 1024 ** 3 ? 2 : 0 }) ?? '—'));
const fmtIps = (n: number | null) => (n === null ? '—' : n.toFixed(0));
const fmtPct = (n: number | null) => (n === null ? '—' : `${(n * 100).toFixed(0)}%`);
const fmtCpu = (n: number | null) => (n === null ? '—' : n.toFixed(2));
const fmtMs = (n: number | null) => (n === null ? '—' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(0)} ms`);

function failureNote(record: RunRecord): string {
  const failed = record.attempts.find((a) => !a.ok);
  if (!failed) return '';
  if (failed.killedAtCap) return `killed at the ${fmtBytes(record.spec.capBytes ?? 0)} cap after ${failed.loadedAtKill ?? 0} images`;
  return failed.error === 'not available' ? 'not available' : `failed: ${failed.error ?? ''}`.slice(0, 120);
}

/** Everything the tables and plots show, computed from the raw runs. */
export function derive(report: Report): Derived {
  const { records, settings } = report;
  const group = (g: string) => records.filter((r) => r.spec.group === g);
  const ceiling: Derived['ceiling'] = {};
  for (const r of group('main').filter((r) => r.spec.scenario === 'ceiling')) {
    const ips = r.median?.imagesPerSecond ?? 0;
    const dtype = r.spec.config.dtype;
    if (ips > (ceiling[dtype]?.imagesPerSecond ?? 0)) ceiling[dtype] = { imagesPerSecond: ips, label: r.spec.label };
  }
  const decodeOnly: Derived['decodeOnly'] = {};
  for (const r of group('main').filter((r) => r.spec.scenario === 'decode-only')) {
    if (r.median) decodeOnly[r.spec.config.dtype] = r.median.imagesPerSecond;
  }
  const share = (ips: number | null | undefined, dtype: Dtype) => (ips != null && decodeOnly[dtype] ? ips / (decodeOnly[dtype] as number) : null);
  const rows: Row[] = [];
  for (const dtype of settings.dtypes) {
    const best = ceiling[dtype];
    if (best) {
      const rec = group('main').find((r) => r.spec.scenario === 'ceiling' && r.spec.config.dtype === dtype && r.spec.label === best.label);
      const m = rec?.median ?? null;
      const tried = group('main').filter((r) => r.spec.scenario === 'ceiling' && r.spec.config.dtype === dtype).length;
      rows.push({ label: `${best.label}, best of ${tried}`, dtype, imagesPerSecond: best.imagesPerSecond, ratioToCeiling: 1, ratioToDecodeOnly: share(best.imagesPerSecond, dtype), peakMemoryBytes: m?.peakMemoryBytes ?? null, timeToFirstBatchMs: m?.timeToFirstBatchMs ?? null, stallShare: null, cpuMsPerImage: m?.cpuMsPerImage ?? null, note: 'no ring, no batches' });
    }
    for (const r of group('main').filter((r) => r.spec.scenario !== 'ceiling' && r.spec.config.dtype === dtype)) {
      const m = r.median;
      rows.push({
        label: r.spec.label,
        dtype,
        imagesPerSecond: m?.imagesPerSecond ?? null,
        ratioToCeiling: m && best ? m.imagesPerSecond / best.imagesPerSecond : null,
        ratioToDecodeOnly: share(m?.imagesPerSecond, dtype),
        peakMemoryBytes: m?.peakMemoryBytes ?? null,
        timeToFirstBatchMs: m?.timeToFirstBatchMs ?? null,
        stallShare: m?.stallShare ?? null,
        cpuMsPerImage: m?.cpuMsPerImage ?? null,
        note: [r.spec.scenario === 'pytorch' ? 'peak = PSS of the process tree' : '', failureNote(r)].filter(Boolean).join('; '),
      });
    }
  }
  const xs = [...new Set(group('workers').map((r) => r.spec.x as number))].sort((a, b) => a - b);
  const workers = xs.map((w) => {
    const i = group('workers').find((r) => r.spec.series === 'imgstream' && r.spec.x === w)?.median ?? null;
    const p = group('workers').find((r) => r.spec.series !== 'imgstream' && r.spec.x === w)?.median ?? null;
    return { workers: w, imgstream: i?.imagesPerSecond ?? null, imgstreamPeak: i?.peakMemoryBytes ?? null, pytorch: p?.imagesPerSecond ?? null, pytorchPeak: p?.peakMemoryBytes ?? null };
  });
  const budget = group('budget').map((r) => ({ budgetBytes: Number(r.spec.config.options.memoryBudget), imagesPerSecond: r.median?.imagesPerSecond ?? null, peakMemoryBytes: r.median?.peakMemoryBytes ?? null }));
  const steps = group('steps').map((r) => ({ stepMs: r.spec.config.stepMs, stallShare: r.median?.stallShare ?? null, imagesPerSecond: r.median?.imagesPerSecond ?? null }));
  const sizeXs = [...new Set(group('sizes').map((r) => r.spec.x as number))].sort((a, b) => a - b);
  const sizes = sizeXs.map((size) => {
    const i = group('sizes').find((r) => r.spec.series === 'imgstream' && r.spec.x === size);
    const n = group('sizes').find((r) => r.spec.series !== 'imgstream' && r.spec.x === size);
    return {
      size,
      imgstreamPeak: i?.median?.peakMemoryBytes ?? null,
      imgstreamFirstBatchMs: i?.median?.timeToFirstBatchMs ?? null,
      naivePeak: n?.median?.peakMemoryBytes ?? null,
      naiveNote: n ? failureNote(n) : '',
    };
  });
  const breakdown = records
    .filter((r) => r.spec.group === 'breakdown')
    .flatMap((r) => {
      const a = r.attempts.find((x) => x.ok);
      const steps = (a?.result?.extra?.steps ?? (a?.result as unknown as { steps?: unknown })?.steps ?? []) as { step: string; msPerImage: number }[];
      return steps;
    });
  return { ceiling, decodeOnly, rows, workers, budget, steps, sizes, breakdown, targets: targets(report, ceiling, decodeOnly, rows, workers, budget, sizes) };
}

function targets(
  report: Report,
  ceiling: Derived['ceiling'],
  decodeOnly: Derived['decodeOnly'],
  rows: Row[],
  workers: Derived['workers'],
  budget: Derived['budget'],
  sizes: Derived['sizes'],
): Target[] {
  const out: Target[] = [];
  const defaultName = report.settings.variants[0]?.name ?? 'imgstream';
  for (const dtype of report.settings.dtypes) {
    const row = rows.find((r) => r.label === defaultName && r.dtype === dtype);
    if (row?.ratioToCeiling != null && ceiling[dtype]) {
      out.push({ target: `imgstream defaults >= 90% of the decode ceiling (${dtype})`, measured: `${fmtIps(row.imagesPerSecond)} vs ${fmtIps(ceiling[dtype]?.imagesPerSecond ?? null)} img/s = ${fmtPct(row.ratioToCeiling)}`, met: row.ratioToCeiling >= 0.9 });
    }
    // The physical limit: libjpeg-turbo's own full-size decode of the same files, one thread per core.
    const floor = dtype === 'uint8' ? 0.7 : 0.6;
    if (row?.ratioToDecodeOnly != null) {
      out.push({
        target: `imgstream defaults >= ${floor}x libjpeg-turbo decode only (${dtype})`,
        measured: `${fmtIps(row.imagesPerSecond)} vs ${fmtIps(decodeOnly[dtype] ?? null)} img/s = x${row.ratioToDecodeOnly.toFixed(2)}`,
        met: row.ratioToDecodeOnly >= floor,
      });
    }
    const torch = rows.find((r) => r.label.startsWith('PyTorch DataLoader (') && r.dtype === dtype);
    const torchFloor = dtype === 'uint8' ? 3 : 2.5;
    if (row?.imagesPerSecond != null && torch?.imagesPerSecond != null) {
      const ratio = row.imagesPerSecond / torch.imagesPerSecond;
      out.push({
        target: `imgstream >= ${torchFloor}x PyTorch DataLoader, same worker count (${dtype})`,
        measured:
          `${fmtIps(row.imagesPerSecond)} vs ${fmtIps(torch.imagesPerSecond)} img/s (x${ratio.toFixed(2)}); ` +
          `CPU ${fmtCpu(row.cpuMsPerImage)} vs ${fmtCpu(torch.cpuMsPerImage)} ms/image; peak ${fmtBytes(row.peakMemoryBytes)} vs ${fmtBytes(torch.peakMemoryBytes)}`,
        met: ratio >= torchFloor,
      });
    }
    // The same two targets on a warm epoch (workers started, the first epoch's one-off costs paid), each loader's own.
    const warm = rows.find((r) => r.label === WARM_LABEL && r.dtype === dtype);
    if (warm?.ratioToDecodeOnly != null) {
      out.push({
        target: `imgstream warm epoch >= ${floor}x libjpeg-turbo decode only (${dtype})`,
        measured: `${fmtIps(warm.imagesPerSecond)} vs ${fmtIps(decodeOnly[dtype] ?? null)} img/s = x${warm.ratioToDecodeOnly.toFixed(2)}`,
        met: warm.ratioToDecodeOnly >= floor,
      });
    }
    const torchWarm = rows.find((r) => r.label.startsWith(TORCH_WARM_LABEL) && r.dtype === dtype);
    if (warm?.imagesPerSecond != null && torchWarm?.imagesPerSecond != null) {
      const ratio = warm.imagesPerSecond / torchWarm.imagesPerSecond;
      out.push({
        target: `imgstream warm epoch >= ${torchFloor}x PyTorch DataLoader's warm epoch, same worker count (${dtype})`,
        measured: `${fmtIps(warm.imagesPerSecond)} vs ${fmtIps(torchWarm.imagesPerSecond)} img/s (x${ratio.toFixed(2)}); CPU ${fmtCpu(warm.cpuMsPerImage)} vs ${fmtCpu(torchWarm.cpuMsPerImage)} ms/image`,
        met: ratio >= torchFloor,
      });
    }
    // Variant rows against the default one: the sharp-only decoder (the fast path's gain) and augmentation's cost.
    const against = (label: string, floor: number, target: string) => {
      const other = rows.find((r) => r.label === label && r.dtype === dtype);
      if (row?.imagesPerSecond == null || other?.imagesPerSecond == null) return;
      const ratio = label.includes('augment') ? other.imagesPerSecond / row.imagesPerSecond : row.imagesPerSecond / other.imagesPerSecond;
      out.push({ target: `${target} (${dtype})`, measured: `${fmtIps(row.imagesPerSecond)} vs ${fmtIps(other.imagesPerSecond)} img/s (x${ratio.toFixed(2)})`, met: ratio >= floor });
    };
    against('imgstream decoder=sharp', 2, 'imgstream defaults >= 2x its sharp-only decoder');
    // How much of its own decoder's speed the loader keeps (ring, tasks, batches, consumer): a reference.
    const bare = rows.find((r) => r.label.startsWith("imgstream's decoder bare") && r.dtype === dtype);
    if (row?.imagesPerSecond != null && bare?.imagesPerSecond != null) {
      out.push({
        target: `imgstream defaults vs its own decoder called bare, no ring (${dtype})`,
        measured: `${fmtIps(row.imagesPerSecond)} vs ${fmtIps(bare.imagesPerSecond)} img/s = ${fmtPct(row.imagesPerSecond / bare.imagesPerSecond)}; CPU ${fmtCpu(row.cpuMsPerImage)} vs ${fmtCpu(bare.cpuMsPerImage)} ms/image`,
        met: null,
      });
    }
    against('imgstream + augmentation', 0.7, 'augmented (random resized crop + flip + colour jitter) >= 70% of plain');
    const budgetBytes = 256 * MIB;
    if (row?.peakMemoryBytes != null) {
      out.push({ target: `peak RSS <= memoryBudget + 150 MiB (defaults, ${dtype})`, measured: `${fmtBytes(row.peakMemoryBytes)} <= ${fmtBytes(budgetBytes + 150 * MIB)}`, met: row.peakMemoryBytes <= budgetBytes + 150 * MIB });
    }
  }
  for (const b of budget) {
    if (b.peakMemoryBytes === null) continue;
    out.push({ target: `peak RSS <= memoryBudget + 150 MiB (budget ${fmtBytes(b.budgetBytes)})`, measured: fmtBytes(b.peakMemoryBytes), met: b.peakMemoryBytes <= b.budgetBytes + 150 * MIB });
  }
  const peaks = sizes.map((s) => s.imgstreamPeak).filter((p): p is number => p !== null);
  if (peaks.length > 1) {
    const spread = (Math.max(...peaks) - Math.min(...peaks)) / Math.min(...peaks);
    out.push({ target: 'imgstream peak RSS flat across dataset sizes (within 5%)', measured: `${sizes.map((s) => `${s.size}: ${fmtBytes(s.imgstreamPeak)}`).join(', ')} (spread ${fmtPct(spread)})`, met: spread <= 0.05 });
  }
  const largest = sizes[sizes.length - 1];
  if (largest?.imgstreamFirstBatchMs != null) {
    out.push({ target: `time to first batch < 1 s (${largest.size} images)`, measured: fmtMs(largest.imgstreamFirstBatchMs), met: largest.imgstreamFirstBatchMs < 1000 });
  }
  out.push(...shardSection(report.records, '###').targets);
  out.push(...objectStoreSection(report.records, '###').targets);
  const w = workers.filter((x) => x.imgstream !== null && x.pytorch !== null);
  if (w.length) {
    out.push({ target: 'imgstream vs PyTorch across worker counts (uint8)', measured: w.map((x) => `${x.workers}: ${fmtIps(x.imgstream)} vs ${fmtIps(x.pytorch)}`).join(', '), met: null });
  }
  return out;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function machineLine(report: Report): string {
  const m = report.machine;
  const load = `${m.loadAverageAtStart[0]?.toFixed(1) ?? '?'} at start, ${m.loadAverageAtEnd[0]?.toFixed(1) ?? '?'} at end`;
  return (
    `${m.cores} cores (${m.cpu}), ${fmtBytes(m.memoryBytes)} RAM, ${m.platform}, Node ${m.node}, sharp ${m.sharp} / libvips ${m.libvips} (${m.jpeg})` +
    `${m.torch ? `, ${m.torch.replace(/ \(.*\)$/, '')}` : ''}${m.pil ? `, ${m.pil}` : ''}; load average ${load}` +
    `${m.decoder ? `; imgstream's ${withoutFolders(m.decoder)}` : ''}`
  );
}

/** A file's folders say where this machine keeps it, not what it is: the report names files alone. */
function withoutFolders(text: string): string {
  return text.replace(/(?:[A-Za-z]:)?[\\/][^\s;()]*[\\/]([^\s;()\\/]+)/g, '$1');
}

/** The tables, as markdown; `level` is the heading level of its sections. */
export function markdown(report: Report, d: Derived, level = 3): string {
  const h = '#'.repeat(level);
  const s = report.settings;
  const out: string[] = [];
  const formats = Object.entries(report.dataset.formats).map(([k, v]) => `${v} ${k}`).join(', ');
  out.push(
    `Command: \`${report.command}\`  \n` +
      `Machine: ${machineLine(report)}  \n` +
      `Data: ${report.dataset.dir}: ${report.dataset.files} files (${formats}), ${fmtBytes(report.dataset.meanBytes)} mean; output ${s.imageSize[0]}x${s.imageSize[1]}x3, batch ${s.batchSize}; ` +
      `median of ${s.repeats} interleaved run${s.repeats > 1 ? 's' : ''}, each in its own process.`,
  );
  const busiest = Math.max(report.machine.loadAverageAtStart[0] ?? 0, report.machine.loadAverageAtEnd[0] ?? 0);
  if (busiest > 0.75 * report.machine.cores) {
    out.push(
      `\n**The machine was busy** (load average up to ${busiest.toFixed(1)} on ${report.machine.cores} cores): other processes took CPU time during ` +
        'the runs, so absolute figures are low and noisy; the ratios within this run (interleaved, same conditions) are what to read.\n',
    );
  }
  if (d.rows.length) {
    out.push(`${h} Loaders compared\n`);
    out.push(
      'images/s over one epoch from the loader\'s creation (folder scan and worker start included); peak memory is the process\'s `maxRSS` ' +
        '(PyTorch: PSS summed over its processes); CPU ms/image is the user + system time of every thread (PyTorch: of every process) ' +
        'from the loader\'s creation to the last batch, per image (other load on the machine cuts images/s more than it adds to this); consumer stall is the share of the time after the first batch the consumer waited (with no model step, a consumer does nothing but wait, so 100% is expected here; see the model-step sweep).\n',
    );
    out.push(
      table(
        ['loader', 'dtype', 'images/s', 'vs ceiling', 'vs decode only', 'CPU ms/image', 'peak memory', 'first batch', 'consumer stall', 'note'],
        d.rows.map((r) => [r.label, r.dtype, fmtIps(r.imagesPerSecond), fmtPct(r.ratioToCeiling), fmtPct(r.ratioToDecodeOnly), fmtCpu(r.cpuMsPerImage), fmtBytes(r.peakMemoryBytes), fmtMs(r.timeToFirstBatchMs), fmtPct(r.stallShare), r.note]),
      ),
    );
  }
  if (d.targets.length) {
    out.push(`\n${h} Targets\n`);
    out.push(table(['target', 'measured', 'met'], d.targets.map((t) => [t.target, t.measured, t.met === null ? '(reference)' : t.met ? 'yes' : '**no**'])));
  }
  if (d.workers.length) {
    out.push(`\n${h} Throughput vs workers (uint8)\n`);
    out.push(table(['workers', 'imgstream images/s', 'imgstream peak', 'PyTorch images/s', 'PyTorch peak (PSS)'], d.workers.map((w) => [String(w.workers), fmtIps(w.imgstream), fmtBytes(w.imgstreamPeak), fmtIps(w.pytorch), fmtBytes(w.pytorchPeak)])));
  }
  if (d.budget.length) {
    out.push(`\n${h} Throughput vs memoryBudget (float32)\n`);
    out.push(table(['memoryBudget', 'images/s', 'peak RSS', 'peak RSS - budget'], d.budget.map((b) => [fmtBytes(b.budgetBytes), fmtIps(b.imagesPerSecond), fmtBytes(b.peakMemoryBytes), b.peakMemoryBytes === null ? '—' : fmtBytes(b.peakMemoryBytes - b.budgetBytes)])));
  }
  if (d.steps.length) {
    out.push(`\n${h} Consumer stall vs model step time (float32)\n`);
    out.push(table(['model step per batch', 'consumer stall', 'images/s'], d.steps.map((t) => [`${t.stepMs} ms`, fmtPct(t.stallShare), fmtIps(t.imagesPerSecond)])));
  }
  if (d.sizes.length) {
    out.push(`\n${h} Peak memory vs dataset size (float32; naive killed past ${fmtBytes(s.memoryCap)}; imgstream memoryBudget ${fmtBytes(s.sizesBudget)})\n`);
    out.push(table(['images', 'imgstream peak RSS', 'imgstream first batch', 'naive load-all peak RSS'], d.sizes.map((z) => [String(z.size), fmtBytes(z.imgstreamPeak), fmtMs(z.imgstreamFirstBatchMs), z.naiveNote || fmtBytes(z.naivePeak)])));
  }
  const shards = shardSection(report.records, h);
  if (shards.markdown) out.push(shards.markdown);
  const objectStore = objectStoreSection(report.records, h);
  if (objectStore.markdown) out.push(objectStore.markdown);
  if (d.breakdown.length) {
    out.push(`\n${h} Where a sharp call's time goes (one JPEG to ${s.imageSize[0]}x${s.imageSize[1]}, one call at a time)\n`);
    out.push(table(['step', 'ms per image'], d.breakdown.map((b) => [b.step.trim().startsWith('+') ? `&nbsp;&nbsp;${b.step.trim()}` : b.step, b.msPerImage.toFixed(2)])));
  }
  if (report.notes.length) out.push(`\n${report.notes.map((n) => `- ${n}`).join('\n')}`);
  return `${out.join('\n')}\n`;
}

/** The plots, as `[file suffix, svg]`. */
export function plots(report: Report, d: Derived): [string, string][] {
  const out: [string, string][] = [];
  const pts = (list: [number, number | null][]) => list.filter((p): p is [number, number] => p[1] !== null);
  if (d.workers.length) {
    const series: Series[] = [{ name: 'imgstream', points: pts(d.workers.map((w) => [w.workers, w.imgstream])) }];
    if (d.workers.some((w) => w.pytorch !== null)) series.push({ name: 'PyTorch DataLoader', points: pts(d.workers.map((w) => [w.workers, w.pytorch])) });
    const c = d.ceiling.uint8;
    out.push(['workers', lineChart({ title: 'Throughput vs workers (uint8)', xLabel: 'workers (num_workers for PyTorch)', yLabel: 'images/s', xInteger: true, series, references: c ? [{ y: c.imagesPerSecond, label: 'decode ceiling' }] : [] })]);
  }
  if (d.sizes.length) {
    const naiveFailed = d.sizes.filter((z) => z.naivePeak === null && z.naiveNote.startsWith('killed')).map((z): [number, number] => [z.size, report.settings.memoryCap / MIB]);
    out.push([
      'sizes',
      lineChart({
        title: 'Peak memory vs dataset size (float32)',
        xLabel: 'images in the dataset',
        yLabel: 'peak RSS (MiB)',
        xLog: true,
        series: [
          { name: 'imgstream', points: pts(d.sizes.map((z) => [z.size, z.imgstreamPeak === null ? null : z.imgstreamPeak / MIB])) },
          { name: 'naive load-all', points: pts(d.sizes.map((z) => [z.size, z.naivePeak === null ? null : z.naivePeak / MIB])), failed: naiveFailed },
        ],
        references: [{ y: report.settings.memoryCap / MIB, label: 'memory cap' }],
      }),
    ]);
  }
  if (d.budget.length) {
    out.push(['budget', lineChart({ title: 'Throughput vs memoryBudget (float32)', xLabel: 'memoryBudget (MiB)', yLabel: 'images/s', xLog: true, series: [{ name: 'imgstream', points: pts(d.budget.map((b) => [b.budgetBytes / MIB, b.imagesPerSecond])) }] })]);
  }
  if (d.steps.length) {
    out.push(['steps', lineChart({ title: 'Consumer stall vs model step time', xLabel: 'model step per batch (ms)', yLabel: 'consumer stall (%)', series: [{ name: 'imgstream', points: pts(d.steps.map((t) => [t.stepMs, t.stallShare === null ? null : t.stallShare * 100])) }] })]);
  }
  return out;
}

export const SECTION_START = '<!-- PERFORMANCE -->';
export const SECTION_END = '<!-- /PERFORMANCE -->';

/**
 * `page` with the text between the Performance markers replaced by `section`. With only the start marker,
 * the end marker is added after the section.
 */
export function replaceSection(page: string, section: string): string {
  const start = page.indexOf(SECTION_START);
  if (start < 0) throw new Error(`Expected a ${SECTION_START} marker in the page but found none`);
  const after = start + SECTION_START.length;
  const end = page.indexOf(SECTION_END, after);
  const rest = end < 0 ? page.slice(after).replace(/^\n/, '') : page.slice(end + SECTION_END.length);
  return `${page.slice(0, after)}\n${section.trim()}\n${SECTION_END}${end < 0 && rest ? '\n' : ''}${rest}`;
}

/** Writes `<stamp>.json`, `<stamp>.md` and `<stamp>-<plot>.svg` to the results folder, and the docs page's section. */
export async function writeReport(report: Report, settings: Settings): Promise<{ markdown: string; derived: Derived; files: string[] }> {
  const d = derive(report);
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  await fsp.mkdir(settings.out, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    const file = path.join(settings.out, name);
    await fsp.writeFile(file, text);
    files.push(file);
  };
  const md = markdown(report, d);
  const svgs = plots(report, d);
  await write(`${stamp}.json`, `${JSON.stringify({ ...report, derived: d }, null, 2)}\n`);
  await write(`${stamp}.md`, `# imgstream benchmark, ${report.startedAt}\n\n${md}${svgs.map(([n]) => `\n![${n}](${stamp}-${n}.svg)`).join('')}\n`);
  for (const [name, svg] of svgs) await write(`${stamp}-${name}.svg`, svg);
  if (settings.writeDocs !== null) {
    const page = await fsp.readFile(settings.writeDocs, 'utf8');
    await fsp.writeFile(settings.writeDocs, replaceSection(page, `## Measured\n\n${markdown(report, d, 3)}`));
    files.push(settings.writeDocs);
  }
  return { markdown: md, derived: d, files };
}
