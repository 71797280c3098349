import { type ClusterStatus, getCluster, type JobView, listJobs } from './api.js';
import { h, replaceChildren, svg } from './dom.js';
import { duration, time } from './format.js';
import type { Page } from './page.js';

/** How often the page asks the server for the cluster's status again. */
const REFRESH_MS = 2000;

type Worker = ClusterStatus['workers'][number];
type ClusterJob = ClusterStatus['jobs'][number];

/**
 * The cluster the server runs its jobs on (tideway serve --cluster): its workers with their slots and last
 * heartbeat, and for each job where its pipelines run. The same data as `tideway cluster status`.
 */
export async function clusterPage(page: Page): Promise<void> {
  const head = h('p', { class: 'muted' });
  const workers = h('tbody');
  const jobs = h('tbody');
  const noJobs = h('p', { class: 'muted' }, 'No job holds a lease, has a resumable checkpoint or runs pipelines on this cluster.');
  const jobsTable = h('table', { class: 'cluster-jobs' }, h('thead', null, h('tr', null, ['Job', 'Coordinator', 'Checkpoint', 'Pipelines'].map((c) => h('th', null, c)))), jobs);
  replaceChildren(
    page.root,
    h('section', { class: 'card' }, h('h1', null, 'Cluster'), head),
    h('section', { class: 'card' }, h('h2', null, 'Workers'), h('table', { class: 'cluster-workers' }, h('thead', null, h('tr', null, ['Worker', 'State', 'Host', 'Slots used', 'Heartbeat', 'Started'].map((c) => h('th', null, c)))), workers)),
    h('section', { class: 'card' }, h('h2', null, 'Jobs and where their pipelines run'), jobsTable, noJobs),
  );

  const draw = (status: ClusterStatus, serverJobs: JobView[]) => {
    const live = status.workers.filter((w) => w.live);
    const free = live.reduce((n, w) => n + w.slots - w.used, 0);
    const total = live.reduce((n, w) => n + w.slots, 0);
    replaceChildren(head, `NATS at ${status.nats}: ${live.length} live worker${live.length === 1 ? '' : 's'}, ${free} of ${total} slots free.`);
    replaceChildren(workers, status.workers.length === 0 ? h('tr', null, h('td', { attrs: { colspan: '6' }, class: 'muted' }, 'No worker has announced itself: start one with tideway worker --nats <url>.')) : status.workers.map(workerRow));
    // The newest job of each name on this server, to link a cluster job to its page.
    const byName = new Map<string, JobView>();
    for (const view of serverJobs) if (!byName.has(view.name) || byName.get(view.name)!.submittedAt < view.submittedAt) byName.set(view.name, view);
    replaceChildren(jobs, status.jobs.map((j) => jobRow(j, byName.get(j.job))));
    jobsTable.hidden = status.jobs.length === 0;
    noJobs.hidden = status.jobs.length > 0;
  };

  const refresh = async () => draw(...(await Promise.all([getCluster(page.signal), listJobs(page.signal)])));
  await refresh();
  page.connection('live');
  void (async () => {
    while (!page.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
      if (page.signal.aborted) return;
      try {
        await refresh();
        page.connection('live');
      } catch {
        // Shown as a lost connection; the next refresh tries again.
        if (!page.signal.aborted) page.connection('reconnecting');
      }
    }
  })();
}

function workerRow(w: Worker): HTMLTableRowElement {
  return h(
    'tr',
    { attrs: { 'data-worker': w.id } },
    h('td', null, w.id),
    h('td', null, h('span', { class: `badge ${w.live ? 'worker-live' : 'worker-lost'}`, attrs: { 'data-state': w.live ? 'live' : 'lost' } }, w.live ? 'live' : 'lost')),
    h('td', null, `${w.host} pid ${w.pid}`),
    h('td', null, slotBar(w.used, w.slots), h('span', { class: 'slot-count' }, ` ${w.used}/${w.slots}`)),
    h('td', { class: 'num' }, `${duration(w.heartbeatAgeMs)} ago`),
    h('td', null, time(w.startedAt)),
  );
}

/** One square per slot, filled when a pipeline uses it. */
function slotBar(used: number, slots: number): SVGSVGElement {
  const size = 12;
  const gap = 3;
  const width = Math.max(1, slots) * (size + gap);
  return svg(
    'svg',
    { class: 'slots', width, height: size, viewBox: `0 0 ${width} ${size}`, role: 'img', 'aria-label': `${used} of ${slots} slots used` },
    Array.from({ length: slots }, (_, i) => svg('rect', { x: i * (size + gap), y: 0, width: size, height: size, rx: 2, class: i < used ? 'slot-used' : 'slot-free' })),
  );
}

function jobRow(j: ClusterJob, view: JobView | undefined): HTMLTableRowElement {
  const byWorker = new Map<string, number[]>();
  for (const p of j.pipelines) byWorker.set(p.worker, [...(byWorker.get(p.worker) ?? []), p.pipelineId]);
  return h(
    'tr',
    { attrs: { 'data-cluster-job': j.job } },
    h('td', null, view ? h('a', { attrs: { href: `#/jobs/${view.id}` } }, j.job) : j.job),
    h('td', null, j.coordinator ? `${j.coordinator.host} pid ${j.coordinator.pid} since ${time(j.coordinator.since)}` : h('span', { class: 'muted' }, 'none')),
    h('td', { class: 'num' }, j.checkpoint === null ? '–' : String(j.checkpoint)),
    h(
      'td',
      null,
      byWorker.size === 0
        ? h('span', { class: 'muted' }, 'none running')
        : [...byWorker].map(([worker, ids]) => h('div', { attrs: { 'data-pipelines-on': worker } }, `pipeline${ids.length === 1 ? '' : 's'} ${ids.join(', ')} on ${worker}`)),
    ),
  );
}
