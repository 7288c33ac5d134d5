/**
 * What the benchmark records, shared by the runner (`run.ts`), which fills it, and the report (`report.ts`),
 * which reads it: the run plan, each attempt's outcome, the medians, the settings and the machine.
 */
import type { ScenarioConfig, ScenarioResult, Dtype } from './scenarios/common.js';
import type { Variant } from './variants.js';

export type ScenarioName = 'imgstream' | 'ceiling' | 'decode-only' | 'fast-ceiling' | 'naive' | 'one-at-a-time' | 'pytorch' | 'sharp-breakdown' | 'pil-decode' | 'shards' | 'object-store';
export const GROUPS = ['breakdown', 'main', 'workers', 'budget', 'steps', 'sizes', 'shards', 'object-store'] as const;
export type Group = (typeof GROUPS)[number];

export interface RunSpec {
  /** Unique within a report; repeats of a spec share it. */
  id: string;
  group: Group;
  /** Row label, e.g. `imgstream workers=2`. */
  label: string;
  scenario: ScenarioName;
  config: ScenarioConfig;
  /** Extra environment of the child (e.g. `UV_THREADPOOL_SIZE`). */
  env?: Record<string, string>;
  /** The child is killed when its RSS passes this many bytes. */
  capBytes?: number;
  /** For sweeps: the series and the x value of this run's point. */
  series?: string;
  x?: number;
}

export interface Attempt {
  ok: boolean;
  result?: ScenarioResult;
  error?: string;
  /** Killed by the runner at the memory cap (`capBytes`). */
  killedAtCap?: boolean;
  /** Images the child reported loaded when it was killed. */
  loadedAtKill?: number;
  /** Highest RSS the runner saw while polling the child (Linux). */
  watchedPeakBytes: number;
}

/** The medians over a spec's successful repeats. */
export interface Figures {
  imagesPerSecond: number;
  wallMs: number;
  timeToFirstBatchMs: number;
  /** Share of the wall time (after the first batch) the consumer spent waiting. */
  stallShare: number;
  peakMemoryBytes: number;
  images: number;
  /** CPU ms (all threads or processes) per image, when the scenario reports it. */
  cpuMsPerImage: number | null;
}

export interface RunRecord {
  spec: RunSpec;
  attempts: Attempt[];
  median: Figures | null;
}

export interface Settings {
  quick: boolean;
  dir: string | null;
  cacheDir: string;
  size: number;
  sizes: number[];
  repeats: number;
  imageSize: [number, number];
  batchSize: number;
  dtypes: Dtype[];
  workers: number[];
  pytorchWorkers: number[];
  ceilingConcurrency: number[];
  budgets: number[];
  steps: number[] | null;
  sizesBudget: number;
  breakdownFiles: number;
  memoryCap: number;
  groups: Group[];
  variants: Variant[];
  python: string | undefined;
  pytorch: boolean;
  out: string;
  writeDocs: string | null;
  reportFrom: string | null;
  progress: boolean;
  /** `--json`: the report as JSON on stdout, no progress output. */
  json: boolean;
  timeoutSeconds: number;
}

/** The machine a report was measured on. */
export interface Machine {
  cores: number;
  availableParallelism: number;
  cpu: string;
  memoryBytes: number;
  platform: string;
  node: string;
  sharp: string;
  libvips: string;
  jpeg: string;
  /** imgstream's own JPEG decoder there: the fast path and its library, or why it is off (absent in older reports). */
  decoder?: string;
  torch: string | null;
  pil: string | null;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}
