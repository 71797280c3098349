import { ApiError, followEvents, type JobView, listJobs } from './api.js';
import { h, replaceChildren } from './dom.js';
import { count, duration, rate, time } from './format.js';
import { type Page, statusBadge } from './page.js';

interface Row {
  view: JobView;
  element: HTMLTableRowElement;
  /** The last progress seen live, for a throughput over the last interval rather than the run's average. */
  last?: { rowsRead: number; elapsedMs: number; rate: number };
}

/** Every job, newest first, with status, rows and throughput, kept current by the server's event stream. */
export async function jobsListPage(page: Page): Promise<void> {
  const rows = new Map<string, Row>();
  const body = h('tbody');
  const empty = h('p', { class: 'muted' }, 'No jobs yet. ', h('a', { attrs: { href: '#/submit' } }, 'Submit one'), ', or POST a job\'s YAML to /api/jobs.');
  const table = h(
    'table',
    { class: 'jobs' },
    h('thead', null, h('tr', null, ['Job', 'Status', 'Submitted', 'Rows read', 'Rows written', 'Throughput', 'Checkpoints', 'Duration'].map((c) => h('th', null, c)))),
    body,
  );
  replaceChildren(page.root, h('section', { class: 'card' }, h('h1', null, 'Jobs'), table, empty));

  const draw = () => {
    const ordered = [...rows.values()].sort((a, b) => (a.view.submittedAt < b.view.submittedAt ? 1 : -1));
    replaceChildren(body, ordered.map((r) => r.element));
    empty.hidden = rows.size > 0;
    table.hidden = rows.size === 0;
  };
  const render = (row: Row) => {
    const { view } = row;
    const p = view.progress;
    const running = view.status === 'running' || view.status === 'stopping';
    const average = p && p.elapsedMs > 0 ? (p.rowsRead / p.elapsedMs) * 1000 : null;
    const throughput = running && row.last ? row.last.rate : average;
    const ended = view.endedAt && view.startedAt ? Date.parse(view.endedAt) - Date.parse(view.startedAt) : p?.elapsedMs ?? null;
    replaceChildren(
      row.element,
      h('td', null, h('a', { attrs: { href: `#/jobs/${view.id}` } }, view.name), h('div', { class: 'muted small' }, view.id)),
      h('td', null, statusBadge(view.status)),
      h('td', null, time(view.submittedAt)),
      h('td', { class: 'num' }, count(p?.rowsRead)),
      h('td', { class: 'num' }, count(p?.rowsWritten)),
      h('td', { class: 'num', title: running ? 'over the last progress interval' : 'average over the run' }, rate(throughput)),
      h('td', { class: 'num' }, count(p?.checkpoints)),
      h('td', { class: 'num' }, duration(ended)),
    );
  };
  const upsert = (view: JobView) => {
    let row = rows.get(view.id);
    if (!row) {
      row = { view, element: h('tr', { attrs: { 'data-job': view.id } }) };
      rows.set(view.id, row);
    }
    row.view = view;
    render(row);
  };
  const reload = async () => {
    for (const view of await listJobs(page.signal)) upsert(view);
    draw();
  };

  await reload();
  void followEvents(
    '/api/events',
    {
      onOpen: () => void reload().catch(page.fail),
      onState: page.connection,
      onUnauthorized: () => page.fail(new ApiError(401, 'UNAUTHORIZED', 'this server needs a token')),
      onEvent: (event) => {
        if (event.type === 'status') {
          const isNew = !rows.has(event.data.jobId);
          upsert(event.data.job);
          if (isNew) draw();
          return;
        }
        if (event.type !== 'progress') return;
        const row = rows.get(event.data.jobId);
        if (!row) return;
        const p = event.data.progress;
        const dt = row.last ? p.elapsedMs - row.last.elapsedMs : 0;
        const current = dt > 0 && row.last ? ((p.rowsRead - row.last.rowsRead) / dt) * 1000 : row.last?.rate ?? 0;
        row.last = { rowsRead: p.rowsRead, elapsedMs: p.elapsedMs, rate: current };
        row.view = { ...row.view, progress: p };
        render(row);
      },
    },
    page.signal,
  );
}
