import { randomBytes } from 'node:crypto';
import { once, setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TidewayError } from '../../../src/api/errors.js';
import { DirectoryBackend } from './directory-backend.js';
import { FaultRules, type FaultHandle, type FaultRule, type FiredFault } from './faults.js';
import { handleOperation, type OssResponse } from './handlers.js';
import { RequestJournal, type JournalEntry, type RequestOutcome } from './journal.js';
import { classifyOperation, type OssOperation } from './operations.js';
import { OssError, renderErrorXml } from './oss-error.js';
import { resolveOptions, type OssCredential, type OssEmulatorOptions, type ResolvedOssEmulatorOptions } from './options.js';
import { routeCandidates, type RouteCandidate } from './routing.js';
import { authenticate } from './signature.js';
import { MemoryBackend, type StorageBackend } from './storage-backend.js';
import { createStorageView, type EmulatorStorageView } from './storage-view.js';
import { ObjectStore } from './store.js';

/** A running emulator. */
export interface OssEmulator {
  /** `http://127.0.0.1:<port>`: pass it to ali-oss as `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  /** The key pairs it accepts (the first is the one to hand to a client). */
  readonly credentials: readonly OssCredential[];
  /** Region the buckets report; ali-oss needs the same `region` for V4 signing. */
  readonly region: string;
  readonly journal: RequestJournal;
  /** Direct access to what is stored, for seeding and asserting without HTTP. */
  readonly storage: EmulatorStorageView;
  /** Adds a fault rule; it applies to requests that arrive from now on. */
  addFault(rule: FaultRule): FaultHandle;
  clearFaults(): void;
  /** Empties storage (pre-created buckets come back empty), the journal and the fault rules. */
  reset(): Promise<void>;
  /** Stops listening and drops open connections. Safe to call more than once. */
  close(): Promise<void>;
}

const HEAD_OPS: ReadonlySet<OssOperation> = new Set(['HeadObject', 'GetObjectMeta']);
const BUCKET_CREATING_OPS: ReadonlySet<OssOperation> = new Set(['PutBucket', 'ListBuckets', 'DeleteBucket', 'Unsupported']);

function newRequestId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

interface Exchange {
  entry: JournalEntry;
  recorded: boolean;
  startedMs: number;
  method: string;
  host: string;
}

class EmulatorServer {
  readonly journal: RequestJournal;
  readonly faults = new FaultRules();
  private readonly sockets = new Set<Socket>();
  private readonly lifetime = lifetimeController();
  private seq = 0;
  private closing: Promise<void> | undefined;

  constructor(
    readonly options: ResolvedOssEmulatorOptions,
    readonly store: ObjectStore,
    readonly server: Server,
  ) {
    this.journal = new RequestJournal(options.journalLimit);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.serve(req, res).catch((error: unknown) => {
        // Reaching here means the emulator itself broke; answer as OSS would rather than hang the client.
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const failure = new OssError('InternalError', `The OSS emulator failed: ${error instanceof Error ? error.message : String(error)}`);
        res.statusCode = failure.status;
        res.setHeader('Content-Type', 'application/xml');
        res.end(renderErrorXml(failure, String(res.getHeader('x-oss-request-id') ?? ''), req.headers.host ?? ''));
      });
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPath = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : rawUrl.slice(queryAt + 1));
    const requestId = newRequestId();
    const host = req.headers.host ?? '';
    const exchange: Exchange = {
      recorded: false,
      startedMs: performance.now(),
      method,
      host,
      entry: {
        seq: ++this.seq,
        requestId,
        startedAt: this.options.clock(),
        method,
        op: 'Unsupported',
        bucket: undefined,
        key: undefined,
        query: Object.fromEntries(query),
        status: 0,
        errorCode: undefined,
        accessKeyId: undefined,
        bytesIn: 0,
        bytesOut: 0,
        ms: 0,
        outcome: 'complete',
        fault: undefined,
      },
    };
    res.setHeader('x-oss-request-id', requestId);
    res.setHeader('Server', 'AliyunOSS');

    const { target, refusal } = this.resolveTarget(req, method, rawPath, query, exchange);
    const op = target
      ? classifyOperation({ method, bucket: target.bucket, key: target.key, query, copySource: req.headers['x-oss-copy-source'] !== undefined })
      : 'Unsupported';
    Object.assign(exchange.entry, { op, bucket: target?.bucket, key: target?.key });

    const fault = this.faults.match({ op, method, bucket: target?.bucket, key: target?.key });
    if (fault) exchange.entry.fault = { rule: fault.rule, kind: fault.action.kind };
    if (fault?.action.kind === 'delay') {
      try {
        await sleep(fault.action.ms, undefined, { signal: this.lifetime.signal });
      } catch {
        return this.finish(exchange, 'aborted');
      }
    }
    if (fault?.action.kind === 'reset' && !fault.action.afterApply) {
      return this.resetConnection(req, exchange);
    }

    let body: Buffer;
    try {
      body = await this.readBody(req, exchange);
    } catch (error) {
      if (error instanceof OssError) return this.send(req, res, exchange, this.errorResponse(error, exchange, op), undefined);
      return this.finish(exchange, 'aborted');
    }

    let response: OssResponse;
    if (fault?.action.kind === 'error') {
      const { code, status, message } = fault.action;
      response = this.errorResponse(new OssError(code, message ?? `Fault injected by the OSS emulator (rule ${fault.rule}).`, {}, status), exchange, op);
    } else if (refusal || !target) {
      response = this.errorResponse(refusal ?? new OssError('InvalidArgument', 'The request names no target.'), exchange, op);
    } else {
      response = await this.execute(op, method, target, query, req, body, exchange);
    }
    if (fault?.action.kind === 'reset') {
      destroyBody(response);
      return this.resetConnection(req, exchange);
    }
    return this.send(req, res, exchange, response, fault);
  }

  /**
   * Reads the bucket and key of a request and, with auth on, verifies its signature. A refusal is
   * returned rather than thrown so that the request still gets an op name for faults and the journal.
   */
  private resolveTarget(
    req: IncomingMessage,
    method: string,
    rawPath: string,
    query: URLSearchParams,
    exchange: Exchange,
  ): { target: RouteCandidate | undefined; refusal: OssError | undefined } {
    let candidates: RouteCandidate[];
    try {
      candidates = routeCandidates(this.options.route, req.headers.host, rawPath, this.options.defaultBucket);
    } catch (error) {
      if (error instanceof OssError) return { target: undefined, refusal: error };
      throw error;
    }
    if (!this.options.auth) {
      const target = candidates.find((c) => c.bucket === undefined || this.store.hasBucket(c.bucket)) ?? candidates[0];
      return { target, refusal: undefined };
    }
    try {
      const auth = authenticate({ method, headers: req.headers, query: [...query] }, candidates, {
        credentials: this.options.credentials,
        nowMs: this.options.clock(),
        maxSkewMs: this.options.maxClockSkewMs,
      });
      exchange.entry.accessKeyId = auth.accessKeyId;
      return { target: candidates[auth.candidate], refusal: undefined };
    } catch (error) {
      if (error instanceof OssError) return { target: candidates[0], refusal: error };
      throw error;
    }
  }

  private async execute(
    op: OssOperation,
    method: string,
    target: RouteCandidate,
    query: URLSearchParams,
    req: IncomingMessage,
    body: Buffer,
    exchange: Exchange,
  ): Promise<OssResponse> {
    try {
      if (this.options.autoCreateBuckets && target.bucket !== undefined && !BUCKET_CREATING_OPS.has(op) && !this.store.hasBucket(target.bucket)) {
        await this.store.createBucket(target.bucket);
      }
      return await handleOperation(
        { store: this.store, owner: this.options.owner, region: this.options.region },
        { op, method, bucket: target.bucket, key: target.key, query, headers: req.headers, body },
      );
    } catch (error) {
      if (error instanceof OssError) return this.errorResponse(error, exchange, op);
      // A bug or a storage failure: answer as OSS does for its own failures, with the cause for debugging.
      return this.errorResponse(new OssError('InternalError', `The OSS emulator failed: ${error instanceof Error ? error.message : String(error)}`), exchange, op);
    }
  }

  private errorResponse(error: OssError, exchange: Exchange, op: OssOperation): OssResponse {
    exchange.entry.errorCode = error.code;
    const document = Buffer.from(renderErrorXml(error, exchange.entry.requestId, exchange.host), 'utf8');
    if (HEAD_OPS.has(op) || exchange.method === 'HEAD') {
      // A HEAD response has no body; OSS carries the error document base64-encoded in a header.
      return { status: error.status, headers: { 'x-oss-err': document.toString('base64'), 'Content-Length': '0' }, body: undefined };
    }
    return { status: error.status, headers: { 'Content-Type': 'application/xml' }, body: document };
  }

  private async readBody(req: IncomingMessage, exchange: Exchange): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      exchange.entry.bytesIn += chunk.length;
      // Keep reading past the limit so that the error response is not racing the client's upload.
      if (exchange.entry.bytesIn > this.options.maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    }
    if (tooLarge) {
      throw new OssError('EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of ${this.options.maxBodyBytes} bytes.`);
    }
    return Buffer.concat(chunks);
  }

  private resetConnection(req: IncomingMessage, exchange: Exchange): void {
    this.finish(exchange, 'reset');
    req.socket.resetAndDestroy();
  }

  private async send(req: IncomingMessage, res: ServerResponse, exchange: Exchange, response: OssResponse, fault: FiredFault | undefined): Promise<void> {
    const { body } = response;
    const length = body === undefined ? 0 : body.length;
    res.statusCode = response.status;
    for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
    if (body !== undefined) res.setHeader('Content-Length', String(length));
    else if (!res.hasHeader('Content-Length')) res.setHeader('Content-Length', '0');
    exchange.entry.status = response.status;
    const closed = once(res, 'close').then(() => 'closed' as const);

    if (body === undefined || exchange.method === 'HEAD' || length === 0) {
      destroyBody(response);
      this.finish(exchange, 'complete');
      res.end();
      await closed;
      if (!res.writableFinished) this.finish(exchange, 'aborted');
      return;
    }

    const action = fault?.action;
    const cut = action?.kind === 'resetAfterBytes' ? action.bytes : action?.kind === 'truncate' ? (action.bytes ?? Math.floor(length / 2)) : undefined;
    const rate = action?.kind === 'slowBody' ? action.bytesPerSecond : undefined;
    const write = async (chunk: Buffer): Promise<boolean> => {
      exchange.entry.bytesOut += chunk.length;
      // Journal before the last bytes leave, so a client that has its answer finds its request
      // in the journal already.
      if (exchange.entry.bytesOut >= length) this.finish(exchange, 'complete');
      const flushed = new Promise<'flushed'>((resolve) => res.write(chunk, () => resolve('flushed')));
      return (await Promise.race([flushed, closed])) === 'flushed';
    };

    const chunks: AsyncIterable<Buffer> | Buffer[] = Buffer.isBuffer(body) ? [body] : (body.stream as AsyncIterable<Buffer>);
    let sent = 0;
    try {
      for await (let chunk of chunks) {
        if (cut !== undefined && sent + chunk.length >= cut) {
          chunk = chunk.subarray(0, cut - sent);
          exchange.entry.bytesOut += chunk.length;
          this.finish(exchange, action?.kind === 'resetAfterBytes' ? 'reset' : 'truncated');
          if (chunk.length > 0) await Promise.race([new Promise<void>((resolve) => res.write(chunk, () => resolve())), closed]);
          if (action?.kind === 'resetAfterBytes') {
            req.socket.resetAndDestroy();
          } else {
            req.socket.end();
            await closed;
          }
          return;
        }
        const pieces = rate === undefined ? [chunk] : splitEvery(chunk, Math.max(1, Math.floor(rate / 10)));
        for (const piece of pieces) {
          if (rate !== undefined) {
            await sleep(Math.max(1, (piece.length / rate) * 1000), undefined, { signal: this.lifetime.signal });
          }
          if (!(await write(piece))) return this.finish(exchange, 'aborted');
          sent += piece.length;
        }
      }
    } catch {
      res.destroy();
      return this.finish(exchange, 'aborted');
    } finally {
      destroyBody(response);
    }
    res.end();
    await closed;
    if (!res.writableFinished) this.finish(exchange, 'aborted');
  }

  /**
   * Journals the request; a later call (the connection failed after the optimistic record) only
   * corrects the outcome and duration of the entry already recorded.
   */
  private finish(exchange: Exchange, outcome: RequestOutcome): void {
    exchange.entry.outcome = outcome;
    exchange.entry.ms = Math.round((performance.now() - exchange.startedMs) * 1000) / 1000;
    if (exchange.recorded) return;
    exchange.recorded = true;
    this.journal.record(exchange.entry);
    this.options.onRequest?.(exchange.entry);
  }

  async reset(): Promise<void> {
    this.faults.clear();
    await this.store.clear();
    for (const bucket of this.options.buckets) await this.store.createBucket(bucket);
    this.journal.clear();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.lifetime.abort();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const socket of this.sockets) socket.destroy();
      await closed;
      await this.store.backend.close();
    })();
    return this.closing;
  }
}

function splitEvery(chunk: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < chunk.length; at += size) pieces.push(chunk.subarray(at, at + size));
  return pieces;
}

function destroyBody(response: OssResponse): void {
  const { body } = response;
  if (body !== undefined && !Buffer.isBuffer(body)) body.stream.destroy();
}

function createBackend(options: ResolvedOssEmulatorOptions): StorageBackend {
  return options.storage === 'memory' ? new MemoryBackend() : new DirectoryBackend(options.storage.dataDir);
}

/**
 * Starts an OSS-compatible emulator on `127.0.0.1` that the real ali-oss client can use unchanged:
 * `new OSS({ endpoint: emulator.endpoint, accessKeyId, accessKeySecret, bucket })`.
 */
export async function startOssEmulator(options: OssEmulatorOptions = {}): Promise<OssEmulator> {
  const resolved = resolveOptions(options);
  const store = await ObjectStore.open(createBackend(resolved), resolved.clock, resolved.region, resolved.minPartSize);
  try {
    for (const bucket of resolved.buckets) await store.createBucket(bucket);
  } catch (error) {
    await store.backend.close();
    throw error instanceof OssError
      ? new TidewayError('OSS_EMULATOR_OPTIONS_INVALID', `Invalid OSS emulator option: bucket ${error.extra['BucketName'] ?? ''}: ${error.message}`, { cause: error })
      : error;
  }
  const server = createServer();
  // Longer than agentkeepalive's 15 s free-socket timeout (ali-oss's agent): if the server closed an
  // idle connection first, the client could pick it for its next request and see a spurious reset.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  const emulator = new EmulatorServer(resolved, store, server);
  try {
    server.listen(resolved.port, resolved.host);
    await once(server, 'listening');
  } catch (cause) {
    await store.backend.close();
    throw new TidewayError('OSS_EMULATOR_LISTEN_FAILED', `The OSS emulator could not listen on ${resolved.host}:${resolved.port}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
  const { port } = server.address() as AddressInfo;
  const host = resolved.host === '0.0.0.0' || resolved.host === '::' ? '127.0.0.1' : resolved.host;
  const credentials = [...resolved.credentials].map(([accessKeyId, accessKeySecret]) => ({ accessKeyId, accessKeySecret }));
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    credentials,
    region: resolved.region,
    journal: emulator.journal,
    storage: createStorageView(store),
    addFault: (rule) => emulator.faults.add(rule),
    clearFaults: () => emulator.faults.clear(),
    reset: () => emulator.reset(),
    close: () => emulator.close(),
  };
}

/** One signal shared by every in-flight request's timers: as many listeners as requests, by design. */
function lifetimeController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}
