import { h, replaceChildren, svg } from './dom.js';
import { compact } from './format.js';

/** Colours of the series, in order; readable on white and told apart without relying on red/green alone. */
export const PALETTE = ['#2563eb', '#d97706', '#059669', '#9333ea', '#dc2626', '#0891b2', '#65a30d', '#db2777'];

const WIDTH = 720;
const HEIGHT = 220;
const PAD = { left: 56, right: 12, top: 10, bottom: 26 };
/** Points kept per series: ten minutes at one progress report a second. */
const MAX_POINTS = 600;

interface Series {
  label: string;
  color: string;
  dashed: boolean;
  points: { t: number; v: number }[];
}

/**
 * A live line chart of rows per second, drawn as SVG (no chart library: a few lines and axes are all it needs).
 * `data-points` on the SVG holds how many points it shows, for tests.
 */
export class ThroughputChart {
  readonly element: HTMLElement;
  private readonly plot: SVGSVGElement;
  private readonly legend: HTMLElement;
  private readonly series = new Map<string, Series>();

  constructor() {
    this.plot = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': 'throughput in rows per second', 'data-points': 0 });
    this.legend = h('div', { class: 'legend' });
    this.element = h('div', { class: 'chart-box' }, this.plot, this.legend);
    this.render();
  }

  /** Adds a point (time in ms since the epoch, rows per second) to the series `key`; dashed series may overlap. */
  add(key: string, label: string, t: number, value: number, options: { dashed?: boolean } = {}): void {
    let series = this.series.get(key);
    if (!series) {
      series = { label, color: PALETTE[this.series.size % PALETTE.length]!, dashed: options.dashed === true, points: [] };
      this.series.set(key, series);
    }
    series.points.push({ t, v: value });
    if (series.points.length > MAX_POINTS) series.points.shift();
  }

  render(): void {
    const all = [...this.series.values()];
    const points = all.reduce((n, s) => n + s.points.length, 0);
    this.plot.setAttribute('data-points', String(points));
    const innerW = WIDTH - PAD.left - PAD.right;
    const innerH = HEIGHT - PAD.top - PAD.bottom;
    if (points === 0) {
      replaceChildren(this.plot, svg('text', { x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'waiting for progress from the running job…'));
      replaceChildren(this.legend);
      return;
    }
    const times = all.flatMap((s) => s.points.map((p) => p.t));
    const t1 = Math.max(...times);
    const t0 = Math.min(Math.min(...times), t1 - 30_000);
    // Four grid steps of a round size (1, 2, 2.5 or 5 times a power of ten), so every label is a round number.
    const top = 4 * niceCeiling(Math.max(4, ...all.flatMap((s) => s.points.map((p) => p.v))) / 4);
    const x = (t: number) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * innerW;
    const y = (v: number) => PAD.top + innerH - (v / top) * innerH;

    const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => [
      svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(top * f), y2: y(top * f), class: 'grid' }),
      svg('text', { x: PAD.left - 6, y: y(top * f) + 4, 'text-anchor': 'end', class: 'axis' }, compact(top * f)),
    ]);
    const span = (t1 - t0) / 1000;
    const ticks = [0, 1 / 3, 2 / 3, 1].map((f) =>
      svg('text', { x: PAD.left + f * innerW, y: HEIGHT - 8, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle', class: 'axis' }, f === 1 ? 'now' : `−${Math.round(span * (1 - f))} s`),
    );
    // Sinks fed the same rows commit the same counts: their lines are dashed, each dash shifted, so lines
    // lying on top of each other still show every colour.
    const lines = all.map((s, index) => {
      const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
      const last = s.points.at(-1)!;
      const dash: Record<string, string | number> = s.dashed ? { 'stroke-dasharray': `8 ${8 * (all.length - 1)}`, 'stroke-dashoffset': 8 * index } : {};
      return [svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round', ...dash }), svg('circle', { cx: x(last.t), cy: y(last.v), r: 3, fill: s.color })];
    });
    replaceChildren(this.plot, grid, ticks, lines);
    replaceChildren(
      this.legend,
      all.map((s) => {
        const swatch = h('span', { class: 'swatch' });
        swatch.style.background = s.color;
        return h('span', { class: 'legend-item' }, swatch, `${s.label} `, h('strong', null, `${compact(s.points.at(-1)!.v)}/s`));
      }),
    );
  }
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `value`. */
function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(value, 1e-9)));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}
