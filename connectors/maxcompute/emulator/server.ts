import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { createDeflate } from 'node:zlib';
import { type Logger, silentLogger } from '../../../src/api/logger.js';
import { ArrowFrameWriter, DEFAULT_ARROW_CHUNK_SIZE } from '../codec/arrow-frame.js';
import { buildWireBatch, encodeArrowBatches } from '../codec/arrow-ipc.js';
import { RecordWriter } from '../codec/record-writer.js';
import { type OdpsColumn, toArrowSchema } from '../codec/types.js';
import type { RowValues } from '../codec/values.js';
import { checkRequestAuth } from './auth.js';
import { type FaultAction, FaultBook, type FaultEffect, type FaultRule } from './faults.js';
import { legacyRowMapper } from './legacy-calendar.js';
import { encodeMetricsSection, METRICS_MIN_TUNNEL_VERSION } from './metrics.js';
import { canonicalPartition, PartitionSpecError } from './partition-spec.js';
import { buildTableVersion, type PartitionData, type TableFixture, type TableVersion } from './tables.js';

/** Options of {@link startMaxComputeEmulator}. */
export interface MaxComputeEmulatorOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /** Tables by project name. */
  projects?: Readonly<Record<string, readonly TableFixture[]>>;
  /** Tables of the default project (`project`). */
  tables?: readonly TableFixture[];
  /** The default project. @default 'emulator' */
  project?: string;
  /** @default 'emulator-access-id' */
  accessId?: string;
  /** @default 'emulator-access-key' */
  accessKey?: string;
  /** More accepted access ids with their secrets. */
  credentials?: Readonly<Record<string, string>>;
  /** Lifetime of a download session. @default 86400000 (24 h) */
  sessionTtlMs?: number;
  /** How long an async-mode session stays `initiating`. @default 100 */
  asyncInitMs?: number;
  latency?: EmulatorLatency;
  /** Rows per Arrow record batch on the wire. @default 4096 */
  arrowBatchRows?: number;
  /** Arrow framing chunk size. @default 65536 */
  arrowChunkSize?: number;
  /** Honour `Accept-Encoding: deflate`. @default true */
  compression?: boolean;
  /**
   * Accept download ids this instance did not create, rebuilding the session from the table's current
   * version. Only sound when tables never change (the embedded demo): readers in another thread or
   * process, each with its own emulator, can then attach to a session the planner created.
   */
  portableSessions?: boolean;
  /**
   * Keep rows encoded after their first read (record and Arrow format) and serve later reads from memory,
   * as a real service serves stored data. For benchmarks of the client; memory grows with the rows read.
   */
  encodedRowCache?: boolean;
  /** Directory that relative CSV / JSONL fixture paths are resolved against. */
  baseDir?: string;
  faults?: readonly FaultRule[];
  /**
   * Honour `odps-tunnel-date-transform: v1` (answer `true` and send proleptic Gregorian DATETIMEs). False
   * acts as a service that predates it: no answer, and DATETIME values before 1582-10-15 on the legacy
   * hybrid calendar in record streams. @default true
   */
  dateTransform?: boolean;
  /**
   * Largest difference between a request's Date header and the emulator's clock; beyond it the request is
   * refused with ODPS-0410031 (Authentication request expired), as the service refuses it. The service's
   * exact window is not published; 15 minutes is the Alibaba Cloud norm (OSS's MaxAllowedSkewMilliseconds).
   * @default 900000
   */
  maxClockSkewMs?: number;
  /** How far the emulator's clock runs ahead of this machine's (negative: behind); for tests of clock skew. @default 0 */
  clockOffsetMs?: number;
  logger?: Logger;
}

/** Assumed service latencies (not measured figures). */
export interface EmulatorLatency {
  /** Delay before a session is created (sync mode) or becomes ready (async mode). */
  createMs?: number;
  /** Extra creation delay per million rows of the snapshot. */
  createMsPerMillionRows?: number;
  /** Delay before the first byte of a data response. */
  firstByteMs?: number;
  /** Throughput cap of one data response. */
  bytesPerSecond?: number;
}

/** One handled request, for tests to assert on. */
export interface JournalEntry {
  seq: number;
  requestId: string;
  action: FaultAction | 'unknown';
  method: string;
  project?: string;
  table?: string;
  partition?: string;
  session?: string;
  start?: number;
  count?: number;
  columns?: string[];
  format?: 'record' | 'arrow';
  /** The `x-odps-tunnel-version` the client sent (record reads from version 6 on end with a metrics section). */
  tunnelVersion?: number;
  /** 1-based attempt number of this action on this table. */
  attempt: number;
  status: number;
  /** The ODPS error code, for error answers. */
  code?: string;
  /** How the body ended: `ok`, or which fault cut it short. */
  outcome: 'ok' | 'error' | 'disconnected' | 'early_eof' | 'corrupted' | 'client_closed';
  faults: string[];
  rowsSent?: number;
  bytesSent?: number;
  elapsedMs: number;
}

/** A running emulator. */
export interface MaxComputeEmulator {
  /** The ODPS endpoint (`http://127.0.0.1:<port>/api`). */
  readonly endpoint: string;
  /** The Tunnel endpoint (`http://127.0.0.1:<port>`). */
  readonly tunnelEndpoint: string;
  readonly project: string;
  readonly accessId: string;
  readonly accessKey: string;
  /** Every request handled so far (live array). */
  readonly journal: readonly JournalEntry[];
  clearJournal(): void;
  addFault(rule: FaultRule): void;
  /** Removes every fault rule and resets the attempt counters. */
  clearFaults(): void;
  /** Adds or replaces a table. Sessions created before keep reading the version they snapshotted. */
  setTable(table: TableFixture, project?: string): void;
  dropTable(name: string, project?: string): void;
  /** Expires a session now (its next request gets NoSuchDownload). */
  expireSession(id: string): void;
  /**
   * Makes create / reload answers carry this Status text (e.g. `EXPIRED`, or pyodps's spelling `CLOSES`)
   * instead of `normal`; reads of a session whose status says expired or closed get NoSuchDownload.
   */
  setSessionStatus(id: string, status: string): void;
  /** Ids of the sessions created so far. */
  sessionIds(): string[];
  close(): Promise<void>;
}

interface Session {
  id: string;
  project: string;
  table: TableVersion;
  partition: string;
  data: PartitionData;
  createdAt: number;
  readyAt: number;
  expiresAt: number;
  /** Status text that overrides the computed one (see `setSessionStatus`). */
  statusText?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const CHUNK_BYTES = 64 * 1024;
/** A field number no table has, followed by a value: what a malformed record looks like on the wire. */
const MALFORMED = Uint8Array.of(0x80, 0x7d, 0x00, 0xff, 0xff);

/**
 * Starts a protocol-faithful MaxCompute Tunnel emulator on node:http: the service's endpoints, ODPS V2
 * signature checks, JSON errors, download sessions with snapshot semantics, async preparation and expiry,
 * the protobuf record and Arrow wire formats, plus injectable faults, latency and a request journal.
 */
export async function startMaxComputeEmulator(options: MaxComputeEmulatorOptions = {}): Promise<MaxComputeEmulator> {
  const defaultProject = options.project ?? 'emulator';
  const accessId = options.accessId ?? 'emulator-access-id';
  const accessKey = options.accessKey ?? 'emulator-access-key';
  const secrets = new Map<string, string>([[accessId, accessKey], ...Object.entries(options.credentials ?? {})]);
  const ttl = options.sessionTtlMs ?? 86_400_000;
  const asyncInitMs = options.asyncInitMs ?? 100;
  const latency = options.latency ?? {};
  const arrowBatchRows = options.arrowBatchRows ?? 4096;
  const arrowChunkSize = options.arrowChunkSize ?? DEFAULT_ARROW_CHUNK_SIZE;
  const compression = options.compression ?? true;
  const baseDir = options.baseDir ?? process.cwd();
  const logger = options.logger ?? silentLogger;
  const maxClockSkewMs = options.maxClockSkewMs ?? 900_000;
  /** The client asked for proleptic Gregorian DATETIME values and this service knows the transform. */
  const transformsDates = (req: IncomingMessage): boolean =>
    (options.dateTransform ?? true) && String(req.headers['odps-tunnel-date-transform'] ?? '').trim().toLowerCase() === 'v1';

  const projects = new Map<string, Map<string, TableVersion>>();
  const setTable = (table: TableFixture, project = defaultProject) => {
    const key = project.toLowerCase();
    if (!projects.has(key)) projects.set(key, new Map());
    projects.get(key)!.set(table.name.toLowerCase(), buildTableVersion(table, baseDir));
  };
  projects.set(defaultProject.toLowerCase(), new Map());
  for (const table of options.tables ?? []) setTable(table);
  for (const [project, tables] of Object.entries(options.projects ?? {})) {
    if (!projects.has(project.toLowerCase())) projects.set(project.toLowerCase(), new Map());
    for (const table of tables) setTable(table, project);
  }

  const sessions = new Map<string, Session>();
  const encodedCache = new WeakMap<PartitionData, Map<string, EncodedRows>>();
  const cacheFor = (data: PartitionData, columns: readonly OdpsColumn[], legacyDates: boolean): EncodedRows | undefined => {
    if (!options.encodedRowCache) return undefined;
    let byColumns = encodedCache.get(data);
    if (!byColumns) encodedCache.set(data, (byColumns = new Map()));
    const key = `${legacyDates ? 'legacy:' : ''}${columns.map((c) => c.name).join(',')}`;
    let entry = byColumns.get(key);
    if (!entry) byColumns.set(key, (entry = { records: [], crcs: new Uint32Array(data.rowCount), arrow: new Map(), writer: new RecordWriter(columns, { capacity: 4096 }) }));
    return entry;
  };
  const faults = new FaultBook();
  for (const rule of options.faults ?? []) faults.add(rule);
  const journal: JournalEntry[] = [];
  let seq = 0;
  let hostPort = '';
  const open = new Set<ServerResponse>();

  const server = http.createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handle(req, res).catch((error) => {
      logger.error('emulator request failed', { error: (error as Error).message });
      if (!res.headersSent) sendError(res, new HttpError(500, 'InternalServerError', 'the emulator failed to handle the request'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 300_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomBytes(8).toString('hex');
    res.setHeader('x-odps-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://emulator');
    const query = [...url.searchParams.entries()];
    const params = new Map(query);
    const isApi = url.pathname === '/api' || url.pathname.startsWith('/api/');
    const path = decodeURIComponent(url.pathname);
    const tunnelVersion = Number(req.headers['x-odps-tunnel-version'] ?? 0);
    const entry: JournalEntry = {
      seq: ++seq,
      requestId,
      action: 'unknown',
      method: req.method ?? 'GET',
      attempt: 0,
      status: 200,
      outcome: 'ok',
      faults: [],
      elapsedMs: 0,
      ...(Number.isInteger(tunnelVersion) && tunnelVersion > 0 ? { tunnelVersion } : {}),
    };
    try {
      const auth = checkRequestAuth(
        { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headersDistinct },
        { secretOf: (id) => secrets.get(id), basePath: isApi ? '/api' : '', maxClockSkewMs, now: Date.now() + (options.clockOffsetMs ?? 0) },
      );
      const segments = (isApi ? path.slice(4) : path).split('/').filter((s) => s !== '');
      const route = routeOf(req.method ?? 'GET', segments, params);
      entry.action = route.action;
      entry.project = route.project;
      entry.table = route.table;
      entry.session = params.get('downloadid');
      const asked = /^\((\d+),(\d+)\)$/.exec((params.get('rowrange') ?? '').replace(/\s/g, ''));
      if (asked) {
        entry.start = Number(asked[1]);
        entry.count = Number(asked[2]);
      }
      if (!auth.ok) throw new HttpError(auth.status, auth.code, auth.message);
      if (route.action === 'unknown') throw new HttpError(404, 'NoSuchObject', `no such resource: ${req.method} ${path}`);
      const matched = faults.match(route.action, route.table);
      entry.attempt = matched.attempt;
      entry.faults = matched.effects.map((e) => e.type);
      for (const effect of matched.effects) {
        if (effect.type === 'delay') await delay(effect.ms);
        if (effect.type === 'http_error') {
          const headers: Record<string, string> = effect.retryAfterSeconds !== undefined ? { 'retry-after': String(effect.retryAfterSeconds) } : {};
          const code = effect.code ?? (effect.status === 429 ? 'FlowExceeded' : effect.status === 503 ? 'ServiceUnavailable' : 'InternalServerError');
          throw new HttpError(effect.status, code, effect.message ?? `injected ${effect.status}`, headers);
        }
        if (effect.type === 'expire_session') {
          const id = params.get('downloadid');
          const session = id ? sessions.get(id) : undefined;
          if (session) session.expiresAt = 0;
        }
      }
      const project = projects.get(route.project.toLowerCase());
      if (!project) throw new HttpError(404, 'NoSuchProject', `project ${route.project} does not exist`);
      if (route.action === 'service') {
        send(res, 200, 'text/plain', hostPort);
        return;
      }
      const table = project.get(route.table!.toLowerCase());
      if (!table) throw new HttpError(404, 'NoSuchTable', `table ${route.project}.${route.table} does not exist`);
      const partition = partitionOfRequest(params.get('partition'), table);
      entry.partition = partition || undefined;
      if (route.action === 'create') {
        const data = partitionOf(table, partition, route.project);
        const createDelay = (latency.createMs ?? 0) + ((latency.createMsPerMillionRows ?? 0) * data.rowCount) / 1e6;
        const asyncMode = params.get('asyncmode') === 'true';
        if (!asyncMode && createDelay > 0) await delay(createDelay);
        const now = Date.now();
        const id = newSessionId(route.project, table.name, partition, options.portableSessions ?? false);
        const session: Session = {
          id,
          project: route.project,
          table,
          partition,
          data,
          createdAt: now,
          readyAt: asyncMode ? now + Math.max(asyncInitMs, createDelay) : now,
          expiresAt: now + ttl,
        };
        sessions.set(id, session);
        entry.session = id;
        if (transformsDates(req)) res.setHeader('odps-tunnel-date-transform', 'true');
        send(res, 201, 'application/json', JSON.stringify(sessionJson(session)));
        return;
      }
      const id = params.get('downloadid') ?? '';
      entry.session = id;
      const session = findSession(id, route.project, table, partition);
      if (route.action === 'reload') {
        if (transformsDates(req)) res.setHeader('odps-tunnel-date-transform', 'true');
        send(res, 200, 'application/json', JSON.stringify(sessionJson(session)));
        return;
      }
      if (session.statusText !== undefined && /^(expired|closed|closes)$/i.test(session.statusText.trim())) {
        throw new HttpError(404, 'NoSuchDownload', `download session ${id} is ${session.statusText.toLowerCase()}`);
      }
      if (Date.now() < session.readyAt) throw new HttpError(400, 'InvalidStatus', `download session ${id} is still initiating`);
      const range = /^\((\d+),(\d+)\)$/.exec((params.get('rowrange') ?? '').replace(/\s/g, ''));
      if (!range) throw new HttpError(400, 'InvalidRowRange', `rowrange "${params.get('rowrange') ?? ''}" is not (start,count)`);
      const start = Number(range[1]);
      const count = Number(range[2]);
      entry.start = start;
      entry.count = count;
      if (start + count > session.data.rowCount) {
        throw new HttpError(400, 'InvalidRowRange', `rowrange (${start},${count}) exceeds RecordCount ${session.data.rowCount}`);
      }
      const columns = selectColumns(session.table, params.get('columns'));
      entry.columns = columns.map((c) => c.name);
      const format = params.has('arrow') ? 'arrow' : 'record';
      entry.format = format;
      await streamRows(req, res, session, columns, start, count, format, matched.effects, entry);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      entry.status = error.status;
      entry.code = error.code;
      entry.outcome = 'error';
      sendError(res, error);
    } finally {
      entry.elapsedMs = performance.now() - started;
      if (entry.status === 200 && res.statusCode !== 200) entry.status = res.statusCode;
      journal.push(entry);
    }
  }

  function routeOf(method: string, segments: string[], params: Map<string, string>): { action: FaultAction | 'unknown'; project: string; table?: string } {
    if (segments[0] !== 'projects' || segments.length < 3) return { action: 'unknown', project: '' };
    const project = segments[1]!;
    if (segments.length === 3 && segments[2] === 'tunnel' && method === 'GET' && params.has('service')) return { action: 'service', project };
    const tableAt = segments[2] === 'schemas' ? 5 : 3;
    if (segments.length !== tableAt + 1 || segments[tableAt - 1] !== 'tables') return { action: 'unknown', project };
    const table = segments[tableAt]!;
    if (method === 'POST' && params.has('downloads')) return { action: 'create', project, table };
    if (method === 'GET' && params.has('downloadid')) return { action: params.has('data') ? 'read' : 'reload', project, table };
    return { action: 'unknown', project, table };
  }

  function partitionOfRequest(spec: string | undefined, table: TableVersion): string {
    try {
      return canonicalPartition(spec, table.partitionKeys.map((k) => k.name));
    } catch (error) {
      if (!(error instanceof PartitionSpecError)) throw error;
      throw new HttpError(400, 'InvalidPartitionSpec', `partition spec "${spec}" is not key=value[,key=value]: ${error.message}`);
    }
  }

  function partitionOf(table: TableVersion, partition: string, project: string): PartitionData {
    if (table.partitionKeys.length === 0) {
      if (partition) throw new HttpError(404, 'NoSuchPartition', `table ${project}.${table.name} is not partitioned, but partition ${partition} was given`);
      return table.partitions.get('')!;
    }
    if (!partition) {
      throw new HttpError(404, 'NoSuchPartition', `table ${project}.${table.name} is partitioned by ${table.partitionKeys.map((k) => k.name).join(', ')}; name a partition`);
    }
    const data = table.partitions.get(partition);
    if (!data) throw new HttpError(404, 'NoSuchPartition', `partition ${partition} of ${project}.${table.name} does not exist`);
    return data;
  }

  function findSession(id: string, project: string, table: TableVersion, partition: string): Session {
    let session = sessions.get(id);
    if (!session && options.portableSessions) {
      const origin = portableOrigin(id);
      if (origin && origin.project.toLowerCase() === project.toLowerCase() && origin.table.toLowerCase() === table.name.toLowerCase()) {
        const data = table.partitions.get(origin.partition);
        if (data) {
          const now = Date.now();
          session = { id, project, table, partition: origin.partition, data, createdAt: now, readyAt: now, expiresAt: now + ttl };
          sessions.set(id, session);
        }
      }
    }
    if (
      !session ||
      Date.now() >= session.expiresAt ||
      session.project.toLowerCase() !== project.toLowerCase() ||
      session.table.name.toLowerCase() !== table.name.toLowerCase() ||
      (partition !== '' && partition !== session.partition)
    ) {
      throw new HttpError(404, 'NoSuchDownload', `download session ${id} does not exist or has expired`);
    }
    return session;
  }

  function selectColumns(table: TableVersion, list: string | undefined): OdpsColumn[] {
    if (list === undefined || list.trim() === '') return [...table.columns];
    return list.split(',').map((name) => {
      const column = table.columns.find((c) => c.name.toLowerCase() === name.trim().toLowerCase());
      if (!column) throw new HttpError(400, 'InvalidColumn', `column ${name.trim()} does not exist in ${table.name}`);
      return column;
    });
  }

  function sessionJson(session: Session) {
    const columnJson = (c: OdpsColumn) => ({ name: c.name, type: c.type, nullable: c.nullable ?? true, comment: c.comment ?? '', column_id: '', default_value: '' });
    return {
      DownloadID: session.id,
      Initiated: new Date(session.createdAt).toUTCString(),
      Owner: `ALIYUN$${accessId}`,
      RecordCount: session.data.rowCount,
      Status: session.statusText ?? (Date.now() < session.readyAt ? 'initiating' : 'normal'),
      Schema: {
        IsVirtualView: false,
        columns: session.table.columns.map(columnJson),
        partitionKeys: session.table.partitionKeys.map(columnJson),
      },
      QuotaName: '',
      SupportReadByRawSize: false,
    };
  }

  async function streamRows(
    req: IncomingMessage,
    res: ServerResponse,
    session: Session,
    columns: OdpsColumn[],
    start: number,
    count: number,
    format: 'record' | 'arrow',
    effects: FaultEffect[],
    entry: JournalEntry,
  ): Promise<void> {
    const startedAt = performance.now();
    const plan = planFaults(effects);
    if (latency.firstByteMs) await delay(latency.firstByteMs);
    const deflate = compression && /\bdeflate\b/.test(String(req.headers['accept-encoding'] ?? ''));
    res.statusCode = 200;
    res.setHeader('content-type', 'application/octet-stream');
    if (deflate) res.setHeader('content-encoding', 'deflate');
    const sink = new BodySink(res, deflate, latency.bytesPerSecond, plan.disconnectAfterBytes);
    const positions = columns.map((c) => session.table.columns.indexOf(c));
    const identity = positions.length === session.table.columns.length && positions.every((p, i) => p === i);
    // A client that did not ask for the date transform gets old DATETIME values on the legacy calendar.
    const legacy = format === 'record' && !transformsDates(req) ? legacyRowMapper(columns) : undefined;
    const projected = (i: number): RowValues => {
      const row = session.data.row(i);
      if (identity || !Array.isArray(row)) return row;
      return positions.map((p) => (row as readonly unknown[])[p]);
    };
    const rowAt = legacy ? (i: number) => legacy(projected(i)) : projected;
    const end = plan.earlyEofRows !== undefined ? Math.min(count, plan.earlyEofRows) : count;
    const cache = cacheFor(session.data, columns, legacy !== undefined);
    let sent = 0;
    try {
      if (format === 'record') {
        const writer = new RecordWriter(columns, { capacity: CHUNK_BYTES + 4096 });
        for (; sent < end; sent++) {
          if (sent === plan.disconnectAfterRows) {
            await sink.write(writer.take());
            await sink.cut();
          }
          if (sent === plan.malformedAt) {
            writer.writeRaw(MALFORMED);
            await sink.write(writer.take());
            entry.outcome = 'corrupted';
            await sink.end();
            return;
          }
          if (cache && sent !== plan.crcAt) {
            const i = start + sent;
            let record = cache.records[i];
            if (!record) {
              cache.writer.write(rowAt(i));
              cache.crcs[i] = cache.writer.lastRecordCrc;
              record = cache.records[i] = Uint8Array.prototype.slice.call(cache.writer.take());
            }
            writer.writeEncoded(record, cache.crcs[i]!);
          } else {
            writer.write(rowAt(start + sent), { corruptCrc: sent === plan.crcAt });
          }
          if (writer.pendingBytes >= CHUNK_BYTES) await sink.write(writer.take());
        }
        if (sent === plan.disconnectAfterRows) {
          await sink.write(writer.take());
          await sink.cut();
        }
        // Like the service, a version-6 client gets the metrics section between the count and the checksum.
        const metrics =
          (entry.tunnelVersion ?? 0) >= METRICS_MIN_TUNNEL_VERSION
            ? encodeMetricsSection({ rows: sent, bytes: sink.bytes + writer.pendingBytes, serverTotalCostMs: Math.round(performance.now() - startedAt) })
            : undefined;
        writer.finish(metrics ? { beforeChecksum: metrics } : {});
        await sink.write(writer.take());
      } else {
        const frames = new ArrowFrameWriter(arrowChunkSize);
        const wireSchema = toArrowSchema(columns, { wire: true });
        const stops = [plan.disconnectAfterRows, plan.malformedAt, plan.crcAt].filter((v): v is number => v !== undefined);
        while (sent < end) {
          if (sent === plan.disconnectAfterRows) await sink.cut();
          if (sent === plan.malformedAt) {
            for (const piece of frames.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, ...new Uint8Array(16).fill(0xab)))) await sink.write(piece);
            for (const piece of frames.end()) await sink.write(piece);
            entry.outcome = 'corrupted';
            await sink.end();
            return;
          }
          let n = Math.min(arrowBatchRows, end - sent);
          for (const stop of stops) if (stop > sent && stop < sent + n) n = stop - sent;
          const cacheKey = `${start + sent}+${n}`;
          let payload = cache?.arrow.get(cacheKey);
          if (!payload || sent === plan.crcAt) {
            const rows: RowValues[] = new Array(n);
            for (let k = 0; k < n; k++) rows[k] = rowAt(start + sent + k);
            payload = encodeArrowBatches(wireSchema, [buildWireBatch(columns, rows)]);
            if (cache && sent !== plan.crcAt) cache.arrow.set(cacheKey, payload);
          }
          const pieces = frames.write(payload);
          if (sent === plan.crcAt) payload[payload.length >>> 1]! ^= 0x01;
          for (const piece of pieces) await sink.write(piece);
          sent += n;
        }
        if (sent === plan.disconnectAfterRows) await sink.cut();
        for (const piece of frames.end()) await sink.write(piece);
      }
      if (plan.crcAt !== undefined && plan.crcAt < end) entry.outcome = 'corrupted';
      else if (plan.earlyEofRows !== undefined && end < count) entry.outcome = 'early_eof';
      await sink.end();
    } catch (error) {
      if (error === DISCONNECTED) entry.outcome = 'disconnected';
      else if (error === CLIENT_GONE) entry.outcome = 'client_closed';
      else throw error;
    } finally {
      entry.rowsSent = sent;
      entry.bytesSent = sink.bytes;
    }
  }

  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  hostPort = `${address.address}:${address.port}`;
  const base = `http://${hostPort}`;
  let closing: Promise<void> | undefined;

  return {
    endpoint: `${base}/api`,
    tunnelEndpoint: base,
    project: defaultProject,
    accessId,
    accessKey,
    journal,
    clearJournal: () => {
      journal.length = 0;
    },
    addFault: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    setTable,
    dropTable: (name, project = defaultProject) => {
      projects.get(project.toLowerCase())?.delete(name.toLowerCase());
    },
    expireSession: (id) => {
      const session = sessions.get(id);
      if (session) session.expiresAt = 0;
    },
    setSessionStatus: (id, status) => {
      const session = sessions.get(id);
      if (session) session.statusText = status;
    },
    sessionIds: () => [...sessions.keys()],
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Rows kept encoded for one partition and column list (see `encodedRowCache`). */
interface EncodedRows {
  records: Uint8Array[];
  crcs: Uint32Array;
  /** Arrow payloads by `start+rows`. */
  arrow: Map<string, Uint8Array>;
  writer: RecordWriter;
}

interface FaultPlan {
  disconnectAfterRows?: number;
  disconnectAfterBytes?: number;
  earlyEofRows?: number;
  crcAt?: number;
  malformedAt?: number;
}

function planFaults(effects: readonly FaultEffect[]): FaultPlan {
  const plan: FaultPlan = {};
  for (const effect of effects) {
    switch (effect.type) {
      case 'disconnect_after_rows':
        plan.disconnectAfterRows = effect.rows;
        break;
      case 'disconnect_after_bytes':
        plan.disconnectAfterBytes = effect.bytes;
        break;
      case 'early_eof':
        plan.earlyEofRows = effect.rows;
        break;
      case 'crc_mismatch':
        plan.crcAt = effect.afterRows ?? 0;
        break;
      case 'malformed_record':
        plan.malformedAt = effect.afterRows ?? 0;
        break;
      default:
        break;
    }
  }
  return plan;
}

const DISCONNECTED = new Error('disconnected by a fault');
const CLIENT_GONE = new Error('the client closed the connection');

/** Writes a response body with backpressure, an optional throughput cap and an optional cut-off. */
class BodySink {
  bytes = 0;
  private readonly out: Writable;
  private readonly started = performance.now();
  private gone = false;

  constructor(
    private readonly res: ServerResponse,
    deflate: boolean,
    private readonly bytesPerSecond: number | undefined,
    private readonly cutAfterBytes: number | undefined,
  ) {
    if (deflate) {
      const z = createDeflate();
      z.pipe(res);
      this.out = z;
    } else {
      this.out = res;
    }
    res.on('close', () => {
      this.gone = true;
    });
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    if (this.gone) throw CLIENT_GONE;
    if (this.cutAfterBytes !== undefined && this.bytes + chunk.length >= this.cutAfterBytes) {
      const part = chunk.subarray(0, this.cutAfterBytes - this.bytes);
      this.bytes += part.length;
      await this.flushWrite(part);
      await this.cut();
    }
    this.bytes += chunk.length;
    if (!this.out.write(chunk)) await this.drained();
    if (this.bytesPerSecond) {
      const due = (this.bytes / this.bytesPerSecond) * 1000 - (performance.now() - this.started);
      if (due > 1) await delay(due);
    }
  }

  /** Cuts the connection after what was written so far has reached the socket. */
  async cut(): Promise<never> {
    await this.flushWrite(new Uint8Array(0));
    this.res.socket?.destroy();
    this.res.destroy();
    throw DISCONNECTED;
  }

  async end(): Promise<void> {
    if (this.gone) throw CLIENT_GONE;
    this.out.end();
    if (!this.res.writableFinished) await once(this.res, 'finish').catch(() => undefined);
  }

  private flushWrite(chunk: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.gone) {
        resolve();
        return;
      }
      this.out.write(chunk, () => resolve());
      if (this.out !== this.res) (this.out as unknown as { flush(cb: () => void): void }).flush(() => undefined);
    });
  }

  private async drained(): Promise<void> {
    if (this.gone) throw CLIENT_GONE;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.out.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.out.on('drain', done);
      this.res.on('close', done);
    });
    if (this.gone) throw CLIENT_GONE;
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
  const requestId = String(res.getHeader('x-odps-request-id') ?? '');
  send(res, error.status, 'application/json', JSON.stringify({ Code: error.code, Message: error.message, RequestId: requestId, HostId: 'emulator' }));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Session ids look like the service's (hex). Portable ones carry their origin, base64url-encoded, ahead
 * of the random part.
 */
function newSessionId(project: string, table: string, partition: string, portable: boolean): string {
  const random = `${Date.now().toString(16)}${randomBytes(8).toString('hex')}`;
  if (!portable) return random;
  return `${Buffer.from(JSON.stringify([project, table, partition])).toString('base64url')}.${random}`;
}

function portableOrigin(id: string): { project: string; table: string; partition: string } | undefined {
  const dot = id.indexOf('.');
  if (dot < 0) return undefined;
  try {
    const [project, table, partition] = JSON.parse(Buffer.from(id.slice(0, dot), 'base64url').toString('utf8')) as string[];
    if (typeof project !== 'string' || typeof table !== 'string' || typeof partition !== 'string') return undefined;
    return { project, table, partition };
  } catch {
    return undefined;
  }
}
