import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/api/logger.js';
import { createServer, isLoopback, type TidewayServer } from '../../../src/server/app.js';
import type { JobView } from '../../../src/server/jobs.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds, expectExactlyOnce } from '../../helpers/output.js';
import { batchJob, streamingJob, waitFor, waitForEnd } from './helpers.js';

const dir = useTempDirs();
const servers: TidewayServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Every line the servers logged, for the checks that no secret is logged. */
const logged: string[] = [];
const logger: Logger = {
  debug: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  info: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  warn: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  error: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
};

async function server(options: { stateDir?: string; token?: string; keepJobs?: number } = {}): Promise<TidewayServer> {
  const s = createServer({ stateDir: options.stateDir ?? dir(), token: options.token, env: {}, progressIntervalMs: 50, logger, ...(options.keepJobs ? { keepJobs: options.keepJobs } : {}) });
  servers.push(s);
  await s.jobs.open();
  await s.app.ready();
  return s;
}

async function submitYaml(s: TidewayServer, yaml: string, headers: Record<string, string> = {}) {
  return s.app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/yaml', ...headers }, payload: yaml });
}

describe('job server API', () => {
  it('runs a YAML job to the end: 201 with the id, then its state with progress, checkpoints and the DAG', async () => {
    const s = await server();
    const out = join(dir(), 'out');
    const response = await submitYaml(s, batchJob('api-batch', out, 1500));
    expect(response.statusCode).toBe(201);
    const { id } = response.json<{ id: string }>();
    expect(response.headers.location).toBe(`/api/jobs/${id}`);
    await waitForEnd(s.jobs, id);
    const view = (await s.app.inject({ method: 'GET', url: `/api/jobs/${id}` })).json<JobView>();
    expect(view.status).toBe('finished');
    expect(view.name).toBe('api-batch');
    expect(view.progress?.rowsRead).toBe(1500);
    expect(view.progress?.rowsWritten).toBe(1500);
    expect(view.checkpoints.at(-1)).toMatchObject({ status: 'committed', endOfInput: true, rowsCommitted: 1500 });
    expect(view.lastError).toBeNull();
    expect(view.rowsErrored).toEqual({ file: 0 });
    expect(view.throughput?.rowsReadPerSecond).toBe(Math.round((1500 * 1000) / view.progress!.elapsedMs));
    expect(view.resumedFrom).toBeNull();
    expect(view.plan.stages.map((st) => [st.kind, st.name, st.type])).toEqual([
      ['source', 'fake', 'fake'],
      ['sink', 'file', 'file'],
    ]);
    expect(view.plan.dag).toHaveLength(1);
    expect(Date.parse(view.endedAt!)).toBeGreaterThanOrEqual(Date.parse(view.startedAt!));
    expect(expectExactlyOnce(committedIds(out), 1500)).toBeUndefined();
    const list = (await s.app.inject({ method: 'GET', url: '/api/jobs' })).json<{ jobs: JobView[] }>();
    expect(list.jobs.map((j) => j.id)).toEqual([id]);
    // Its checkpoints went to the state directory (the job's own folder there), and the finished run left none behind.
    const folder = join(s.jobs.stateDir, 'checkpoints', 'api-batch');
    expect(existsSync(folder)).toBe(true);
    expect(readdirSync(folder).filter((f) => f.startsWith('chk-'))).toEqual([]);
  });

  it('takes JSON with the job as an object and variables', async () => {
    const s = await server();
    const out = join(dir(), 'out');
    const job = { env: { name: 'api-json' }, source: [{ type: 'fake', rows: '${ROWS}', splits: 2 }], sink: [{ type: 'file', path: out }] };
    const response = await s.app.inject({ method: 'POST', url: '/api/jobs', payload: { job, variables: { ROWS: '321' } } });
    expect(response.statusCode).toBe(201);
    const view = await waitForEnd(s.jobs, response.json<{ id: string }>().id);
    expect(view.status).toBe('finished');
    expect(committedIds(out)).toHaveLength(321);
  });

  it('rejects an invalid job with the CLI\'s code and file:line:col, and stores nothing', async () => {
    const stateDir = dir();
    const s = await server({ stateDir });
    const response = await submitYaml(s, 'env:\n  name: bad\nsource:\n  - type: fake\n    rows: many\nsink:\n  - type: blackhole\n');
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: { code: string; message: string; issues: { path: string; location?: { line: number; col: number } }[] } }>();
    expect(body.error.code).toBe('CONFIG_INVALID');
    expect(body.error.message).toMatch(/^job\.yaml:5:11: source\[0\]\.rows: /m);
    expect(body.error.message).toContain('nothing ran');
    expect(body.error.issues[0]).toMatchObject({ path: 'source[0].rows', location: { line: 5, col: 11 } });
    expect(readdirSync(join(stateDir, 'jobs'))).toEqual([]);
  });

  it('keeps checkpoints where the job says, and reports a checkpoint.dir that is a file at its position', async () => {
    const s = await server();
    const own = dir();
    const yaml = streamingJob('api-own-dir', join(dir(), 'out')).replace('    interval: 100ms', `    interval: 100ms\n    dir: ${own}`);
    const { id } = (await submitYaml(s, yaml)).json<{ id: string }>();
    await waitFor(s.jobs, id, (v) => v.checkpoints.length >= 1, 'a checkpoint');
    s.jobs.stop(id);
    await waitForEnd(s.jobs, id);
    expect(readdirSync(join(own, 'api-own-dir')).some((f) => f.startsWith('chk-'))).toBe(true);
    expect(existsSync(join(s.jobs.stateDir, 'checkpoints', 'api-own-dir'))).toBe(false);

    const file = join(dir(), 'a-file');
    writeFileSync(file, 'x');
    const bad = await submitYaml(s, `env:\n  name: api-file-dir\n  checkpoint:\n    dir: ${file}\nsource:\n  - type: fake\nsink:\n  - type: blackhole\n`);
    expect(bad.statusCode).toBe(400);
    const error = bad.json<{ error: { code: string; message: string } }>().error;
    expect(error.code).toBe('PATH_NOT_DIRECTORY');
    expect(error.message).toMatch(/^job\.yaml:4:10: env\.checkpoint\.dir: \[PATH_NOT_DIRECTORY\] checkpoint\.dir /);
  });

  it('refuses job names that would leave the state directory', async () => {
    const s = await server();
    for (const name of ['../escape', 'a/b', '.hidden']) {
      const response = await submitYaml(s, `env:\n  name: "${name}"\nsource:\n  - type: fake\nsink:\n  - type: blackhole\n`);
      expect(response.statusCode).toBe(400);
      expect(response.json<{ error: { message: string } }>().error.message).toContain('env.name');
    }
    for (const id of ['..', '..%2F..%2Fetc', '%2E%2E', 'j-x', 'nope']) {
      const response = await s.app.inject({ method: 'GET', url: `/api/jobs/${id}` });
      expect(response.statusCode).toBe(404);
      expect(response.json<{ error: { code: string } }>().error.code).toMatch(/^(JOB_)?NOT_FOUND$/);
    }
  });

  it('refuses a body over 1 MiB with 413, and malformed requests with 400', async () => {
    const s = await server();
    const big = `env:\n  name: big\n# ${'x'.repeat(1024 * 1024)}\n`;
    const tooLarge = await submitYaml(s, big);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json<{ error: { code: string } }>().error.code).toBe('REQUEST_TOO_LARGE');
    const notJson = await s.app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/json' }, payload: '{nope' });
    expect(notJson.statusCode).toBe(400);
    const noJob = await s.app.inject({ method: 'POST', url: '/api/jobs', payload: { variables: {} } });
    expect(noJob.statusCode).toBe(400);
    expect(noJob.json<{ error: { message: string } }>().error.message).toContain('"job" is missing');
  });

  it('stops a streaming job gracefully, then resumes it from its checkpoint: every row once', async () => {
    const s = await server();
    const out = join(dir(), 'out');
    const { id } = (await submitYaml(s, streamingJob('api-stream', out))).json<{ id: string }>();
    await waitFor(s.jobs, id, (v) => v.checkpoints.length >= 2, 'two checkpoints');
    const stopping = await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/stop` });
    expect(stopping.statusCode).toBe(202);
    expect(stopping.json<JobView>().status).toBe('stopping');
    const stopped = await waitForEnd(s.jobs, id);
    expect(stopped.status).toBe('cancelled');
    expect(stopped.stopRequested).toBe('stop');
    const last = stopped.checkpoints.at(-1)!;
    expect(last.status).toBe('committed');
    // The stop's checkpoint committed everything that was read.
    expect(last.rowsCommitted).toBe(stopped.progress?.rowsRead);
    expect(committedIds(out)).toHaveLength(stopped.progress!.rowsRead);
    expect((await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/stop` })).statusCode).toBe(409);

    const resumed = await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/resume` });
    expect(resumed.statusCode).toBe(202);
    const running = await waitFor(s.jobs, id, (v) => v.status === 'running' && (v.progress?.rowsWritten ?? 0) > 0, 'rows written by the resumed run');
    expect(running.resumedFrom).toBe(last.id);
    expect(running.runs).toBe(2);
    expect((await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/resume` })).statusCode).toBe(409);
    await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` });
    const end = await waitForEnd(s.jobs, id);
    expect(end.status).toBe('cancelled');
    const ids = committedIds(out);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(stopped.progress!.rowsRead + end.progress!.rowsRead);
  });

  it('cancels a job that has not started yet; stop and cancel of an ended or unknown job are refused', async () => {
    const s = await server();
    const out = join(dir(), 'out');
    const { id } = (await submitYaml(s, streamingJob('api-cancel-early', out))).json<{ id: string }>();
    const cancelled = await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` });
    expect(cancelled.statusCode).toBe(202);
    const view = await waitForEnd(s.jobs, id);
    expect(view).toMatchObject({ status: 'cancelled', stopRequested: 'cancel' });
    expect(committedIds(out)).toHaveLength(view.progress?.rowsRead ?? 0);
    for (const action of ['stop', 'cancel']) {
      const again = await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/${action}` });
      expect(again.statusCode).toBe(409);
      expect(again.json<{ error: { code: string } }>().error.code).toBe('JOB_NOT_RUNNING');
      const unknown = await s.app.inject({ method: 'POST', url: `/api/jobs/j-abc123-abcdef/${action}` });
      expect(unknown.statusCode).toBe(404);
    }
  });

  it('a job resumed from a listener of its end can still be stopped', async () => {
    const s = await server();
    const { id } = (await submitYaml(s, streamingJob('api-relisten', join(dir(), 'out')))).json<{ id: string }>();
    let resumes = 0;
    s.jobs.on('status', (event) => {
      if (event.jobId === id && event.status === 'cancelled' && resumes++ === 0) s.jobs.resume(id);
    });
    await waitFor(s.jobs, id, (v) => v.checkpoints.length >= 1, 'a checkpoint');
    s.jobs.stop(id);
    await waitFor(s.jobs, id, (v) => v.runs === 2 && v.status === 'running' && (v.progress?.rowsWritten ?? 0) > 0, 'the second run writing');
    expect(s.jobs.stop(id).status).toBe('stopping');
    expect((await waitForEnd(s.jobs, id)).status).toBe('cancelled');
  });

  it('refuses a second job of a name that is running (409), and a resume of a finished job', async () => {
    const s = await server();
    const { id } = (await submitYaml(s, streamingJob('api-twice', join(dir(), 'a')))).json<{ id: string }>();
    const second = await submitYaml(s, streamingJob('api-twice', join(dir(), 'b')));
    expect(second.statusCode).toBe(409);
    expect(second.json<{ error: { code: string } }>().error.code).toBe('JOB_ACTIVE');
    // Submitted at the same moment: one runs, the other is refused.
    const both = await Promise.all([1, 2].map((n) => submitYaml(s, streamingJob('api-together', join(dir(), `t${n}`)))));
    expect(both.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    const together = both.find((r) => r.statusCode === 201)!.json<{ id: string }>().id;
    s.jobs.stop(together);
    await waitForEnd(s.jobs, together);
    await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/stop` });
    await waitForEnd(s.jobs, id);
    const batch = (await submitYaml(s, batchJob('api-done', join(dir(), 'c'), 10))).json<{ id: string }>();
    await waitForEnd(s.jobs, batch.id);
    const resume = await s.app.inject({ method: 'POST', url: `/api/jobs/${batch.id}/resume` });
    expect(resume.statusCode).toBe(409);
    expect(resume.json<{ error: { code: string } }>().error.code).toBe('JOB_NOT_RESUMABLE');
  });

  it('keeps at most --keep-jobs records by forgetting the oldest finished jobs; a failed job is never forgotten', async () => {
    const stateDir = dir();
    const s = await server({ stateDir, keepJobs: 3 });
    // Fails at start: nothing listens on port 1.
    const failing = 'env:\n  name: keep-failed\nsource:\n  - type: fake\n    rows: 10\nsink:\n  - type: postgres\n    host: 127.0.0.1\n    port: 1\n    table: t\n    connect_timeout: 2s\n';
    const failed = (await submitYaml(s, failing)).json<{ id: string }>();
    const submitted: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { id } = (await submitYaml(s, batchJob(`keep-${i}`, join(dir(), `k${i}`), 50))).json<{ id: string }>();
      await waitForEnd(s.jobs, id);
      submitted.push(id);
    }
    expect((await waitForEnd(s.jobs, failed.id)).status).toBe('failed');
    const listed = (await s.app.inject({ method: 'GET', url: '/api/jobs' })).json<{ jobs: JobView[] }>().jobs.map((j) => j.id).sort();
    // 5 submitted, 3 kept: the failed job and the two newest finished ones.
    expect(listed).toEqual([failed.id, submitted[2]!, submitted[3]!].sort());
    expect(readdirSync(join(stateDir, 'jobs')).sort()).toEqual(listed);
    expect((await s.app.inject({ method: 'GET', url: `/api/jobs/${submitted[0]}` })).statusCode).toBe(404);
    // A restart with a lower limit prunes what it reads.
    await s.close();
    const again = await server({ stateDir, keepJobs: 2 });
    expect(again.jobs.list().map((j) => j.id).sort()).toEqual([failed.id, submitted[3]!].sort());
  });

  it('keeps history over a restart; a job running at the stop is interrupted, and resumes exactly once', async () => {
    const stateDir = dir();
    const out = join(dir(), 'out');
    const first = await server({ stateDir });
    const done = (await submitYaml(first, batchJob('api-history', join(dir(), 'h'), 100))).json<{ id: string }>();
    await waitForEnd(first.jobs, done.id);
    const { id } = (await submitYaml(first, batchJob('api-restart', out, 200_000).replace('chunk_rows: 100', 'chunk_rows: 100\n    rows_per_second: 5000'))).json<{ id: string }>();
    await waitFor(first.jobs, id, (v) => v.checkpoints.length >= 2, 'two checkpoints');
    await first.close();
    expect(first.jobs.view(id)?.status).toBe('interrupted');

    const second = await server({ stateDir });
    const list = (await second.app.inject({ method: 'GET', url: '/api/jobs' })).json<{ jobs: JobView[] }>();
    expect(list.jobs.map((j) => [j.id, j.status])).toEqual([
      [id, 'interrupted'],
      [done.id, 'finished'],
    ]);
    // Cancelling an interrupted job only marks it; it stays resumable by hand.
    expect((await second.app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` })).json<JobView>().status).toBe('cancelled');
    const rowsBefore = committedIds(out).length;
    expect(rowsBefore).toBeGreaterThan(0);
    expect((await second.app.inject({ method: 'POST', url: `/api/jobs/${id}/resume` })).statusCode).toBe(202);
    await waitFor(second.jobs, id, (v) => v.status === 'running' && v.resumedFrom !== null && (v.progress?.rowsWritten ?? 0) > 0, 'rows written by the resumed run');
    await second.app.inject({ method: 'POST', url: `/api/jobs/${id}/stop` });
    const view = await waitForEnd(second.jobs, id);
    expect(view.status).toBe('cancelled');
    const ids = committedIds(out);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(rowsBefore);
  });

  it('marks a job whose record says running (the server died) interrupted, and --resume-interrupted finishes it once', async () => {
    const stateDir = dir();
    const out = join(dir(), 'out');
    const first = await server({ stateDir });
    // At most 600 rows a second: the run takes 5 s or more, so it is still running when the server closes.
    const { id } = (await submitYaml(first, batchJob('api-died', out, 3000).replace('chunk_rows: 100', 'chunk_rows: 50\n    rows_per_second: 600'))).json<{ id: string }>();
    await waitFor(first.jobs, id, (v) => v.checkpoints.length >= 2, 'two checkpoints');
    await first.close();
    expect(first.jobs.view(id)?.status).toBe('interrupted');
    // What a killed server leaves: the record still says running.
    const recordPath = join(stateDir, 'jobs', id, 'record.json');
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as JobView;
    writeFileSync(recordPath, JSON.stringify({ ...record, status: 'running', stopRequested: null }));

    const second = createServer({ stateDir, env: {}, progressIntervalMs: 50 });
    servers.push(second);
    await second.listen({ port: 0, resumeInterrupted: true });
    const view = await waitForEnd(second.jobs, id);
    expect(view.status).toBe('finished');
    expect(view.resumedFrom).not.toBeNull();
    expect(view.runs).toBe(2);
    expect(expectExactlyOnce(committedIds(out), 3000)).toBeUndefined();
  });
});

describe('job server restarts', () => {
  it('a job that was stopping when the server died shows as cancelled and is not resumed by --resume-interrupted', async () => {
    const stateDir = dir();
    const first = await server({ stateDir });
    const { id } = (await submitYaml(first, batchJob('api-was-stopping', join(dir(), 'out'), 100))).json<{ id: string }>();
    await waitForEnd(first.jobs, id);
    await first.close();
    const recordPath = join(stateDir, 'jobs', id, 'record.json');
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as JobView;
    writeFileSync(recordPath, JSON.stringify({ ...record, status: 'stopping', stopRequested: 'stop' }));
    const second = createServer({ stateDir, env: {} });
    servers.push(second);
    await second.listen({ port: 0, resumeInterrupted: true });
    const view = second.jobs.view(id)!;
    expect(view.status).toBe('cancelled');
    expect(view.runs).toBe(1);
    expect((JSON.parse(readFileSync(recordPath, 'utf8')) as JobView).status).toBe('cancelled');
  });
});

describe('job server security', () => {
  const token = 'a-very-long-test-token-0123456789';

  it('answers 401 to every API request without the right token, and runs or stores nothing', async () => {
    const stateDir = dir();
    const s = await server({ stateDir, token });
    const requests = [
      { method: 'GET', url: '/api/jobs' },
      { method: 'GET', url: '/api/health' },
      { method: 'GET', url: '/api/jobs/j-abc123-abcdef' },
      { method: 'GET', url: '/api/events' },
      { method: 'POST', url: '/api/jobs', payload: batchJob('x', join(dir(), 'o'), 10), headers: { 'content-type': 'application/yaml' } },
      { method: 'POST', url: '/api/jobs/j-abc123-abcdef/stop' },
      { method: 'GET', url: '/metrics' },
      { method: 'DELETE', url: '/' },
    ] as const;
    for (const auth of [undefined, 'Bearer wrong', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, token, `Basic ${token}`]) {
      for (const r of requests) {
        const headers: Record<string, string> = { ...('headers' in r ? r.headers : {}), ...(auth ? { authorization: auth } : {}) };
        const response = await s.app.inject({ method: r.method, url: r.url, headers, ...('payload' in r ? { payload: r.payload } : {}) });
        expect(response.statusCode, `${r.method} ${r.url} with ${auth}`).toBe(401);
        expect(response.json<{ error: { code: string } }>().error.code).toBe('UNAUTHORIZED');
        expect(response.headers['www-authenticate']).toContain('Bearer');
      }
    }
    expect(readdirSync(join(stateDir, 'jobs'))).toEqual([]);
    const ok = await s.app.inject({ method: 'GET', url: '/api/jobs', headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('refuses what a web page of another site could send: other origins, re-pointed host names, text/plain bodies', async () => {
    const stateDir = dir();
    const s = await server({ stateDir });
    const yaml = batchJob('csrf', join(dir(), 'o'), 10);
    const crossOrigin = await s.app.inject({ method: 'POST', url: '/api/jobs', headers: { origin: 'https://evil.example', 'content-type': 'application/yaml' }, payload: yaml });
    expect(crossOrigin.statusCode).toBe(403);
    expect(crossOrigin.json<{ error: { code: string } }>().error.code).toBe('CROSS_ORIGIN');
    const rebound = await s.app.inject({ method: 'POST', url: '/api/jobs', headers: { host: 'evil.example:8080', 'content-type': 'application/yaml' }, payload: yaml });
    expect(rebound.statusCode).toBe(403);
    expect(rebound.json<{ error: { code: string } }>().error.code).toBe('HOST_NOT_ALLOWED');
    const plain = await s.app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'text/plain' }, payload: yaml });
    expect(plain.statusCode).toBe(415);
    expect(readdirSync(join(stateDir, 'jobs'))).toEqual([]);
    // The dashboard's own page (same origin) and loopback names are served.
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']) {
      const ok = await s.app.inject({ method: 'GET', url: '/api/jobs', headers: { host, origin: `http://${host}` } });
      expect(ok.statusCode, host).toBe(200);
    }
  });

  it('streams events over a socket, only of the job asked for, and ends open streams when the server closes', async () => {
    const s = createServer({ stateDir: dir(), env: {}, progressIntervalMs: 50 });
    servers.push(s);
    const url = await s.listen({ port: 0 });
    const { request } = await import('node:http');
    const received: string[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      request(`${url}/api/events`, (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream');
        res.setEncoding('utf8').on('data', (d: string) => received.push(d));
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    const out = join(dir(), 'out');
    const response = await fetch(`${url}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: batchJob('sse-unit', out, 500) });
    const { id } = (await response.json()) as { id: string };
    await waitForEnd(s.jobs, id);
    await new Promise((r) => setTimeout(r, 100));
    await s.close();
    await ended;
    const text = received.join('');
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({ event: m[1]!, data: JSON.parse(m[2]!) as { jobId: string; status?: string } }));
    expect(events.every((e) => e.data.jobId === id)).toBe(true);
    expect(events.filter((e) => e.event === 'status').map((e) => e.data.status)).toEqual(['queued', 'running', 'finished']);
    expect(events.some((e) => e.event === 'checkpoint')).toBe(true);
    expect(events.some((e) => e.event === 'progress')).toBe(true);
  });

  it('masks a secret of digits in text without turning equal numbers into ***', async () => {
    const s = await server();
    const out = join(dir(), 'out');
    const job = `env:\n  name: api-digits\nsource:\n  - type: fake\n    rows: 2000\n    splits: 2\nsink:\n  - type: file\n    path: ${out}\n    file_prefix: p\${TAG}\n`;
    const response = await s.app.inject({ method: 'POST', url: '/api/jobs', payload: { job, variables: { TAG: '2000' }, secretVariables: ['TAG'] } });
    expect(response.statusCode).toBe(201);
    const { id } = response.json<{ id: string }>();
    const view = await waitForEnd(s.jobs, id);
    expect(view.status).toBe('finished');
    const fetched = (await s.app.inject({ method: 'GET', url: `/api/jobs/${id}` })).json<JobView>();
    expect(fetched.progress?.rowsRead).toBe(2000);
    const plan = (await s.app.inject({ method: 'GET', url: `/api/jobs/${id}/plan` })).json<{ sinks: { options: Record<string, unknown> }[] }>();
    expect(plan.sinks[0]!.options.file_prefix).toBe('p***');
  });

  it('a progress or checkpoint listener that throws does not stop the job or the server', async () => {
    const s = await server();
    const boom = () => {
      throw new Error('listener bug');
    };
    s.jobs.on('progress', boom);
    s.jobs.on('checkpoint', boom);
    const out = join(dir(), 'out');
    const { id } = (await submitYaml(s, batchJob('api-listener', out, 800))).json<{ id: string }>();
    const view = await waitForEnd(s.jobs, id);
    expect(view.status).toBe('finished');
    expect(committedIds(out)).toHaveLength(800);
    expect(logged.some((line) => line.includes('listener failed'))).toBe(true);
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1', '127.0.0.1.evil.example']) expect(isLoopback(host), host).toBe(false);
  });

  it('refuses to listen beyond loopback without a token, and refuses a short token', async () => {
    const s = createServer({ stateDir: dir(), env: {} });
    servers.push(s);
    await expect(s.listen({ host: '0.0.0.0', port: 0 })).rejects.toMatchObject({ code: 'SERVE_TOKEN_REQUIRED' });
    expect(() => createServer({ stateDir: dir(), token: 'short' })).toThrow(/at least 16/);
  });

  it('never shows a secret: plan masked, errors, state, events and stored records free of it', async () => {
    const stateDir = dir();
    const s = await server({ stateDir });
    const secret = 'pw-Zq81-never-shown';
    const other = 'token-Xy77-marked-secret';
    const job = `env:\n  name: api-secret\nsource:\n  - type: fake\n    rows: 10\n    seed: 1\nsink:\n  - type: postgres\n    host: 127.0.0.1\n    port: 1\n    password: \${PW}\n    table: t\n    connect_timeout: 2s\n`;
    const events: string[] = [];
    s.jobs.on('status', (e) => events.push(JSON.stringify(e)));
    s.jobs.on('progress', (e) => events.push(JSON.stringify(e)));
    const response = await s.app.inject({ method: 'POST', url: '/api/jobs', payload: { job, variables: { PW: secret, OTHER: other }, secretVariables: ['OTHER'] } });
    expect(response.statusCode).toBe(201);
    const { id } = response.json<{ id: string }>();
    const view = await waitForEnd(s.jobs, id);
    expect(view.status).toBe('failed');
    const plan = await s.app.inject({ method: 'GET', url: `/api/jobs/${id}/plan` });
    expect(plan.json<{ sinks: { options: Record<string, unknown> }[] }>().sinks[0]!.options.password).toBe('***');
    const texts = [plan.body, (await s.app.inject({ method: 'GET', url: `/api/jobs/${id}` })).body, (await s.app.inject({ method: 'GET', url: '/api/jobs' })).body, ...events];
    texts.push(readFileSync(join(stateDir, 'jobs', id, 'record.json'), 'utf8'));
    expect(logged.some((line) => line.includes(id))).toBe(true);
    texts.push(...logged);
    for (const text of texts) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(other);
    }
    // The spec keeps the variables (a resume needs them), readable by the owner only.
    expect(readFileSync(join(stateDir, 'jobs', id, 'spec.json'), 'utf8')).toContain(secret);
    const { statSync } = await import('node:fs');
    expect(statSync(join(stateDir, 'jobs', id, 'spec.json')).mode & 0o077).toBe(0);
    // An error message that quotes a secret is masked too.
    const bad = await s.app.inject({ method: 'POST', url: '/api/jobs', payload: { job: 'env:\n  name: x\nsource:\n  - type: fake\n    rows: ${OTHER}\nsink:\n  - type: blackhole\n', variables: { OTHER: other }, secretVariables: ['OTHER'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).not.toContain(other);
    expect(existsSync(join(stateDir, 'checkpoints'))).toBe(true);
  });
});
