/**
 * Option checking, after sharp's `lib/is`: one-line predicates, and checks built from them that return the
 * value or throw the one error every option check throws (`Errors.invalidOption`: the option's full name,
 * what is allowed, what was received).
 */
import { Errors, type ImgstreamError } from './errors.js';

/** Largest `[height, width]` side an output or stage image may have. */
export const MAX_IMAGE_SIDE = 16384;

export const defined = (v: unknown): boolean => v !== undefined && v !== null;
export const object = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
export const plainObject = (v: unknown): v is Record<string, unknown> => object(v) && !Array.isArray(v);
export const bool = (v: unknown): v is boolean => typeof v === 'boolean';
export const number = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const integer = (v: unknown): v is number => Number.isInteger(v);
export const inRange = (v: number, min: number, max: number): boolean => v >= min && v <= max;
export const integerIn = (v: unknown, min: number, max: number): v is number => integer(v) && inRange(v, min, max);
export const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
export const func = (v: unknown): v is (...args: never[]) => unknown => typeof v === 'function';
export const inArray = <T>(v: unknown, list: readonly T[]): v is T => list.includes(v as T);
/** `[height, width]`: two integers between 1 and {@link MAX_IMAGE_SIDE}. */
export const imageSize = (v: unknown): v is [number, number] =>
  Array.isArray(v) && v.length === 2 && v.every((side) => integerIn(side, 1, MAX_IMAGE_SIDE));

/** The error of every failed check. */
export const invalid = (option: string, allowed: string, received: unknown): ImgstreamError =>
  Errors.invalidOption(option, allowed, received);

/** `'a'`, `'b'`, null: the allowed values as a message lists them. */
export const listOf = (allowed: readonly unknown[]): string => allowed.map((a) => (a === null ? 'null' : `'${String(a)}'`)).join(', ');

export function oneOf<T>(option: string, value: unknown, allowed: readonly T[]): T {
  if (!inArray(value, allowed)) throw invalid(option, `one of ${listOf(allowed)}`, value);
  return value;
}

export function integerBetween(option: string, value: unknown, min: number, max: number): number {
  if (!integerIn(value, min, max)) throw invalid(option, `an integer between ${min} and ${max}`, value);
  return value;
}

export function positiveInteger(option: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  return integerBetween(option, value, 1, max);
}

export function boolean(option: string, value: unknown): boolean {
  if (!bool(value)) throw invalid(option, 'a boolean', value);
  return value;
}

export function numberBetween(option: string, value: unknown, min: number, max: number, what = 'a number'): number {
  if (!number(value) || !inRange(value, min, max)) throw invalid(option, `${what} between ${min} and ${max}`, value);
  return value;
}

export function size2d(option: string, value: unknown): [number, number] {
  if (!imageSize(value)) throw invalid(option, `[height, width], two integers between 1 and ${MAX_IMAGE_SIDE}`, value);
  return [value[0], value[1]];
}
