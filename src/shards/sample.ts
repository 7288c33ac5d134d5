/**
 * From a group of tar members to a sample: its image member and its label, or the reason it cannot be one.
 * The image is the first member whose extension is an image format (in {@link IMAGE_EXTENSIONS} order);
 * the label comes from a `.cls` / `.txt` member (an integer, or a class name mapped through the class
 * names) or a field of a `.json` member. A group is never paired with another group's members.
 */
import type { ErrorCode } from '../errors.js';
import { IMAGE_EXTENSIONS } from '../file-index.js';
import { memberBytes, type GroupedSample, type SampleMember } from './tar-samples.js';

/** Which member holds the label: `'auto'` takes the first of `.cls`, `.json`, `.txt` that the sample has. */
export type LabelMember = 'auto' | 'cls' | 'txt' | 'json';

export interface SampleRules {
  /** Image extensions (lower case), in order of preference. */
  imageExtensions: readonly string[];
  /** `false` for `labelMode: null`: labels are neither read nor required. */
  labeled: boolean;
  labelMember: LabelMember;
  /** The field of a `.json` member that holds the label. */
  labelField: string;
  classNames: readonly string[];
  maxSampleBytes: number;
}

export const LABEL_EXTENSIONS = ['cls', 'json', 'txt'] as const;

export function defaultImageExtensions(): readonly string[] {
  return IMAGE_EXTENSIONS;
}

/** Whether a member's bytes are needed to make samples under `rules`. */
export function keepsMember(rules: SampleRules, extension: string): boolean {
  return rules.imageExtensions.includes(extension) || (rules.labeled && (LABEL_EXTENSIONS as readonly string[]).includes(extension));
}

export type SampleOutcome =
  /** `image`: the image member; its bytes are in `data`, or at `offset` of the shard when not read yet (a local shard). */
  | { ok: true; image: SampleMember; label: number }
  | { ok: false; code: ErrorCode; message: string };

function labelFrom(text: string, rules: SampleRules): number | string {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (rules.classNames.length > 0 && n >= rules.classNames.length) {
      return `label ${n} is not below the number of classes (${rules.classNames.length})`;
    }
    return n;
  }
  const named = rules.classNames.indexOf(t);
  if (named !== -1) return named;
  const shown = t.length > 40 ? `${t.slice(0, 40)}…` : t;
  return rules.classNames.length > 0
    ? `label '${shown}' is neither an integer nor one of the class names`
    : `label '${shown}' is not an integer (give classNames to map names)`;
}

function parseLabel(sample: GroupedSample, rules: SampleRules): number | string {
  const wanted = rules.labelMember === 'auto' ? LABEL_EXTENSIONS : [rules.labelMember];
  const member = wanted.map((ext) => sample.members.find((m) => m.extension === ext)).find((m) => m !== undefined);
  if (member === undefined) return `no label member (.${wanted.join(', .')})`;
  if (member.data === null) return `label member .${member.extension} of ${member.size} bytes is too large`;
  const text = memberBytes(member.data).toString('utf8');
  if (member.extension !== 'json') return labelFrom(text, rules);
  let value: unknown;
  try {
    value = (JSON.parse(text) as Record<string, unknown>)?.[rules.labelField];
  } catch {
    return 'the .json member is not valid JSON';
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return labelFrom(String(value), rules);
  if (typeof value === 'string') return labelFrom(value, rules);
  return `the .json member has no integer or class-name field '${rules.labelField}'`;
}

/** The sample a group makes, or why it makes none. */
export function toSample(sample: GroupedSample, rules: SampleRules): SampleOutcome {
  if (sample.problem !== null) return { ok: false, code: 'ERR_SHARD_SAMPLE', message: sample.problem };
  const image = rules.imageExtensions
    .map((ext) => sample.members.find((m) => m.extension === ext))
    .find((m) => m !== undefined);
  if (image === undefined) {
    const had = sample.members.map((m) => `.${m.extension}`).join(', ');
    return { ok: false, code: 'ERR_SHARD_SAMPLE', message: `no image member (the sample has ${had || 'no members'})` };
  }
  if (image.size === 0) return { ok: false, code: 'ERR_EMPTY_FILE', message: `the .${image.extension} member is empty (0 bytes)` };
  if (image.size > rules.maxSampleBytes) {
    return {
      ok: false,
      code: 'ERR_TOO_LARGE',
      message: `the .${image.extension} member claims ${image.size} bytes, more than maxSampleBytes (${rules.maxSampleBytes})`,
    };
  }
  let label = 0;
  if (rules.labeled) {
    const parsed = parseLabel(sample, rules);
    if (typeof parsed === 'string') return { ok: false, code: 'ERR_LABEL', message: parsed };
    label = parsed;
  }
  return { ok: true, image, label };
}
