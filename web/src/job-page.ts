import type { CheckpointEvent, JobProgress } from './api-types.js';
import { ApiError, followEvents, getJob, jobAction, type JobView } from './api.js';
import { ThroughputChart } from './chart.js';
import { dagView } from './dag.js';
import { h, replaceChildren, svg } from './dom.js';
import { bytes, count, duration, time } from './format.js';
import { type Page, statusBadge } from './page.js';

const STOPPABLE = new Set<JobView['status']>(['queued', 'running']);
const CANCELLABLE = new Set<JobView['status']>(['queued', 'running', 'interrupted']);
const RESUMABLE = new Set<JobView['status']>(['cancelled', 'failed', 'interrupted']);
/** Checkpoints listed in the table (the timeline shows every one the server keeps). */
const TABLE_CHECKPOINTS = 30;

/** One job: live throughput, its DAG, per-stage counters, queues, checkpoints, its last error, and controls. */
export async function jobPage(page: Page, id: string): Promise<void> {
  let view = await getJob(id, page.signal);
  const chart = new ThroughputChart();
  const head = h('section', { class: 'card job-head' });
  const error = h('section', { class: 'card error-box', attrs: { 'data-testid': 'last-error' } });
  const counters = h('div', { attrs: { 'data-testid': 'counters' } });
  const queues = h('div', { attrs: { 'data-testid': 'queues' } });
  const checkpoints = h('div', { attrs: { 'data-testid': 'checkpoints' } });
  const dag = h('div', { class: 'dag-box' });
  const actionMessage = h('span', { class: 'action-message', attrs: { role: 'status' } });
  replaceChildren(
    page.root,
    head,
    error,
    h(
      'div',
      { class: 'columns' },
      h('section', { class: 'card', attrs: { 'data-testid': 'throughput' } }, h('h2', null, 'Throughput'), h('p', { class: 'muted small' }, 'Rows per second read by each source (over 2 s) and committed by each sink (over a checkpoint interval), from live progress.'), chart.element),
      h('section', { class: 'card' }, h('h2', null, 'Stages and streams'), dag),
    ),
    h('div', { class: 'columns' }, h('section', { class: 'card' }, h('h2', null, 'Stages'), counters), h('section', { class: 'card' }, h('h2', null, 'Queues'), h('p', { class: 'muted small' }, 'Batches waiting between each reader and its writers; a full queue means the sinks hold the source back.'), queues)),
    h('section', { class: 'card' }, h('h2', null, 'Checkpoints'), checkpoints),
  );

  // The event stream is the order of record: an action's answer is older than a status event that came
  // before it (a stop answered 'stopping' after the stream said 'cancelled'), so it only stands if none did.
  let statusEvents = 0;
  const act = async (action: 'stop' | 'cancel' | 'resume', button: HTMLButtonElement) => {
    button.disabled = true;
    actionMessage.textContent = `${action} requested…`;
    const seen = statusEvents;
    try {
      const answer = await jobAction(view.id, action);
      if (statusEvents === seen) view = answer;
      actionMessage.textContent = '';
      drawAll();
    } catch (failure) {
      actionMessage.textContent = failure instanceof ApiError ? `${failure.code}: ${failure.message}` : String(failure);
      button.disabled = false;
    }
  };
  const button = (label: string, action: 'stop' | 'cancel' | 'resume', enabled: boolean, title: string) => {
    const b = h('button', { class: `action action-${action}`, title, attrs: { type: 'button', 'data-action': action } }, label);
    b.disabled = !enabled;
    b.addEventListener('click', () => void act(action, b));
    return b;
  };

  const drawHead = () => {
    const plan = view.plan;
    replaceChildren(
      head,
      h('div', { class: 'head-row' }, h('h1', null, view.name), statusBadge(view.status), h('span', { class: 'muted' }, view.id)),
      h(
        'dl',
        { class: 'meta' },
        meta('submitted', time(view.submittedAt)),
        meta('started', time(view.startedAt)),
        meta('ended', time(view.endedAt)),
        meta('runs', String(view.runs)),
        meta('resumed from', view.resumedFrom === null ? 'fresh start' : `checkpoint ${view.resumedFrom}`),
        meta('mode', `${plan.mode}, parallelism ${plan.parallelism}, checkpoint every ${duration(plan.checkpointInterval)}`),
      ),
      h(
        'div',
        { class: 'actions' },
        button('Stop', 'stop', STOPPABLE.has(view.status), 'take a last checkpoint and stop; Resume goes on from there'),
        button('Cancel', 'cancel', CANCELLABLE.has(view.status), 'stop like Stop, and do not resume it when the server restarts'),
        button('Resume', 'resume', RESUMABLE.has(view.status), 'run it again from its last checkpoint'),
        actionMessage,
      ),
    );
  };
  const drawError = () => {
    error.hidden = view.lastError === null;
    if (view.lastError) replaceChildren(error, h('h2', null, 'Last error'), h('div', { class: 'error-code' }, view.lastError.code), h('pre', { class: 'error-message' }, view.lastError.message));
  };
  const drawCounters = () => replaceChildren(counters, countersTable(view));
  const drawQueues = () => replaceChildren(queues, queueBars(view.progress));
  const drawCheckpoints = () => replaceChildren(checkpoints, checkpointTimeline(view.checkpoints), checkpointTable(view.checkpoints));
  const drawAll = () => {
    drawHead();
    drawError();
    drawCounters();
    drawQueues();
    drawCheckpoints();
    replaceChildren(dag, dagView(view.plan.stages));
  };
  drawAll();

  // Progress of the current run, for rates over a window: sources over 2 s; sinks over a checkpoint interval
  // (at least 2 s, at most 15 s), because a sink commits once per checkpoint and is flat in between.
  let samples: JobProgress[] = [];
  const sourceWindow = 2000;
  const sinkWindow = Math.min(15_000, Math.max(2000, view.plan.checkpointInterval));
  const rateOver = (windowMs: number, progress: JobProgress, count: (p: JobProgress) => number | undefined): number | undefined => {
    const since = progress.elapsedMs - windowMs;
    const start = samples.find((p) => p.elapsedMs >= since) ?? samples[0];
    if (!start || start.elapsedMs >= progress.elapsedMs) return undefined;
    const was = count(start);
    const now = count(progress);
    if (was === undefined || now === undefined) return undefined;
    return Math.max(0, ((now - was) / (progress.elapsedMs - start.elapsedMs)) * 1000);
  };
  const onProgress = (progress: JobProgress) => {
    // A new run starts its elapsed time again: rates are only taken within one run.
    if (samples.length > 0 && progress.elapsedMs <= samples.at(-1)!.elapsedMs) samples = [];
    const now = Date.now();
    let added = false;
    for (const s of progress.sources) {
      const value = rateOver(sourceWindow, progress, (p) => p.sources.find((x) => x.name === s.name)?.rowsRead);
      if (value !== undefined) chart.add(`source:${s.name}`, `read by ${s.name}`, now, value);
      added ||= value !== undefined;
    }
    for (const s of progress.sinks) {
      const value = rateOver(sinkWindow, progress, (p) => p.sinks.find((x) => x.name === s.name)?.rowsWritten);
      if (value !== undefined) chart.add(`sink:${s.name}`, `committed by ${s.name}`, now, value, { dashed: true });
      added ||= value !== undefined;
    }
    if (added) chart.render();
    samples.push(progress);
    samples = samples.filter((p) => p.elapsedMs >= progress.elapsedMs - sinkWindow - 1000);
    view = { ...view, progress };
    drawCounters();
    drawQueues();
  };

  void followEvents(
    `/api/jobs/${encodeURIComponent(id)}/events`,
    {
      onState: page.connection,
      onUnauthorized: () => page.fail(new ApiError(401, 'UNAUTHORIZED', 'this server needs a token')),
      onEvent: (event) => {
        if (event.type === 'progress') onProgress(event.data.progress);
        else if (event.type === 'checkpoint') {
          view = { ...view, checkpoints: [...view.checkpoints, event.data.checkpoint] };
          drawCheckpoints();
        } else {
          statusEvents++;
          view = event.data.job;
          drawAll();
        }
      },
    },
    page.signal,
  );
}

function meta(term: string, value: string): HTMLElement[] {
  return [h('dt', null, term), h('dd', null, value)];
}

type StageCounters = { rowsIn?: number; rowsOut?: number; bytes?: number; note?: string };

function countersTable(view: JobView): HTMLElement {
  const p = view.progress;
  const erroredOf = (name: string, stage: object | undefined) => view.rowsErrored[name] ?? (stage as { rowsErrored?: number } | undefined)?.rowsErrored;
  const rows = view.plan.stages.map((stage) => {
    let c: StageCounters = {};
    let entry: object | undefined;
    if (stage.kind === 'source') {
      const s = p?.sources.find((x) => x.name === stage.name);
      entry = s;
      if (s) c = { rowsOut: s.rowsRead, bytes: s.bytesRead, note: `splits ${count(s.splitsDone)} of ${s.splitsTotal === null ? '?' : count(s.splitsTotal)}${s.rowsTotal === null ? '' : `, ${count(s.rowsTotal)} rows in all`}` };
    } else if (stage.kind === 'transform') {
      const t = p?.transforms.find((x) => x.name === stage.name);
      entry = t;
      if (t) c = { rowsIn: t.rowsIn, rowsOut: t.rowsOut, note: t.rowsFiltered > 0 ? `${count(t.rowsFiltered)} filtered` : '' };
    } else {
      const s = p?.sinks.find((x) => x.name === stage.name);
      entry = s;
      const notes = s ? [s.rowsRejected > 0 ? `${count(s.rowsRejected)} rejected` : '', s.rowsLate > 0 ? `${count(s.rowsLate)} late` : ''].filter(Boolean) : [];
      if (s) c = { rowsIn: s.rowsWritten, bytes: s.bytesWritten, note: notes.join(', ') };
    }
    const errored = erroredOf(stage.name, entry);
    return h(
      'tr',
      { attrs: { 'data-stage': stage.name } },
      h('td', null, h('strong', null, stage.name), h('div', { class: 'muted small' }, `${stage.kind} · ${stage.type}`)),
      h('td', { class: 'num', attrs: { 'data-col': 'rows-in' } }, c.rowsIn === undefined ? '–' : count(c.rowsIn)),
      h('td', { class: 'num', attrs: { 'data-col': 'rows-out' } }, c.rowsOut === undefined ? '–' : count(c.rowsOut)),
      h('td', { class: 'num' }, c.bytes === undefined ? '–' : bytes(c.bytes)),
      h('td', { class: `num${errored ? ' warn' : ''}`, attrs: { 'data-col': 'dead-letter' } }, errored === undefined ? '–' : count(errored)),
      h('td', { class: 'muted small' }, c.note ?? ''),
    );
  });
  return h(
    'table',
    { class: 'counters' },
    h('thead', null, h('tr', null, h('th', null, 'Stage'), h('th', { title: 'rows a transform received, or a sink committed' }, 'Rows in'), h('th', { title: 'rows a source read, or a transform passed on' }, 'Rows out'), h('th', null, 'Bytes'), h('th', { title: 'rows handed to the stage\'s dirty-data policy (rowsErrored)' }, 'Dead-lettered'), h('th', null, ''))),
    h('tbody', null, rows),
  );
}

function queueBars(progress: JobProgress | null): HTMLElement {
  const pipelines = progress?.pipelines ?? [];
  if (pipelines.length === 0) return h('p', { class: 'muted' }, 'No pipeline is running.');
  return h(
    'ul',
    { class: 'queues' },
    pipelines.map((p) => {
      const fill = h('span', { class: `queue-fill${p.queueDepth >= p.queueCapacity ? ' full' : ''}` });
      fill.style.width = `${p.queueCapacity > 0 ? (100 * p.queueDepth) / p.queueCapacity : 0}%`;
      return h('li', null, h('span', { class: 'queue-label' }, `pipeline ${p.id} · ${p.source}`), h('span', { class: 'queue-bar' }, fill), h('span', { class: 'num small' }, `${p.queueDepth}/${p.queueCapacity}`));
    }),
  );
}

const TIMELINE_W = 1000;
const TIMELINE_H = 36;

/** Each checkpoint as a mark from its trigger to its end, coloured by outcome, on one time axis. */
function checkpointTimeline(events: readonly CheckpointEvent[]): Element {
  if (events.length === 0) return h('p', { class: 'muted' }, 'No checkpoint yet.');
  const start = (e: CheckpointEvent) => Date.parse(e.triggeredAt);
  const t0 = Math.min(...events.map(start));
  const t1 = Math.max(...events.map((e) => start(e) + e.durationMs), t0 + 1000);
  const x = (t: number) => ((t - t0) / (t1 - t0)) * TIMELINE_W;
  // Stretched to the card's width (no text inside, so nothing is distorted); a mark is at least 0.3% wide.
  const strip = svg(
    'svg',
    { viewBox: `0 0 ${TIMELINE_W} ${TIMELINE_H}`, preserveAspectRatio: 'none', class: 'timeline', role: 'img', 'aria-label': 'checkpoint timeline' },
    svg('line', { x1: 0, x2: TIMELINE_W, y1: TIMELINE_H / 2, y2: TIMELINE_H / 2, class: 'grid' }),
    events.map((e) =>
      svg(
        'rect',
        { x: Math.min(x(start(e)), TIMELINE_W - 3), y: 4, width: Math.max(TIMELINE_W * 0.003, x(start(e) + e.durationMs) - x(start(e))), height: TIMELINE_H - 8, class: `cp cp-${e.status}` },
        svg('title', {}, `checkpoint ${e.id} ${e.status}: ${duration(e.durationMs)}, ${bytes(e.bytes)}, ${count(e.rowsCommitted)} rows committed`),
      ),
    ),
  );
  return h('div', { class: 'timeline-box' }, strip, h('div', { class: 'timeline-axis muted small' }, h('span', null, time(new Date(t0).toISOString())), h('span', null, `${events.length} checkpoints`), h('span', null, time(new Date(t1).toISOString()))));
}

function checkpointTable(events: readonly CheckpointEvent[]): HTMLElement | null {
  if (events.length === 0) return null;
  const newest = events.slice(-TABLE_CHECKPOINTS).reverse();
  return h(
    'table',
    { class: 'checkpoints' },
    h('thead', null, h('tr', null, ['Checkpoint', 'Outcome', 'Triggered', 'Duration', 'Size', 'Rows committed'].map((c) => h('th', null, c)))),
    h(
      'tbody',
      null,
      newest.map((e) =>
        h(
          'tr',
          { attrs: { 'data-checkpoint': String(e.id) } },
          h('td', { class: 'num' }, `${e.id}${e.endOfInput ? ' (final)' : ''}`),
          h('td', null, h('span', { class: `badge cp-badge cp-${e.status}` }, e.status)),
          h('td', null, time(e.triggeredAt)),
          h('td', { class: 'num' }, duration(e.durationMs)),
          h('td', { class: 'num' }, bytes(e.bytes)),
          h('td', { class: 'num' }, count(e.rowsCommitted)),
        ),
      ),
    ),
    events.length > TABLE_CHECKPOINTS ? h('caption', { class: 'muted small' }, `the newest ${TABLE_CHECKPOINTS} of ${events.length}`) : null,
  );
}
