/**
 * Small SVG line charts for the benchmark report: one chart, a few series of (x, y) points, axes with round
 * ticks, an optional log2 x axis and horizontal reference lines. No browser, no dependency.
 */

export interface Series {
  name: string;
  points: [number, number][];
  /** Points drawn hollow: runs that did not finish (e.g. killed at the memory cap). */
  failed?: [number, number][];
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Log base 2 x axis (memory budgets, dataset sizes). */
  xLog?: boolean;
  /** x values are counts (workers): ticks only at whole numbers. */
  xInteger?: boolean;
  /** Horizontal reference lines, e.g. the decode ceiling or a memory cap. */
  references?: { y: number; label: string }[];
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 90 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** About five round ticks from 0 (or `lo`) to past `hi`; with `integer`, whole numbers only. */
export function niceTicks(lo: number, hi: number, integer = false): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const steps = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).filter((s) => !integer || Number.isInteger(s));
  const step = integer ? Math.max(1, steps.find((s) => s >= raw) ?? Math.ceil(raw)) : (steps.find((s) => s >= raw) ?? raw);
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

/**
 * The chart as an SVG document.
 *
 * @example
 * writeFileSync('workers.svg', lineChart({ title: 'Throughput', xLabel: 'workers', yLabel: 'images/s',
 *   series: [{ name: 'imgstream', points: [[1, 120], [2, 230]] }] }));
 */
export function lineChart(chart: Chart): string {
  const all = chart.series.flatMap((s) => [...s.points, ...(s.failed ?? [])]);
  const xs = all.map(([x]) => (chart.xLog ? Math.log2(x) : x));
  const ys = [...all.map(([, y]) => y), ...(chart.references ?? []).map((r) => r.y), 0];
  const xLo = xs.length ? Math.min(...xs) : 0;
  const xHi = xs.length ? Math.max(...xs) : 1;
  const yTicks = niceTicks(0, ys.length ? Math.max(...ys) : 1);
  const yHi = yTicks[yTicks.length - 1] || 1;
  // A log axis is ticked at the data's own x values (sizes, budgets), which read better than powers of two.
  const xTicks = chart.xLog ? [...new Set(xs)].sort((a, b) => a - b) : niceTicks(xLo, xHi, chart.xInteger).filter((t) => t >= xLo && t <= xHi);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + (xHi === xLo ? plotW / 2 : (((chart.xLog ? Math.log2(x) : x) - xLo) / (xHi - xLo)) * plotW);
  const pxRaw = (lx: number) => MARGIN.left + (xHi === xLo ? plotW / 2 : ((lx - xLo) / (xHi - xLo)) * plotW);
  const py = (y: number) => MARGIN.top + plotH - (y / yHi) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(chart.title)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${py(t) + 4}" text-anchor="end">${formatTick(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = chart.xLog ? pxRaw(t) : px(t);
    const label = chart.xLog ? formatTick(2 ** t) : formatTick(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 36}" text-anchor="middle">${escape(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`);
  for (const r of chart.references ?? []) {
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py(r.y)}" y2="${py(r.y)}" stroke="#777" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${WIDTH - MARGIN.right - 4}" y="${py(r.y) - 5}" text-anchor="end" fill="#555">${escape(r.label)}</text>`);
  }
  chart.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${color}"/>`);
    for (const [x, y] of s.failed ?? []) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="5" fill="#fff" stroke="${color}" stroke-width="2"/>`);
    const lx = MARGIN.left + (i % 3) * 190;
    const ly = HEIGHT - 28 + Math.floor(i / 3) * 16;
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 24}" y="${ly}">${escape(s.name)}${s.failed?.length ? ' (hollow: killed)' : ''}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
