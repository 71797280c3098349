import type { RecordBatch } from 'apache-arrow';
import { type Logger, silentLogger } from '../../../src/api/logger.js';
import { TidewayError } from '../../../src/api/errors.js';
import { maxComputeError } from '../errors.js';
import { errorFromResponse, type RequestTarget } from './errors.js';
import { HttpTransport, type HttpResponse, readBody } from './http.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy, sleep } from './retry.js';
import { type DownloadSession, normalizePartitionSpec, parseSessionJson } from './session.js';
import { authorization } from './signing.js';
import { type ReadFormat, TunnelRowReader } from './row-reader.js';

/** Options of a {@link TunnelClient}. */
export interface TunnelClientOptions {
  /** The MaxCompute (ODPS) REST endpoint, e.g. `http://service.cn-hangzhou.maxcompute.aliyun.com/api`. */
  endpoint: string;
  /** The Tunnel endpoint; discovered through `GET /projects/{p}/tunnel?service` when absent. */
  tunnelEndpoint?: string;
  project: string;
  /** The schema inside the project (three-tier model); absent for two-tier projects. */
  schemaName?: string;
  accessId: string;
  /** Never logged and never part of an error message. */
  accessKey: string;
  retry?: Partial<RetryPolicy>;
  /** Socket idle time before a request or a read is given up and retried. @default 300000 */
  idleTimeoutMs?: number;
  /** Ask for deflate-compressed bodies (worth it across regions, not on a LAN). @default false */
  compress?: boolean;
  logger?: Logger;
}

export interface CreateSessionOptions {
  /** Partition spec (`ds=20240101,region=hz`); quotes are accepted and dropped. */
  partition?: string;
  /** Ask the service to prepare the session in the background, then poll until it is ready. */
  async?: boolean;
  /** Longest wait for an async session to become ready. @default 600000 */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface OpenReaderOptions {
  /** First row of the range (0-based, in the session's snapshot). */
  start: number;
  /** Rows in the range. */
  count: number;
  /** Column projection, in the order wanted; all columns when absent. */
  columns?: readonly string[];
  /** Wire format. @default 'record' */
  format?: ReadFormat;
  signal?: AbortSignal;
}

const TUNNEL_VERSION = '6';
/** What the Java SDK (TunnelConstants.TUNNEL_DATE_TRANSFORM_VERSION), pyodps and the Go SDK send. */
const DATE_TRANSFORM_VERSION = 'v1';

/** The service says DATE and DATETIME values are proleptic Gregorian (the Java and Go SDKs test for "true"). */
function answersDateTransform(response: HttpResponse): boolean {
  return String(response.headers['odps-tunnel-date-transform'] ?? '').trim().toLowerCase() === 'true';
}

/**
 * A MaxCompute Tunnel download client: ODPS V2 signing, endpoint discovery, download sessions (create,
 * async preparation, attach by id) and row-range readers that decode into Arrow and resume after failures.
 */
export class TunnelClient {
  readonly project: string;
  readonly schemaName: string | undefined;
  readonly retry: RetryPolicy;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  private readonly endpoint: URL;
  private readonly accessId: string;
  private readonly accessKey: string;
  private readonly compress: boolean;
  private readonly http = new HttpTransport();
  private tunnelEndpoint: Promise<URL> | undefined;

  constructor(options: TunnelClientOptions) {
    this.endpoint = parseEndpoint(options.endpoint, 'endpoint');
    this.project = options.project;
    this.schemaName = options.schemaName || undefined;
    this.accessId = options.accessId;
    this.accessKey = options.accessKey;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.logger = options.logger ?? silentLogger;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    this.compress = options.compress ?? false;
    if (options.tunnelEndpoint) this.tunnelEndpoint = Promise.resolve(parseEndpoint(options.tunnelEndpoint, 'tunnel_endpoint'));
  }

  /** The Tunnel endpoint, asked from the service once and then remembered. */
  resolveTunnelEndpoint(signal?: AbortSignal): Promise<URL> {
    if (!this.tunnelEndpoint) {
      const discovery = this.discoverTunnel(signal);
      this.tunnelEndpoint = discovery;
      discovery.catch(() => {
        if (this.tunnelEndpoint === discovery) this.tunnelEndpoint = undefined;
      });
    }
    return this.tunnelEndpoint;
  }

  private async discoverTunnel(signal?: AbortSignal): Promise<URL> {
    const path = `/projects/${encodeURIComponent(this.project)}/tunnel`;
    const target: RequestTarget = { endpoint: this.endpoint.href, project: this.project, accessId: this.accessId, action: 'find the Tunnel endpoint of' };
    const body = await this.withRetry(target, signal, async () => {
      const response = await this.request(this.endpoint, 'GET', path, [['service', '']], signal);
      return this.expectOk(response, target);
    });
    const host = body.toString('utf8').trim();
    if (!host) throw maxComputeError('MAXCOMPUTE_REQUEST_FAILED', `MaxCompute at ${this.endpoint.host} returned no Tunnel endpoint for project "${this.project}"; set tunnel_endpoint explicitly`);
    return parseEndpoint(/^https?:\/\//.test(host) ? host : `${this.endpoint.protocol}//${host}`, 'tunnel endpoint');
  }

  /** Creates a download session (a snapshot) of a table or one of its partitions. */
  async createDownloadSession(table: string, options: CreateSessionOptions = {}): Promise<DownloadSession> {
    const partition = normalizePartitionSpec(options.partition);
    const target = this.target(table, partition, 'create a download session of');
    const query: [string, string][] = [['downloads', '']];
    if (partition) query.push(['partition', partition]);
    if (options.async) query.push(['asyncmode', 'true']);
    const tunnel = await this.resolveTunnelEndpoint(options.signal);
    let session = await this.withRetry(target, options.signal, async () => {
      const response = await this.request(tunnel, 'POST', this.tablePath(table), query, options.signal);
      return parseSessionJson(JSON.parse((await this.expectOk(response, target)).toString('utf8')), this.where(table, partition), answersDateTransform(response));
    });
    const deadline = Date.now() + (options.readyTimeoutMs ?? 600_000);
    let delay = 100;
    while (session.status === 'initiating') {
      if (Date.now() + delay > deadline) {
        throw maxComputeError(
          'MAXCOMPUTE_SESSION_FAILED',
          `download session ${session.id} of ${this.project}.${table} was still being prepared after ${Math.round((options.readyTimeoutMs ?? 600_000) / 1000)} s`,
          { context: { project: this.project, table, sessionId: session.id } },
        );
      }
      await sleep(delay, options.signal);
      delay = Math.min(5000, delay * 2);
      session = await this.attachDownloadSession(table, session.id, { partition, signal: options.signal });
    }
    this.checkUsable(session);
    this.logger.debug('created MaxCompute download session', { project: this.project, table, partition, session: session.id, records: session.recordCount });
    return session;
  }

  /** Reloads a session by id: how readers share the snapshot the planner created. */
  async attachDownloadSession(table: string, downloadId: string, options: { partition?: string; signal?: AbortSignal } = {}): Promise<DownloadSession> {
    const partition = normalizePartitionSpec(options.partition);
    const target = { ...this.target(table, partition, 'attach to a download session of'), sessionId: downloadId };
    const query: [string, string][] = [['downloadid', downloadId]];
    if (partition) query.push(['partition', partition]);
    const tunnel = await this.resolveTunnelEndpoint(options.signal);
    const session = await this.withRetry(target, options.signal, async () => {
      const response = await this.request(tunnel, 'GET', this.tablePath(table), query, options.signal);
      return parseSessionJson(JSON.parse((await this.expectOk(response, target)).toString('utf8')), this.where(table, partition), answersDateTransform(response));
    });
    // A session the service reports as expired or closed is as gone as one it no longer knows (NoSuchDownload).
    if (session.status === 'expired' || session.status === 'closed') this.checkUsable(session);
    return session;
  }

  /** Opens a reader of a row range of a session. Nothing is requested until the first `read`. */
  openReader(session: DownloadSession, options: OpenReaderOptions): TunnelRowReader {
    this.checkUsable(session);
    if (!Number.isSafeInteger(options.start) || !Number.isSafeInteger(options.count) || options.start < 0 || options.count < 0 || options.start + options.count > session.recordCount) {
      throw maxComputeError(
        'MAXCOMPUTE_INVALID_ROW_RANGE',
        `rows ${options.start}..${options.start + options.count} are outside download session ${session.id} of ${session.project}.${session.table}, which holds ${session.recordCount} rows`,
        { context: { project: session.project, table: session.table, sessionId: session.id } },
      );
    }
    const columns = options.columns ? selectColumns(session, options.columns) : session.columns;
    return new TunnelRowReader(this, session, {
      start: options.start,
      count: options.count,
      columns,
      projected: options.columns !== undefined,
      format: options.format ?? 'record',
      signal: options.signal,
    });
  }

  /** Reads a row range as RecordBatches of at most `batchRows` rows. */
  async *readRows(session: DownloadSession, options: OpenReaderOptions & { batchRows?: number }): AsyncGenerator<RecordBatch> {
    const reader = this.openReader(session, options);
    try {
      for (;;) {
        const batch = await reader.read(options.batchRows ?? 8192);
        if (!batch) return;
        yield batch;
      }
    } finally {
      await reader.close();
    }
  }

  /**
   * Sends one signed data request and returns the open response (the row reader streams its body).
   * @internal
   */
  async openDataStream(
    session: DownloadSession,
    range: { start: number; count: number },
    columns: readonly string[] | undefined,
    format: ReadFormat,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const target = { ...this.target(session.table, session.partition, 'read rows of'), sessionId: session.id };
    const query: [string, string][] = [
      ['downloadid', session.id],
      ['data', ''],
      ['rowrange', `(${range.start},${range.count})`],
    ];
    if (session.partition) query.push(['partition', session.partition]);
    if (columns) query.push(['columns', columns.join(',')]);
    if (format === 'arrow') query.push(['arrow', '']);
    const tunnel = await this.resolveTunnelEndpoint(signal);
    const response = await this.request(tunnel, 'GET', this.tablePath(session.table), query, signal);
    if (response.status !== 200) {
      const body = await readBody(response).catch(() => Buffer.alloc(0));
      throw errorFromResponse(response.status, response.headers, body, target);
    }
    return response;
  }

  /**
   * Runs `attempt` until it succeeds, retrying retryable failures with backoff.
   * @internal
   */
  async withRetry<T>(target: RequestTarget, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    for (let failures = 0; ; ) {
      try {
        return await attempt();
      } catch (error) {
        if (!isRetryable(error) || failures >= this.retry.maxRetries || signal?.aborted) throw exhausted(error, failures);
        failures++;
        const delay = backoffDelay(this.retry, failures, error);
        this.logger.warn('MaxCompute request failed; retrying', {
          action: target.action,
          project: target.project,
          table: target.table,
          attempt: failures,
          delayMs: Math.round(delay),
          error: (error as Error).message,
        });
        await sleep(delay, signal);
      }
    }
  }

  /** Releases pooled connections. */
  close(): void {
    this.http.close();
  }

  private checkUsable(session: DownloadSession): void {
    if (session.status === 'normal') return;
    const where = `${session.project}.${session.table}${session.partition ? ` partition ${session.partition}` : ''}`;
    const context = { project: session.project, table: session.table, sessionId: session.id, serverStatus: session.serverStatus };
    if (session.status === 'expired' || session.status === 'closed') {
      // Retryable in the planner's sense: it may replace a session none of whose rows were read.
      throw maxComputeError(
        'MAXCOMPUTE_SESSION_EXPIRED',
        `download session ${session.id} of ${where} has ${session.status === 'expired' ? 'expired' : 'been closed'} (the service reports status "${session.serverStatus}"). ` +
          'Tideway re-plans with a new session when none of its rows were read yet; otherwise restart the job so it reads a fresh snapshot.',
        { context, retryable: true },
      );
    }
    throw maxComputeError(
      'MAXCOMPUTE_SESSION_FAILED',
      `download session ${session.id} of ${where} is not ready to read: the service reports status "${session.serverStatus}". Retry later, or ask the MaxCompute administrator if it persists.`,
      { context },
    );
  }

  private tablePath(table: string): string {
    const p = encodeURIComponent(this.project);
    const t = encodeURIComponent(table);
    return this.schemaName ? `/projects/${p}/schemas/${encodeURIComponent(this.schemaName)}/tables/${t}` : `/projects/${p}/tables/${t}`;
  }

  private where(table: string, partition: string) {
    return { project: this.project, ...(this.schemaName ? { schemaName: this.schemaName } : {}), table, partition };
  }

  private target(table: string, partition: string, action: string): RequestTarget {
    return { endpoint: this.endpoint.href, project: this.project, table, partition, accessId: this.accessId, action };
  }

  private async expectOk(response: HttpResponse, target: RequestTarget): Promise<Buffer> {
    const body = await readBody(response);
    if (response.status >= 200 && response.status < 300) return body;
    throw errorFromResponse(response.status, response.headers, body, target);
  }

  private request(base: URL, method: 'GET' | 'POST', resource: string, query: readonly [string, string][], signal: AbortSignal | undefined): Promise<HttpResponse> {
    const basePath = base.pathname.replace(/\/+$/, '');
    const url = new URL(base.href);
    url.pathname = basePath + resource;
    url.search = query.map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
    const headers: Record<string, string> = {
      date: new Date().toUTCString(),
      'x-odps-tunnel-version': TUNNEL_VERSION,
      'odps-tunnel-date-transform': DATE_TRANSFORM_VERSION,
      'user-agent': 'tideway-maxcompute',
    };
    if (method === 'POST') headers['content-length'] = '0';
    if (this.compress) headers['accept-encoding'] = 'deflate';
    headers.authorization = authorization(this.accessId, this.accessKey, { method, path: decodeURIComponent(url.pathname), query, headers }, basePath);
    return this.http.send({ method, url, headers, signal, idleTimeoutMs: this.idleTimeoutMs });
  }
}

function isRetryable(error: unknown): boolean {
  return error instanceof TidewayError && error.retryable && error.code !== 'MAXCOMPUTE_SESSION_EXPIRED';
}

/** Says how many retries a failure survived, so "gave up" reads differently from "failed once". */
function exhausted(error: unknown, failures: number): unknown {
  if (failures > 0 && error instanceof TidewayError && error.retryable && error.code !== 'MAXCOMPUTE_SESSION_EXPIRED') {
    return new TidewayError(error.code, `${error.message} Gave up after ${failures + 1} attempts; raise max_retries or retry later.`, {
      cause: error,
      context: error.context,
      retryable: true,
    });
  }
  return error;
}

function parseEndpoint(text: string, option: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `${option} "${text}" is not a URL; write it like http://service.cn-hangzhou.maxcompute.aliyun.com/api`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw maxComputeError('MAXCOMPUTE_INVALID_OPTIONS', `${option} "${text}" must start with http:// or https://`);
  }
  return url;
}

function selectColumns(session: DownloadSession, names: readonly string[]) {
  const byName = new Map(session.columns.map((c) => [c.name.toLowerCase(), c]));
  return names.map((name) => {
    const column = byName.get(name.toLowerCase());
    if (!column) {
      throw maxComputeError(
        'MAXCOMPUTE_INVALID_COLUMN',
        `column "${name}" is not in ${session.project}.${session.table}; its columns are ${session.columns.map((c) => c.name).join(', ')}. Check read_columns.`,
        { context: { project: session.project, table: session.table, column: name } },
      );
    }
    return column;
  });
}
