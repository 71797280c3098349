import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { destroyCluster, openCluster } from '../../src/cluster/cluster-connection.js';
import { builtinConnectors, ConnectorRegistry } from '../../src/index.js';
import { createServer, type TidewayServer } from '../../src/server/app.js';
import type { JobView } from '../../src/server/jobs.js';
import { metricsPlugin } from '../../src/server/metrics.js';
import { staticPlugin } from '../../src/server/static.js';
import { NATS_URL, natsUp, startWorkers } from '../cluster/support.js';
import { ROOT } from '../e2e/support/build.js';

/** Debian's chromium package (.ci/run installs it); playwright-core drives it and downloads no browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const OUTPUT = join(ROOT, 'test-output', 'dashboard');
const WEB_BUILD = join(ROOT, 'dist', 'web', 'index.html');

function chromiumPresent(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true requires the dashboard browser test to run`);
  console.warn(`skipping the dashboard browser test: ${reason}`);
  return false;
}

/** Builds the dashboard into dist/web when it is missing or older than a file under web/ (npm ci builds it too). */
function ensureDashboardBuilt(): void {
  const newest = Math.max(...readdirSync(join(ROOT, 'web'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
  if (existsSync(WEB_BUILD) && statSync(WEB_BUILD).mtimeMs >= newest) return;
  const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`vite build failed with exit ${result.status}:\n${result.stdout}${result.stderr}`);
}

const BATCH_ROWS = 36_000;
/** Fake rows are named customer-<id>: ids 32,768 and up do not fit an int16. */
const REJECTED = BATCH_ROWS - 32_768;

describe.skipIf(!chromiumPresent())('dashboard in headless Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'tideway-dashboard-'));
  let server: TidewayServer;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    ensureDashboardBuilt();
    server = createServer({ stateDir: join(work, 'state'), baseDir: work, logger: silentLogger, progressIntervalMs: 250, plugins: [staticPlugin, metricsPlugin] });
    base = await server.listen({ port: 0 });
    context = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
    mkdirSync(OUTPUT, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Waits until the throughput chart shows at least `min` points (polled from here: the page's CSP forbids eval). */
  async function chartPoints(min: number): Promise<void> {
    await expect.poll(async () => Number(await page.getAttribute('svg.chart', 'data-points')), { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(min);
  }

  async function api<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await fetch(`${base}${path}`, init);
    expect(response.ok, `${path}: ${response.status} ${await response.clone().text()}`).toBe(true);
    return (await response.json()) as T;
  }

  it('shows a batch job live (throughput, DAG, counters, checkpoints) until it finishes', async () => {
    // Customer numbers above 32,767 do not fit the int16 the split asks for: those rows are rejected and go
    // to the dead-letter sink.
    const job = {
      env: {
        name: 'orders-to-lake',
        parallelism: 2,
        transport: 'in-process',
        checkpoint: { interval: '1s' },
        errors: { tolerance: 'all', dead_letter: { type: 'file', path: join(work, 'bad-rows'), format: 'jsonl' } },
      },
      source: [{ type: 'fake', name: 'orders', rows: BATCH_ROWS, splits: 4, chunk_rows: 500, rows_per_second: 4000 }],
      transform: [
        { type: 'split', name: 'parse-customer', split_field: 'name', separator: '-', output_fields: ['prefix', 'customer'], output_types: ['string', 'int16'] },
        { type: 'filter', name: 'big-orders', where: [{ column: 'amount', op: '>=', value: 100 }] },
      ],
      sink: [
        { type: 'file', name: 'lake', path: join(work, 'lake'), format: 'jsonl' },
        { type: 'blackhole', name: 'audit' },
      ],
    };
    const { id } = await api<{ id: string }>('/api/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ job }) });
    await page.goto(`${base}/#/jobs/${id}`);
    await page.waitForSelector('.job-head h1');
    expect(await page.textContent('.job-head h1')).toBe('orders-to-lake');
    // The DAG: one node per stage (the dead-letter sink too), one edge per stream a stage reads, and a
    // dashed edge from each stage whose policy (here env.errors) sends rejected rows to the dead letter.
    expect(await page.locator('svg.dag .node').count()).toBe(6);
    expect(await page.locator('svg.dag path.edge:not(.edge-rejects)').count()).toBe(4);
    expect(await page.locator('svg.dag path.edge-rejects').count()).toBe(4);
    expect(await page.locator('svg.dag .node-dead-letter').getAttribute('data-stage')).toBe('dead-letter');
    // Live throughput: points appear while the job runs, one series per source and sink.
    await chartPoints(6);
    expect(await page.locator('.legend-item').allTextContents()).toEqual(
      ['read by orders', 'committed by lake', 'committed by audit', 'committed by dead-letter'].map((label) => expect.stringContaining(label)),
    );
    await page.waitForSelector('.job-head [data-status="finished"]', { timeout: 120_000 });

    const view = await api<JobView>(`/api/jobs/${id}`);
    expect(view.status).toBe('finished');
    const cell = (stage: string, col: string) => page.textContent(`[data-testid="counters"] tr[data-stage="${stage}"] td[data-col="${col}"]`);
    expect(await cell('orders', 'rows-out')).toBe(BATCH_ROWS.toLocaleString('en-US'));
    const transform = (name: string) => view.progress!.transforms.find((t) => t.name === name)!;
    expect(await cell('parse-customer', 'rows-out')).toBe((BATCH_ROWS - REJECTED).toLocaleString('en-US'));
    expect(await cell('big-orders', 'rows-in')).toBe((BATCH_ROWS - REJECTED).toLocaleString('en-US'));
    expect(await cell('big-orders', 'rows-out')).toBe(transform('big-orders').rowsOut.toLocaleString('en-US'));
    expect(await cell('lake', 'rows-in')).toBe(transform('big-orders').rowsOut.toLocaleString('en-US'));
    expect(await cell('audit', 'rows-in')).toBe(transform('big-orders').rowsOut.toLocaleString('en-US'));
    expect(view.rowsErrored['parse-customer']).toBe(REJECTED);
    expect(await cell('parse-customer', 'dead-letter')).toBe(REJECTED.toLocaleString('en-US'));
    expect(await cell('big-orders', 'dead-letter')).toBe('0');
    expect(await cell('dead-letter', 'rows-in')).toBe(REJECTED.toLocaleString('en-US'));
    // Checkpoints: every one the server keeps is on the timeline; the table lists them newest first.
    const committed = view.checkpoints.filter((c) => c.status === 'committed');
    expect(committed.length).toBeGreaterThan(1);
    expect(await page.locator('svg.timeline rect.cp').count()).toBe(view.checkpoints.length);
    const ids = await page.locator('[data-testid="checkpoints"] tr[data-checkpoint]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-checkpoint'))));
    expect(ids).toEqual(view.checkpoints.map((c) => c.id).reverse().slice(0, 30));
    expect(await page.locator('[data-testid="last-error"]').isHidden()).toBe(true);
    expect(await page.locator('button[data-action="stop"]').isDisabled()).toBe(true);
    await page.screenshot({ path: join(OUTPUT, 'job-finished.png'), fullPage: true });
    // The README's picture: TIDEWAY_UPDATE_SCREENSHOT=1 replaces docs/dashboard.png with this page.
    if (process.env.TIDEWAY_UPDATE_SCREENSHOT === '1') copyFileSync(join(OUTPUT, 'job-finished.png'), join(ROOT, 'docs', 'dashboard.png'));

    await page.goto(`${base}/#/`);
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-status]').textContent()).toBe('finished');
    expect(await row.locator('td.num').first().textContent()).toBe(BATCH_ROWS.toLocaleString('en-US'));
    await page.screenshot({ path: join(OUTPUT, 'job-list.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 240_000);

  it('shows a failed job\'s last error with its code and message, and offers Resume', async () => {
    const job = {
      env: { name: 'too-many-rows', checkpoint: { interval: '1s' } },
      source: [{ type: 'fake', name: 'orders', rows: 300 }],
      sink: [{ type: 'assert', name: 'exactly-five', rows: { equals: 5 } }],
    };
    const { id } = await api<{ id: string }>('/api/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ job }) });
    await page.goto(`${base}/#/jobs/${id}`);
    await page.waitForSelector('.job-head [data-status="failed"]', { timeout: 60_000 });
    const view = await api<JobView>(`/api/jobs/${id}`);
    expect(view.lastError).not.toBeNull();
    const box = page.locator('[data-testid="last-error"]');
    await box.waitFor();
    expect(await box.locator('.error-code').textContent()).toBe(view.lastError!.code);
    expect(await box.locator('.error-message').textContent()).toBe(view.lastError!.message);
    expect(await page.locator('button[data-action="resume"]').isEnabled()).toBe(true);
    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it('submits a streaming job through the form, then stops it with the Stop button', async () => {
    await page.goto(`${base}/#/submit`);
    await page.fill('textarea.yaml', [
      'env:',
      '  name: clicks-stream',
      '  mode: streaming',
      '  checkpoint: { interval: 1s }',
      'source:',
      '  - type: fake',
      '    name: clicks',
      '    unbounded: true',
      '    rows_per_second: 4000',
      'sink:',
      '  - type: blackhole',
      '    name: nowhere',
      '',
    ].join('\n'));
    await page.click('form.submit-form button[type="submit"]');
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    await page.waitForSelector('.job-head [data-status="running"]', { timeout: 60_000 });
    await chartPoints(4);
    // Wait for a committed checkpoint so that the screenshot of a running job shows its timeline.
    await page.waitForSelector('[data-testid="checkpoints"] tr[data-checkpoint]', { timeout: 60_000 });
    await page.screenshot({ path: join(OUTPUT, 'job-running.png'), fullPage: true });
    // Readable on a laptop: at 1280 x 720 nothing runs off the side of the page.
    await page.setViewportSize({ width: 1280, height: 720 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    await page.screenshot({ path: join(OUTPUT, 'job-running-1280.png') });
    await page.setViewportSize({ width: 1440, height: 900 });

    // The answer to the click ('stopping') is held back until the job has ended, so the page hears
    // 'cancelled' on its event stream first, as a loaded machine may order them. The page must keep the newer.
    await page.route(`**/api/jobs/${encodeURIComponent(id)}/stop`, async (route) => {
      const response = await route.fetch();
      for (let i = 0; i < 1200 && (await api<JobView>(`/api/jobs/${id}`)).status !== 'cancelled'; i++) await new Promise((r) => setTimeout(r, 100));
      await page.waitForSelector('.job-head [data-status="cancelled"]', { timeout: 30_000 }).catch(() => undefined);
      await route.fulfill({ response });
    });
    await page.click('button[data-action="stop"]');
    await page.waitForSelector('.job-head [data-status="cancelled"]', { timeout: 120_000 });
    // Once the held answer arrives, the page still shows the job as it ended.
    await expect.poll(async () => (await page.locator('.actions').textContent()) ?? '', { timeout: 60_000, interval: 200 }).not.toContain('requested');
    expect(await page.locator('.job-head [data-status]').getAttribute('data-status')).toBe('cancelled');
    const view = await api<JobView>(`/api/jobs/${id}`);
    expect(view.status).toBe('cancelled');
    expect(view.stopRequested).toBe('stop');
    // The stop took a last checkpoint: the newest is committed and the page lists it.
    const last = view.checkpoints.at(-1)!;
    expect(last.status).toBe('committed');
    await page.waitForSelector(`[data-testid="checkpoints"] tr[data-checkpoint="${last.id}"]`);
    expect(await page.locator('button[data-action="resume"]').isEnabled()).toBe(true);
    expect(await page.locator('button[data-action="stop"]').isDisabled()).toBe(true);
    expect(consoleErrors).toEqual([]);
  }, 240_000);

  it('asks for the token on a server that has one, then shows its jobs', async () => {
    const token = 'dashboard-token-0123456789';
    const guarded = createServer({ stateDir: join(work, 'guarded'), baseDir: work, logger: silentLogger, token, plugins: [staticPlugin] });
    const url = await guarded.listen({ port: 0 });
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    tab.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
    try {
      const submitted = await fetch(`${url}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ job: { env: { name: 'guarded-job' }, source: [{ type: 'fake', rows: 10 }], sink: [{ type: 'blackhole' }] } }),
      });
      expect(submitted.status).toBe(201);
      await tab.goto(`${url}/#/`);
      await tab.waitForSelector('form.token-form');
      await tab.fill('form.token-form input', token);
      await tab.click('form.token-form button');
      await tab.waitForSelector('tr[data-job] a:text("guarded-job")');
      // The only errors are the browser's own notes on the refused requests made before the token was given.
      expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await tab.close();
      await guarded.close();
    }
  }, 120_000);

  it.skipIf(!natsUp)('shows the cluster page of a server on a cluster: workers with their slots, and where a running job\'s pipelines are', async () => {
    const prefix = `twd_${Date.now().toString(36)}`;
    const registry = new ConnectorRegistry(builtinConnectors);
    const workers = await startWorkers(prefix, 2, 2, registry);
    const clustered = createServer({ stateDir: join(work, 'clustered'), baseDir: work, logger: silentLogger, registry, cluster: { url: NATS_URL, prefix }, plugins: [staticPlugin] });
    const url = await clustered.listen({ port: 0 });
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    tab.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
    try {
      const name = `cluster-dash-${prefix}`;
      const job = { env: { name, parallelism: 2, checkpoint: { interval: '200ms' } }, source: [{ type: 'fake', rows: 20_000, splits: 4, chunk_rows: 50, rows_per_second: 2000 }], sink: [{ type: 'blackhole' }] };
      const submitted = await fetch(`${url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ job }) });
      expect(submitted.status).toBe(201);
      const { id } = (await submitted.json()) as { id: string };
      await tab.goto(`${url}/#/`);
      // The nav offers the page only on a server with a cluster.
      await tab.waitForSelector('#cluster-link:not([hidden])');
      await tab.click('#cluster-link');
      await tab.waitForSelector('tr[data-worker]');
      for (const worker of workers.workers) expect(await tab.getAttribute(`tr[data-worker="${worker.id}"] [data-state]`, 'data-state')).toBe('live');
      expect(await tab.locator('svg.slots').first().getAttribute('aria-label')).toMatch(/^\d of 2 slots used$/);
      // While the job runs, the page (refreshing itself) names the workers its two pipelines run on.
      await expect.poll(() => tab.locator(`tr[data-cluster-job="${name}"] [data-pipelines-on]`).count(), { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
      const on = await tab.locator(`tr[data-cluster-job="${name}"] [data-pipelines-on]`).evaluateAll((cells) => cells.map((c) => c.getAttribute('data-pipelines-on')));
      const ids = new Set(workers.workers.map((w) => w.id));
      for (const worker of on) expect(ids.has(worker!)).toBe(true);
      expect(await tab.locator(`tr[data-cluster-job="${name}"] td`).allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/pipelines? \d/)]));
      // The job's name links to its page on this server.
      expect(await tab.getAttribute(`tr[data-cluster-job="${name}"] a`, 'href')).toBe(`#/jobs/${id}`);
      await fetch(`${url}/api/jobs/${id}/cancel`, { method: 'POST' });
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
      await clustered.close();
      await workers.close();
      const cleanup = await openCluster(NATS_URL, { prefix });
      await destroyCluster(cleanup);
      await cleanup.close();
    }
  }, 180_000);
});
