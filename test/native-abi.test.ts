/**
 * The native boundary's contract: every constant of `src/native/abi.ts` has the same value in `abi.h`, and in
 * the addon as compiled (its `abi()` export), so neither side can move an offset alone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ABI } from '../src/native/abi.js';
import { nativeAddon } from '../src/native/addon.js';

/** `DecodeParam.WIDTH` -> `DECODE_PARAM_WIDTH`. */
function cName(group: string, key: string): string {
  return `${group.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}_${key}`;
}

const fromTs = new Map<string, number>();
for (const [group, values] of Object.entries(ABI)) for (const [key, value] of Object.entries(values)) fromTs.set(cName(group, key), value);

/** Every `NAME = value` of the header's enums. */
function headerConstants(): Map<string, number> {
  const text = readFileSync(new URL('../src/native/abi.h', import.meta.url), 'utf8');
  const found = new Map<string, number>();
  for (const enumBody of text.matchAll(/enum\s*\{([^}]*)\}/g)) {
    for (const m of enumBody[1].matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*=\s*(-?\d+)\s*,/gm)) found.set(m[1], Number(m[2]));
  }
  return found;
}

describe('native ABI', () => {
  it('abi.h declares exactly the constants of abi.ts, with the same values', () => {
    const header = headerConstants();
    expect(header.size).toBeGreaterThan(30);
    expect(Object.fromEntries(header)).toEqual(Object.fromEntries(fromTs));
  });

  it('packed blocks have no two fields at one offset', () => {
    for (const group of [ABI.DecodeParam, ABI.ShiftedParam]) {
      const { COUNT, ...fields } = group;
      const offsets = Object.values(fields).sort((a, b) => a - b);
      expect(new Set(offsets).size).toBe(offsets.length);
      expect(offsets.every((o) => o >= 0 && o < COUNT)).toBe(true);
    }
  });

  it.runIf(nativeAddon() !== null)('the built addon was compiled with the same values', () => {
    expect(nativeAddon()!.abi()).toEqual(Object.fromEntries(fromTs));
  });
});
