import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { committedIds, expectExactlyOnce } from '../helpers/output.js';
import { streamingJob } from '../unit/server/helpers.js';
import { ensureBuilt } from './support/build.js';
import { runCli, startCli, useWorkspaces, waitFor } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();
const children: ReturnType<typeof startCli>[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.child.exitCode === null) c.child.kill('SIGKILL');
});

interface View {
  id: string;
  name: string;
  status: string;
  progress: { rowsRead: number; rowsWritten: number } | null;
  checkpoints: { id: number; status: string; rowsCommitted: number; endOfInput: boolean }[];
  resumedFrom: number | null;
  runs: number;
}

/** Starts `tideway serve` on a free port in `dir` and resolves with its URL once it listens. */
async function serve(dir: string, extra: string[] = []) {
  const started = startCli(['serve', '--port', '0', '--state-dir', 'state', ...extra], { cwd: dir, env: {}, timeoutMs: 180_000 });
  children.push(started);
  let url = '';
  await waitFor(() => {
    url = /listening on (http:\/\/\S+)/.exec(started.output().stderr)?.[1] ?? '';
    return url !== '' || started.child.exitCode !== null;
  }, 'the server to listen');
  if (!url) throw new Error(`serve did not start:\n${started.output().stderr}`);
  return { ...started, url };
}

async function api<T>(url: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(url, {
    method,
    ...(body === undefined ? {} : typeof body === 'string' ? { body, headers: { 'content-type': 'application/yaml' } } : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

interface SseEvent {
  event: string;
  data: { status?: string; checkpoint?: View['checkpoints'][number]; progress?: unknown };
}

/** Reads server-sent events until `until` says stop; returns every event read. */
async function follow(url: string, until: (event: SseEvent) => boolean, timeoutMs = 90_000): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const response = await fetch(url, { signal: controller.signal });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!event || !data) continue;
        const parsed = { event, data: JSON.parse(data) as SseEvent['data'] };
        events.push(parsed);
        if (until(parsed)) return events;
      }
    }
    throw new Error(`the event stream ended before the awaited event; got ${events.map((e) => e.event).join(', ')}`);
  } catch (error) {
    if (controller.signal.aborted) throw new Error(`no awaited event within ${timeoutMs} ms; got ${events.map((e) => `${e.event}:${e.data.status ?? ''}`).join(', ')}`);
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

const ended = (e: SseEvent) => e.event === 'status' && ['finished', 'failed', 'cancelled', 'interrupted'].includes(e.data.status ?? '');

const quickstart = `env:
  name: e2e-quickstart
  parallelism: 2
  checkpoint:
    interval: 200ms
source:
  - type: fake
    output: orders
    rows: \${ROWS:-200000}
    splits: 8
    chunk_rows: 500
    rows_per_second: 20000
sink:
  - type: file
    input: orders
    path: out/quickstart
    format: jsonl
`;

const streaming = streamingJob('e2e-stream', 'out/stream');

const SLOW_ROWS = 6000;
const slow = `env:
  name: e2e-slow
  checkpoint:
    interval: 200ms
source:
  - type: fake
    rows: ${SLOW_ROWS}
    splits: 4
    chunk_rows: 50
    rows_per_second: 1000
sink:
  - type: file
    path: out/slow
    format: jsonl
`;

describe('tideway serve', () => {
  it('runs jobs over HTTP, follows them by SSE, stops one, keeps history over a restart and resumes a killed run once', async () => {
    const dir = workspace();
    const first = await serve(dir);

    // A quickstart-like job, followed by server-sent events until it ends.
    const submitted = await api<{ id: string }>(`${first.url}/api/jobs`, 'POST', { job: quickstart, variables: { ROWS: '20000' } });
    expect(submitted.status).toBe(201);
    const events = await follow(`${first.url}/api/jobs/${submitted.body.id}/events`, ended);
    expect(events[0]!.event).toBe('status');
    expect(events.at(-1)!.data.status).toBe('finished');
    expect(events.some((e) => e.event === 'checkpoint' && e.data.checkpoint?.status === 'committed')).toBe(true);
    expect(events.some((e) => e.event === 'progress')).toBe(true);
    expect(expectExactlyOnce(committedIds(join(dir, 'out/quickstart')), 20000)).toBeUndefined();

    // A streaming job, stopped through the API once it has committed: it ends cancelled at a last checkpoint.
    const stream = await api<{ id: string }>(`${first.url}/api/jobs`, 'POST', streaming);
    expect(stream.status).toBe(201);
    await follow(`${first.url}/api/jobs/${stream.body.id}/events`, (e) => e.event === 'checkpoint' && (e.data.checkpoint?.rowsCommitted ?? 0) > 0);
    expect((await api<View>(`${first.url}/api/jobs/${stream.body.id}/stop`, 'POST')).status).toBe(202);
    await follow(`${first.url}/api/jobs/${stream.body.id}/events`, ended);
    const stopped = (await api<View>(`${first.url}/api/jobs/${stream.body.id}`)).body;
    expect(stopped.status).toBe('cancelled');
    expect(stopped.checkpoints.at(-1)!.status).toBe('committed');
    const streamIds = committedIds(join(dir, 'out/stream'));
    expect(streamIds.length).toBe(stopped.checkpoints.at(-1)!.rowsCommitted);
    expect(new Set(streamIds).size).toBe(streamIds.length);

    // A slow batch job; the server is killed after its first commits.
    const slowJob = await api<{ id: string }>(`${first.url}/api/jobs`, 'POST', slow);
    await follow(`${first.url}/api/jobs/${slowJob.body.id}/events`, (e) => e.event === 'checkpoint' && (e.data.checkpoint?.rowsCommitted ?? 0) > 0);
    first.child.kill('SIGKILL');
    await first.done;
    const before = committedIds(join(dir, 'out/slow')).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(SLOW_ROWS);

    // Restarted: the history is there, and the killed job resumes once and finishes exactly once.
    const second = await serve(dir, ['--resume-interrupted']);
    const list = (await api<{ jobs: View[] }>(`${second.url}/api/jobs`)).body.jobs;
    expect(list.map((j) => j.name).sort()).toEqual(['e2e-quickstart', 'e2e-slow', 'e2e-stream']);
    expect(list.find((j) => j.name === 'e2e-quickstart')?.status).toBe('finished');
    expect(list.find((j) => j.name === 'e2e-stream')?.status).toBe('cancelled');
    await follow(`${second.url}/api/jobs/${slowJob.body.id}/events`, ended);
    const resumed = (await api<View>(`${second.url}/api/jobs/${slowJob.body.id}`)).body;
    expect(resumed.status).toBe('finished');
    expect(resumed.runs).toBe(2);
    expect(resumed.resumedFrom).not.toBeNull();
    expect(expectExactlyOnce(committedIds(join(dir, 'out/slow')), SLOW_ROWS)).toBeUndefined();

    second.child.kill('SIGTERM');
    const exit = await second.done;
    expect(exit.code).toBe(0);
  }, 240_000);

  it('refuses to listen beyond loopback without a token or on a port in use, and never prints the token', async () => {
    const dir = workspace();
    const refused = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--state-dir', 'state'], { cwd: dir, env: {} });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('SERVE_TOKEN_REQUIRED');
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    const busy = await runCli(['serve', '--port', String(taken), '--state-dir', 'state'], { cwd: dir, env: {} });
    blocker.close();
    expect(busy.code).toBe(2);
    expect(busy.stderr).toContain(`error [PORT_IN_USE]: --port ${taken}`);
    const token = 'e2e-token-4f1b9c0d2a7e6f33';
    const guarded = await serve(dir, ['--token', token, '--verbose']);
    expect((await fetch(`${guarded.url}/api/jobs`)).status).toBe(401);
    const ok = await fetch(`${guarded.url}/api/jobs`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    guarded.child.kill('SIGTERM');
    const exit = await guarded.done;
    expect(exit.code).toBe(0);
    expect(exit.stderr + exit.stdout).not.toContain(token);
  }, 60_000);
});
