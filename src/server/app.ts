import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import { TidewayError } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import { silentLogger } from '../api/logger.js';
import type { Redactor } from '../config/secrets.js';
import type { ConnectorRegistry } from '../engine/registry.js';
import type { Cluster } from '../cluster/cluster-connection.js';
import { JobManager, type JobManagerEvents, JobRequestError, type JobSubmission, maskDeep, type ServerCluster } from './jobs.js';

/** Request bodies larger than this are refused with 413 before they are read whole. */
export const BODY_LIMIT = 1024 * 1024;

/** Bytes of events an event-stream client may leave unread before the server closes its stream. */
export const SSE_BUFFER_LIMIT = 4 * 1024 * 1024;

/** A token shorter than this is refused: it must not be guessable. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * No text/plain: a web page may send that cross-origin without asking first (a "simple" request), so accepting
 * it would let any site submit jobs to a server on this machine. These types make the browser ask (CORS
 * preflight), which this server never grants.
 */
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

export interface ServerOptions {
  /** Job records, specs and the default checkpoint directory. */
  stateDir: string;
  /**
   * Bearer token every API request must carry (`Authorization: Bearer <token>`). Required to listen on an
   * address other than loopback.
   */
  token?: string | undefined;
  registry?: ConnectorRegistry;
  /** Variables a submission does not set (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths in jobs resolve against this directory (default: the working directory). */
  baseDir?: string;
  logger?: Logger;
  redactor?: Redactor;
  progressIntervalMs?: number;
  /**
   * Extra fastify plugins (the dashboard's static assets, `/metrics`), registered after the API; each is given
   * the job manager as `{ jobs }`.
   */
  plugins?: FastifyPluginAsync<{ jobs: JobManager }>[];
  /** Run every job on this cluster and report its status at `GET /api/cluster` (`tideway serve --cluster`). */
  cluster?: ServerCluster;
  /** Job records kept; the oldest finished ones beyond it are forgotten (JobManagerOptions.keepJobs). */
  keepJobs?: number;
}

export interface TidewayServer {
  app: FastifyInstance;
  jobs: JobManager;
  /** Loads stored jobs (see JobManager.open) and listens; resolves with the URL. */
  listen(options: { host?: string; port?: number; resumeInterrupted?: boolean }): Promise<string>;
  /** Stops taking requests, ends event streams, stops running jobs gracefully (they show as interrupted). Safe to call twice. */
  close(): Promise<void>;
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
}

/** Refuses a configuration that would expose the API: another address without a token, or a short token. */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new TidewayError('SERVE_TOKEN_WEAK', `the token has ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} random ones (for example: openssl rand -hex 24)`);
  }
  if (!isLoopback(host) && token === undefined) {
    throw new TidewayError(
      'SERVE_TOKEN_REQUIRED',
      `refusing to listen on ${host} without a token: anyone who reaches that address could run jobs on this machine. Give --token (or TIDEWAY_SERVER_TOKEN), or listen on 127.0.0.1`,
    );
  }
}

/**
 * Builds the job server: the REST API under `/api`, server-sent events, bearer-token checks, and the given
 * plugins. Nothing listens until `listen`.
 */
export function createServer(options: ServerOptions): TidewayServer {
  const logger = options.logger ?? silentLogger;
  const jobs = new JobManager({
    stateDir: options.stateDir,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.baseDir ? { baseDir: options.baseDir } : {}),
    ...(options.redactor ? { redactor: options.redactor } : {}),
    ...(options.progressIntervalMs ? { progressIntervalMs: options.progressIntervalMs } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
    ...(options.keepJobs !== undefined ? { keepJobs: options.keepJobs } : {}),
  });
  const clusterView = options.cluster ? clusterStatusSource(options.cluster) : undefined;
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, forceCloseConnections: true });
  const streams = new Set<ServerResponse>();
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  if (options.token !== undefined) checkExposure('127.0.0.1', options.token);

  app.addHook('onRequest', async (request, reply) => {
    // A browser names the page that sent a request; only the dashboard's own pages may use the API.
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host}` && origin !== `https://${request.headers.host}`) {
      return reply.code(403).send(errorBody('CROSS_ORIGIN', `requests from pages of another origin (${origin}) are refused`));
    }
    // Without a token, a loopback server answers only to loopback names: a web page whose domain was re-pointed
    // at 127.0.0.1 (DNS rebinding) sends its own name in Host.
    if (!tokenDigest && !isLoopback(hostName(request.headers.host ?? ''))) {
      return reply.code(403).send(errorBody('HOST_NOT_ALLOWED', 'without a token this server answers only requests addressed to localhost or a loopback address'));
    }
    if (!tokenDigest || isPublicAsset(request.method, request.url)) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    if (match && timingSafeEqual(digest(match[1]!), tokenDigest)) return;
    reply.header('www-authenticate', 'Bearer realm="tideway"');
    return reply.code(401).send(errorBody('UNAUTHORIZED', 'this server needs a token: send the header "Authorization: Bearer <token>"'));
  });

  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError | JobRequestError, _request, reply) => {
    const masked = (text: string) => jobs.redactor.redact(text);
    if (error instanceof JobRequestError) {
      return reply.code(error.httpStatus).send({ error: { code: error.code, message: masked(error.message), ...(error.issues ? { issues: error.issues } : {}) } });
    }
    if (error instanceof TidewayError) return reply.code(500).send(errorBody(error.code, masked(error.message)));
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    if (status === 413) return reply.code(413).send(errorBody('REQUEST_TOO_LARGE', `the request body is larger than ${BODY_LIMIT} bytes`));
    if (status === 415) return reply.code(415).send(errorBody('UNSUPPORTED_MEDIA_TYPE', `send the job as application/yaml, or as application/json { "job": ..., "variables": {...} }`));
    if (status < 500) return reply.code(status).send(errorBody('REQUEST_INVALID', masked(error.message)));
    logger.error('request failed', { error: masked(error.message) });
    return reply.code(500).send(errorBody('INTERNAL', 'the server failed to handle the request; its log has the details'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)));

  // `cluster` tells the dashboard whether to offer its Cluster page (GET /api/cluster).
  app.get('/api/health', async () => ({ status: 'ok', cluster: clusterView !== undefined }));

  app.post('/api/jobs', async (request, reply) => {
    const job = await jobs.submit(submissionOf(request.body));
    reply.header('location', `/api/jobs/${job.id}`);
    return reply.code(201).send({ id: job.id });
  });

  app.get('/api/jobs', async () => ({ jobs: jobs.list() }));

  app.get('/api/cluster', async () => {
    if (!clusterView) throw new JobRequestError('NO_CLUSTER', 'this server runs its jobs locally; start it with tideway serve --cluster nats://host:4222 to see a cluster here', 404);
    return clusterView.status();
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (request) => {
    const view = jobs.view(request.params.id);
    if (!view) throw new JobRequestError('JOB_NOT_FOUND', `no job with id ${JSON.stringify(request.params.id)}; GET /api/jobs lists them`, 404);
    return view;
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id/plan', async (request) => jobs.plan(request.params.id));
  app.post<{ Params: { id: string } }>('/api/jobs/:id/stop', async (request, reply) => reply.code(202).send(jobs.stop(request.params.id)));
  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (request, reply) => reply.code(202).send(jobs.cancel(request.params.id)));
  app.post<{ Params: { id: string } }>('/api/jobs/:id/resume', async (request, reply) => reply.code(202).send(jobs.resume(request.params.id)));

  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', async (request, reply) => {
    const view = jobs.view(request.params.id);
    if (!view) throw new JobRequestError('JOB_NOT_FOUND', `no job with id ${JSON.stringify(request.params.id)}; GET /api/jobs lists them`, 404);
    openEventStream(reply, request.params.id);
    send(reply.raw, 'status', { jobId: view.id, name: view.name, status: view.status, job: view });
  });

  app.get('/api/events', async (_request, reply) => {
    openEventStream(reply, undefined);
  });

  for (const plugin of options.plugins ?? []) void app.register(plugin, { jobs });

  /** Server-sent events for one job (or every job), until the client goes away or the server closes. */
  function openEventStream(reply: FastifyReply, jobId: string | undefined): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': tideway job events\n\n');
    const forward = <K extends keyof JobManagerEvents>(kind: K) => {
      const listener = (event: JobManagerEvents[K][0]) => {
        if (jobId === undefined || event.jobId === jobId) send(res, kind, event);
      };
      jobs.on(kind, listener as never);
      return () => jobs.off(kind, listener as never);
    };
    const stops = [forward('status'), forward('progress'), forward('checkpoint')];
    // A comment now and then keeps proxies from closing an idle stream.
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    streams.add(res);
    res.on('close', () => {
      clearInterval(heartbeat);
      for (const stop of stops) stop();
      streams.delete(res);
    });
  }

  function send(res: ServerResponse, event: string, data: unknown): void {
    // A client that stopped reading would make the server buffer its events without end: drop it instead.
    if (res.writableLength > SSE_BUFFER_LIMIT) {
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(maskDeep(jobs.redactor, data))}\n\n`);
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    jobs,
    async listen({ host = '127.0.0.1', port = 8080, resumeInterrupted = false }) {
      checkExposure(host, options.token);
      await jobs.open({ resumeInterrupted });
      await app.listen({ host, port });
      const address = app.server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
    },
    close() {
      closing ??= (async () => {
        for (const res of streams) res.end();
        await app.close();
        await jobs.close();
        await clusterView?.close();
      })();
      return closing;
    },
  };
}

/**
 * The cluster's status as `tideway cluster status --json` prints it, over one connection opened at the first
 * request (the NATS client loads only then) and kept until the server closes. A failed open is tried again at
 * the next request.
 */
function clusterStatusSource(target: ServerCluster): { status(): Promise<unknown>; close(): Promise<void> } {
  let opening: Promise<Cluster> | undefined;
  let closed = false;
  const open = () =>
    (opening ??= import('../cluster/cluster-connection.js').then(({ openCluster }) => openCluster(target.url, { ...(target.prefix ? { prefix: target.prefix } : {}), name: 'tideway serve' })).catch((error: unknown) => {
      opening = undefined;
      throw new JobRequestError('CLUSTER_UNREACHABLE', error instanceof Error ? error.message : String(error), 503);
    }));
  return {
    async status() {
      if (closed) throw new JobRequestError('SERVER_STOPPING', 'the server is stopping', 503);
      const cluster = await open();
      const [{ clusterStatus }, { DEFAULT_TIMINGS }] = await Promise.all([import('../cluster/cluster-status.js'), import('../cluster/cluster-connection.js')]);
      return clusterStatus(cluster, DEFAULT_TIMINGS.heartbeatTimeoutMs);
    },
    async close() {
      closed = true;
      const cluster = await opening?.catch(() => undefined);
      await cluster?.close();
    },
  };
}

/** The host name of a Host header: `127.0.0.1:8080` -> `127.0.0.1`, `[::1]:80` -> `::1`. */
function hostName(host: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.split(':')[0]!;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * The dashboard's files (GET outside `/api` and `/metrics`) load without a token: a browser cannot attach one
 * to a page load, and they hold no job data. The dashboard then calls the API with the token.
 */
function isPublicAsset(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const path = url.split('?')[0]!;
  return !(path === '/api' || path.startsWith('/api/') || path === '/metrics' || path.startsWith('/metrics/'));
}

function submissionOf(body: unknown): JobSubmission {
  if (typeof body === 'string') {
    if (body.trim() === '') throw new JobRequestError('REQUEST_INVALID', 'the request body is empty; send the job\'s YAML', 400);
    return { job: body };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new JobRequestError('REQUEST_INVALID', 'send the job as application/yaml, or as application/json { "job": <YAML text or object>, "variables": { "NAME": "value" } }', 400);
  }
  const { job, variables, secretVariables, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new JobRequestError('REQUEST_INVALID', `unknown field ${JSON.stringify(unknown[0])}; a submission has job, variables and secretVariables`, 400);
  if (job === undefined) throw new JobRequestError('REQUEST_INVALID', 'the field "job" is missing: the job\'s YAML text or the job as an object', 400);
  if (variables !== undefined && (typeof variables !== 'object' || variables === null || Array.isArray(variables))) {
    throw new JobRequestError('REQUEST_INVALID', 'variables must be an object of NAME: "value" pairs', 400);
  }
  return {
    job: job as JobSubmission['job'],
    ...(variables === undefined ? {} : { variables: variables as Record<string, string> }),
    ...(secretVariables === undefined ? {} : { secretVariables: secretVariables as string[] }),
  };
}
