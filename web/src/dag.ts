import type { JobView } from './api.js';
import { svg } from './dom.js';

type Stage = JobView['plan']['stages'][number];

const NODE_W = 150;
const NODE_H = 46;
const COL_GAP = 64;
const ROW_GAP = 18;
const PAD = 8;

/**
 * The job's stages and streams as SVG: sources on the left, each transform one column right of what it reads,
 * sinks in the last column; an arrow per stream, labelled with its name.
 */
export function dagView(stages: readonly Stage[]): SVGSVGElement {
  const producers = new Map<string, Stage>();
  for (const stage of stages) if (stage.output) producers.set(stage.output, stage);
  const depth = new Map<Stage, number>();
  const depthOf = (stage: Stage, seen: Set<Stage> = new Set()): number => {
    const known = depth.get(stage);
    if (known !== undefined) return known;
    const from = stage.input ? producers.get(stage.input) : undefined;
    const d = stage.kind === 'source' || !from || seen.has(from) ? 0 : depthOf(from, new Set([...seen, stage])) + 1;
    depth.set(stage, d);
    return d;
  };
  for (const stage of stages) depthOf(stage);
  const sinkColumn = Math.max(1, ...stages.filter((s) => s.kind !== 'sink').map((s) => depth.get(s)! + 1));
  const columns: Stage[][] = [];
  for (const stage of stages) {
    const column = stage.kind === 'sink' ? sinkColumn : depth.get(stage)!;
    (columns[column] ??= []).push(stage);
  }
  const rows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const width = PAD * 2 + columns.length * NODE_W + (columns.length - 1) * COL_GAP;
  const height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP;
  const position = new Map<Stage, { x: number; y: number }>();
  columns.forEach((column, c) => {
    const offset = ((rows - (column?.length ?? 0)) * (NODE_H + ROW_GAP)) / 2;
    (column ?? []).forEach((stage, r) => position.set(stage, { x: PAD + c * (NODE_W + COL_GAP), y: PAD + offset + r * (NODE_H + ROW_GAP) }));
  });

  const edges = stages.flatMap((stage) => {
    const from = stage.input ? producers.get(stage.input) : undefined;
    if (!from) return [];
    const a = position.get(from)!;
    const b = position.get(stage)!;
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x - 4;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    return [
      svg('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: 'edge', 'marker-end': 'url(#arrow)' }),
      svg('text', { x: mid, y: (y1 + y2) / 2 - 5, 'text-anchor': 'middle', class: 'edge-label' }, stage.input!),
    ];
  });
  // Rejected rows: a dashed edge from each stage to the dead-letter sink its policy names.
  const byName = new Map(stages.filter((s) => s.kind === 'sink').map((s) => [s.name, s]));
  const rejectEdges = stages.flatMap((stage) => {
    const to = stage.deadLetterTo ? byName.get(stage.deadLetterTo) : undefined;
    if (!to) return [];
    const a = position.get(stage)!;
    const b = position.get(to)!;
    const x1 = a.x + NODE_W / 2;
    const y1 = a.y + NODE_H;
    const x2 = b.x - 4;
    const y2 = b.y + NODE_H / 2;
    return [svg('path', { d: `M${x1},${y1} C${x1},${y2} ${x1},${y2} ${x2},${y2}`, class: 'edge edge-rejects', 'marker-end': 'url(#arrow)' })];
  });
  const nodes = stages.map((stage) => {
    const { x, y } = position.get(stage)!;
    // A dead_letter block's sink reads no stream: it receives the rows stages reject.
    const role = stage.deadLetter ? 'dead letter' : stage.kind;
    return svg(
      'g',
      { class: `node node-${role.replace(' ', '-')}`, 'data-stage': stage.name },
      svg('rect', { x, y, width: NODE_W, height: NODE_H, rx: 6 }),
      svg('text', { x: x + 10, y: y + 19, class: 'node-name' }, clip(stage.name, 18)),
      svg('text', { x: x + 10, y: y + 36, class: 'node-type' }, `${role} · ${clip(stage.type, 12)}`),
      svg('title', {}, `${role} ${stage.name} (${stage.type})`),
    );
  });
  return svg(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, width, height, class: 'dag', role: 'img', 'aria-label': 'stages and streams of the job' },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))),
    edges,
    rejectEdges,
    nodes,
  );
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
