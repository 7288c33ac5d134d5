/**
 * The benchmark's SVG charts: axis ticks. A count axis (workers) is ticked at whole numbers only.
 */
import { describe, expect, it } from 'vitest';
import { lineChart, niceTicks } from '../bench/plot.js';

function xTickLabels(svg: string): number[] {
  // x tick labels are the texts drawn just under the plot area (y = top + plot height + 18).
  return [...svg.matchAll(/<text x="[\d.]+" y="328" text-anchor="middle">([^<]+)<\/text>/g)].map((m) => Number(m[1]));
}

describe('niceTicks', () => {
  it('gives round fractional steps on a continuous axis and whole steps on a count axis', () => {
    expect(niceTicks(1, 2)).toEqual([1, 1.2, 1.4, 1.6, 1.8, 2]);
    expect(niceTicks(1, 2, true)).toEqual([1, 2]);
    expect(niceTicks(1, 4, true)).toEqual([1, 2, 3, 4]);
    for (const hi of [2, 3, 5, 7, 12, 16, 33]) {
      const ticks = niceTicks(1, hi, true);
      expect(ticks.every(Number.isInteger), `1..${hi}: ${ticks}`).toBe(true);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(hi);
    }
  });

  it('labels a workers chart with whole worker counts', () => {
    const svg = lineChart({ title: 't', xLabel: 'workers', yLabel: 'images/s', xInteger: true, series: [{ name: 'a', points: [[1, 100], [2, 180]] }] });
    expect(xTickLabels(svg)).toEqual([1, 2]);
    const continuous = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[1, 100], [2, 180]] }] });
    expect(xTickLabels(continuous)).toEqual([1, 1.2, 1.4, 1.6, 1.8, 2]);
  });
});
