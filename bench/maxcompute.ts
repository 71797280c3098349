/**
 * MaxCompute client benchmarks (figures, not pass/fail). A 10-column table of ~1 KB rows:
 * 1. raw decode: the codec alone over bytes already in memory (record: protobuf + CRC32C into Arrow;
 *    arrow: unframing + CRC + IPC), the baseline;
 * 2. client: TunnelClient reading the whole table over HTTP from the emulator, which runs in a child
 *    process and serves rows it keeps encoded (so the figure is the client's, not the emulator's encoder).
 *    Besides wall-clock rows/s it prints rows per CPU second of this process (`process.cpuUsage`: the
 *    reader's thread plus V8's GC helpers and libuv's threads; the emulator's own CPU is in its process).
 *    The machine is shared: while the reader waits for bytes or for a core it costs nothing, so CPU time is
 *    what one reader needs whatever else runs. (Event-loop utilisation would count the time the thread
 *    waits for a core as busy, so on a loaded machine it only repeats the wall clock.);
 * 3. transport: the same record body downloaded with node:http and with fetch, without decoding;
 * 4. framework: a `maxcompute -> blackhole` job run with `runJob` against the same emulator process, over a
 *    larger table (MC_BENCH_JOB_ROWS, default 1,000,000 rows) cut into splits, next to the raw client
 *    reading the same row ranges (one after the other, same chunk size) in the same run; the ratio
 *    framework/raw has a goal of >= 0.85. A job's rate is given two ways: over its whole run (`durationMs`:
 *    session creation, planning, worker start and the last checkpoint included) and from its first row
 *    (from the first to the last rows-read count that `onProgress` reported while rows were flowing, so
 *    start-up and the final checkpoint are left out). The raw ranges start their clock after the download
 *    session exists, so the "from first row" ratio is the like-for-like one. Both also get rows per CPU
 *    second of this process over their whole run (for the job: coordinator, checkpoints and sink included);
 * 5. scaling: the same job on worker threads at parallelism 1 and 2.
 * Goal: >= 235,000 rows/s per reader. Run: `npx tsx bench/maxcompute.ts` (or `npm run bench -- maxcompute`).
 * Figures are best of N (the machine may be shared); the load average is printed next to them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ArrowFrameReader, ArrowFrameWriter } from '../connectors/maxcompute/codec/arrow-frame.js';
import { buildWireBatch, encodeArrowBatches, readArrowPayload } from '../connectors/maxcompute/codec/arrow-ipc.js';
import { RecordStreamDecoder } from '../connectors/maxcompute/codec/record-reader.js';
import { RecordWriter } from '../connectors/maxcompute/codec/record-writer.js';
import { type OdpsColumn, toArrowSchema } from '../connectors/maxcompute/codec/types.js';
import type { RowValues } from '../connectors/maxcompute/codec/values.js';
import { TunnelClient } from '../connectors/maxcompute/client/tunnel-client.js';
import { authorization } from '../connectors/maxcompute/client/signing.js';
import { startMaxComputeEmulator } from '../connectors/maxcompute/emulator/index.js';
import { silentLogger } from '../src/api/logger.js';
import { runJob } from '../src/index.js';

export interface BenchLine {
  name: string;
  value: string;
  ratio?: string;
  goal?: string;
  /** The load average while the figure was taken (the machine may be shared). */
  load?: string;
}

const ROWS = Number(process.env.MC_BENCH_ROWS ?? 100_000);
/** Rows of the table the jobs read (the client figures read its first ROWS rows). */
const JOB_ROWS = Number(process.env.MC_BENCH_JOB_ROWS ?? 1_000_000);
const SPLIT_ROW = Number(process.env.MC_BENCH_SPLIT_ROW ?? 50_000);
const BATCH = 8192;
const GOAL = 235_000;
const RATIO_GOAL = 0.85;
/** Best of this many runs for each job figure. */
const JOB_RUNS = Number(process.env.MC_BENCH_JOB_RUNS ?? 3);

const COLUMNS: OdpsColumn[] = [
  { name: 'id', type: 'bigint' },
  { name: 'user_id', type: 'bigint' },
  { name: 'amount', type: 'double' },
  { name: 'quantity', type: 'int' },
  { name: 'status', type: 'string' },
  { name: 'city', type: 'string' },
  { name: 'created_at', type: 'datetime' },
  { name: 'paid', type: 'boolean' },
  { name: 'payload', type: 'string' },
  { name: 'tags', type: 'string' },
];
const TEXT = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. '.repeat(12);
const STATUS = ['created', 'paid', 'shipped', 'delivered'];

function row(i: number): RowValues {
  return [
    BigInt(i),
    BigInt((i * 7919) % 1_000_003),
    (i % 100_000) / 100,
    i % 50,
    STATUS[i % 4]!,
    `City-${i % 997}`,
    1_700_000_000_000 + i * 1000,
    i % 3 === 0,
    TEXT.substring(i % 97, (i % 97) + 880),
    `tag-${i % 13},tag-${i % 7}`,
  ];
}

function rate(rows: number, ms: number): number {
  return (rows / ms) * 1000;
}

function fmt(perSecond: number, unit = 'rows/s'): string {
  return `${Math.round(perSecond).toLocaleString('en-US')} ${unit}`;
}

/** Best of `runs` (the machine is shared: the best run is the least disturbed one). */
async function best(runs: number, once: () => Promise<number> | number): Promise<number> {
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, await once());
  return top;
}

function encodeRecordChunks(): { chunks: Uint8Array[]; bytes: number } {
  const writer = new RecordWriter(COLUMNS);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < ROWS; i++) {
    writer.write(row(i));
    if (writer.pendingBytes >= 65536) chunks.push(writer.take());
  }
  writer.finish();
  chunks.push(writer.take());
  return { chunks, bytes: chunks.reduce((n, c) => n + c.length, 0) };
}

function rawRecordDecode(chunks: Uint8Array[]): number {
  const started = performance.now();
  const decoder = new RecordStreamDecoder(COLUMNS, { batchCapacity: BATCH });
  let rows = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    while (decoder.decode(BATCH) >= BATCH) rows += decoder.takeBatch()!.numRows;
  }
  decoder.end();
  rows += decoder.takeBatch()?.numRows ?? 0;
  if (rows !== ROWS) throw new Error(`raw record decode read ${rows} rows`);
  return rate(rows, performance.now() - started);
}

function encodeArrowBody(): Uint8Array[] {
  const wire = toArrowSchema(COLUMNS, { wire: true });
  const frames = new ArrowFrameWriter();
  const out: Uint8Array[] = [];
  for (let start = 0; start < ROWS; start += 4096) {
    const rows = Array.from({ length: Math.min(4096, ROWS - start) }, (_, k) => row(start + k));
    out.push(...frames.write(encodeArrowBatches(wire, [buildWireBatch(COLUMNS, rows)])).map((p) => Uint8Array.prototype.slice.call(p)));
  }
  out.push(...frames.end());
  return out;
}

async function rawArrowDecode(body: Uint8Array[]): Promise<number> {
  const started = performance.now();
  const frames = new ArrowFrameReader();
  async function* payload() {
    for (const piece of body) yield* frames.push(piece);
    yield* frames.end();
  }
  let rows = 0;
  for await (const batch of readArrowPayload(COLUMNS, payload())) rows += batch.numRows;
  if (rows !== ROWS) throw new Error(`raw arrow decode read ${rows} rows`);
  return rate(rows, performance.now() - started);
}

interface EmulatorInfo {
  endpoint: string;
  tunnelEndpoint: string;
  project: string;
  accessId: string;
  accessKey: string;
}

/** The emulator, in its own process (its CPU time then stays out of the client's). */
function startEmulatorProcess(): Promise<{ info: EmulatorInfo; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, MC_BENCH_ROLE: 'emulator' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the emulator process exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve({
        info: JSON.parse(line) as EmulatorInfo,
        stop: async () => {
          child.removeAllListeners('exit');
          child.kill();
        },
      }),
    );
  });
}

/** Wall-clock rows/s and rows per CPU second of this process. */
interface Rates {
  wall: number;
  cpu: number;
}

/** Starts a wall clock and a CPU clock; the function it returns gives the rates for `rows`. */
function clocks(): (rows: number) => Rates {
  const started = performance.now();
  const cpu = process.cpuUsage();
  return (rows) => {
    const used = process.cpuUsage(cpu);
    return { wall: rate(rows, performance.now() - started), cpu: rate(rows, (used.user + used.system) / 1000) };
  };
}

async function clientRead(info: EmulatorInfo, format: 'record' | 'arrow'): Promise<Rates> {
  const client = new TunnelClient({ endpoint: info.endpoint, tunnelEndpoint: info.tunnelEndpoint, project: info.project, accessId: info.accessId, accessKey: info.accessKey });
  try {
    const session = await client.createDownloadSession('bench');
    const done = clocks();
    let rows = 0;
    for await (const batch of client.readRows(session, { start: 0, count: ROWS, format, batchRows: BATCH })) rows += batch.numRows;
    if (rows !== ROWS) throw new Error(`client read ${rows} rows`);
    return done(rows);
  } finally {
    client.close();
  }
}

async function bestRates(runs: number, once: () => Promise<Rates>): Promise<Rates> {
  const top = { wall: 0, cpu: 0 };
  for (let i = 0; i < runs; i++) {
    const r = await once();
    top.wall = Math.max(top.wall, r.wall);
    top.cpu = Math.max(top.cpu, r.cpu);
  }
  return top;
}

/** Bytes/s of one record-format body downloaded without decoding, by node:http or fetch. */
async function transfer(info: EmulatorInfo, how: 'node:http' | 'fetch'): Promise<number> {
  const client = new TunnelClient({ endpoint: info.endpoint, tunnelEndpoint: info.tunnelEndpoint, project: info.project, accessId: info.accessId, accessKey: info.accessKey });
  try {
    const session = await client.createDownloadSession('bench');
    const started = performance.now();
    let bytes = 0;
    if (how === 'node:http') {
      const response = await client.openDataStream(session, { start: 0, count: ROWS }, undefined, 'record', undefined);
      for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    } else {
      const query: [string, string][] = [
        ['downloadid', session.id],
        ['data', ''],
        ['rowrange', `(0,${ROWS})`],
      ];
      const path = '/projects/bench/tables/bench';
      const headers: Record<string, string> = { date: new Date().toUTCString(), 'x-odps-tunnel-version': '6' };
      headers.authorization = authorization(info.accessId, info.accessKey, { method: 'GET', path, query, headers });
      const url = `${info.tunnelEndpoint}${path}?downloadid=${session.id}&data&rowrange=${encodeURIComponent(`(0,${ROWS})`)}`;
      const response = await fetch(url, { headers });
      for await (const chunk of response.body!) bytes += chunk.length;
    }
    return rate(bytes, performance.now() - started);
  } finally {
    client.close();
  }
}

/** The one-minute load average, to print next to figures taken on a shared machine. */
function load(): string {
  return `load ${loadavg()[0]!.toFixed(1)}`;
}

/** The range of load averages seen over several runs. */
function loadRange(loads: readonly number[]): string {
  return `load ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`;
}

/** The raw client reading the job's split ranges one after the other, with the job's chunk size. */
async function rawRanges(info: EmulatorInfo, format: 'record' | 'arrow'): Promise<Rates> {
  const client = new TunnelClient({ endpoint: info.endpoint, tunnelEndpoint: info.tunnelEndpoint, project: info.project, accessId: info.accessId, accessKey: info.accessKey });
  try {
    const session = await client.createDownloadSession('bench');
    const done = clocks();
    let rows = 0;
    for (let start = 0; start < JOB_ROWS; start += SPLIT_ROW) {
      const reader = client.openReader(session, { start, count: Math.min(SPLIT_ROW, JOB_ROWS - start), format });
      for (let batch = await reader.read(BATCH); batch; batch = await reader.read(BATCH)) rows += batch.numRows;
      await reader.close();
    }
    if (rows !== JOB_ROWS) throw new Error(`raw range read got ${rows} rows`);
    return done(rows);
  } finally {
    client.close();
  }
}

/** A job's rows/s over its whole run and from its first row, and per CPU second over its whole run. */
interface JobRates {
  whole: number;
  fromFirstRow: number;
  cpu: number;
}

/**
 * Runs `maxcompute -> blackhole` over the whole table. "From first row" is the slope between the first and
 * the last rows-read count seen while rows flowed, each timed when it was first seen: pipelines report
 * their counts every 500 ms and `onProgress` polls every 10 ms, so both ends carry the same small delay.
 */
async function frameworkRead(
  info: EmulatorInfo,
  format: 'record' | 'arrow',
  parallelism: number,
  transport: 'in-process' | 'worker-threads',
): Promise<JobRates> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-mc-bench-'));
  const seen: { at: number; rows: number }[] = [];
  const began = performance.now();
  const done = clocks();
  try {
    const result = await runJob(
      {
        env: { name: 'mc-bench', parallelism, transport, checkpoint: { interval: '1s', dir } },
        source: [
          {
            type: 'maxcompute',
            endpoint: info.endpoint,
            tunnel_endpoint: info.tunnelEndpoint,
            project: info.project,
            access_id: info.accessId,
            access_key: info.accessKey,
            table_name: 'bench',
            format,
            split_row: SPLIT_ROW,
            chunk_rows: BATCH,
          },
        ],
        sink: [{ type: 'blackhole' }],
      },
      {
        logger: silentLogger,
        progressIntervalMs: 10,
        onProgress: (progress) => {
          const last = seen[seen.length - 1];
          if (progress.rowsRead !== (last?.rows ?? 0)) seen.push({ at: performance.now() - began, rows: progress.rowsRead });
        },
      },
    );
    if (result.status !== 'finished' || result.rowsRead !== JOB_ROWS) throw new Error(`bench job ${result.status} after ${result.rowsRead} rows: ${result.error?.message}`);
    const flowing = seen.filter((s) => s.rows < JOB_ROWS);
    const first = flowing[0];
    const last = flowing[flowing.length - 1];
    // Too short a job for two reports while rows flowed: fall back to the whole run.
    const fromFirstRow = first && last && last !== first ? rate(last.rows - first.rows, last.at - first.at) : rate(JOB_ROWS, result.durationMs);
    return { whole: rate(JOB_ROWS, result.durationMs), fromFirstRow, cpu: done(JOB_ROWS).cpu };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bestOf(values: readonly JobRates[]): JobRates {
  return {
    whole: Math.max(...values.map((v) => v.whole)),
    fromFirstRow: Math.max(...values.map((v) => v.fromFirstRow)),
    cpu: Math.max(...values.map((v) => v.cpu)),
  };
}

/** Framework vs raw client over the same ranges (interleaved runs), then worker threads at parallelism 1 and 2. */
async function benchJobs(info: EmulatorInfo, lines: BenchLine[]): Promise<void> {
  const splits = Math.ceil(JOB_ROWS / SPLIT_ROW);
  lines.push({ name: `jobs: ${JOB_ROWS.toLocaleString('en-US')} rows, split_row ${SPLIT_ROW.toLocaleString('en-US')}, chunk_rows ${BATCH}`, value: `${splits} splits` });
  for (const format of ['record', 'arrow'] as const) {
    // The first pass also fills the emulator's cache of encoded rows for these ranges.
    await rawRanges(info, format);
    await frameworkRead(info, format, 1, 'in-process');
    const raw: Rates[] = [];
    const job: JobRates[] = [];
    const loads: number[] = [];
    for (let i = 0; i < JOB_RUNS; i++) {
      raw.push(await rawRanges(info, format));
      job.push(await frameworkRead(info, format, 1, 'in-process'));
      loads.push(loadavg()[0]!);
    }
    const r = Math.max(...raw.map((x) => x.wall));
    const rCpu = Math.max(...raw.map((x) => x.cpu));
    const j = bestOf(job);
    const during = loadRange(loads);
    lines.push({ name: `raw client, ${format}, the job's ranges in turn`, value: fmt(r), goal: `>= ${fmt(GOAL)}`, load: during });
    lines.push({
      name: `job maxcompute -> blackhole, ${format}, 1 reader, from first row`,
      value: fmt(j.fromFirstRow),
      ratio: `${(j.fromFirstRow / r).toFixed(2)} of raw`,
      goal: `>= ${RATIO_GOAL} of raw`,
      load: during,
    });
    lines.push({ name: `job maxcompute -> blackhole, ${format}, 1 reader, whole run`, value: fmt(j.whole), ratio: `${(j.whole / r).toFixed(2)} of raw`, load: during });
    lines.push({ name: `raw client, ${format}, the job's ranges, per CPU second`, value: fmt(rCpu), load: during });
    lines.push({ name: `job, ${format}, 1 reader, per CPU second (whole run)`, value: fmt(j.cpu), ratio: `${(j.cpu / rCpu).toFixed(2)} of raw`, load: during });
  }
  for (const format of ['record', 'arrow'] as const) {
    const p1: JobRates[] = [];
    const p2: JobRates[] = [];
    const loads: number[] = [];
    for (let i = 0; i < JOB_RUNS; i++) {
      p1.push(await frameworkRead(info, format, 1, 'worker-threads'));
      p2.push(await frameworkRead(info, format, 2, 'worker-threads'));
      loads.push(loadavg()[0]!);
    }
    const one = bestOf(p1);
    const two = bestOf(p2);
    const during = loadRange(loads);
    lines.push({ name: `job, ${format}, worker threads, parallelism 1, from first row`, value: fmt(one.fromFirstRow), load: during });
    lines.push({
      name: `job, ${format}, worker threads, parallelism 2, from first row`,
      value: fmt(two.fromFirstRow),
      ratio: `${(two.fromFirstRow / one.fromFirstRow).toFixed(2)} of parallelism 1`,
      load: during,
    });
    lines.push({ name: `job, ${format}, worker threads, parallelism 1, whole run`, value: fmt(one.whole), load: during });
    lines.push({ name: `job, ${format}, worker threads, parallelism 2, whole run`, value: fmt(two.whole), ratio: `${(two.whole / one.whole).toFixed(2)} of parallelism 1`, load: during });
  }
}

/** Runs every MaxCompute benchmark and returns its lines. */
export async function benchMaxCompute(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const { chunks, bytes } = encodeRecordChunks();
  const rowBytes = bytes / ROWS;
  const rawRecord = await best(3, () => rawRecordDecode(chunks));
  lines.push({ name: `raw record decode (${COLUMNS.length} columns, ${Math.round(rowBytes)} B/row)`, value: fmt(rawRecord), goal: `>= ${fmt(GOAL)}`, load: load() });
  lines.push({ name: 'raw record decode throughput', value: fmt((rawRecord * rowBytes) / 1e6, 'MB/s') });
  const arrowBody = encodeArrowBody();
  const rawArrow = await best(3, () => rawArrowDecode(arrowBody));
  lines.push({ name: 'raw arrow decode (unframe + CRC + IPC)', value: fmt(rawArrow), load: load() });

  const emulator = await startEmulatorProcess();
  try {
    await clientRead(emulator.info, 'record');
    await clientRead(emulator.info, 'arrow');
    for (const format of ['record', 'arrow'] as const) {
      const raw = format === 'record' ? rawRecord : rawArrow;
      const r = await bestRates(3, () => clientRead(emulator.info, format));
      lines.push({ name: `client read over HTTP, ${format} format (1 reader), wall clock`, value: fmt(r.wall), ratio: `${(r.wall / raw).toFixed(2)} of raw`, goal: `>= ${fmt(GOAL)}`, load: load() });
      lines.push({ name: `client read over HTTP, ${format} format, per CPU second`, value: fmt(r.cpu), ratio: `${(r.cpu / raw).toFixed(2)} of raw`, goal: `>= ${fmt(GOAL)}`, load: load() });
    }
    const viaHttp = await best(3, () => transfer(emulator.info, 'node:http'));
    const viaFetch = await best(3, () => transfer(emulator.info, 'fetch'));
    lines.push({ name: 'body download without decoding, node:http', value: fmt(viaHttp / 1e6, 'MB/s') });
    lines.push({ name: 'body download without decoding, fetch', value: fmt(viaFetch / 1e6, 'MB/s'), ratio: `${(viaFetch / viaHttp).toFixed(2)} of node:http` });
    if (JOB_ROWS > 0) await benchJobs(emulator.info, lines);
  } finally {
    await emulator.stop();
  }
  return lines;
}

async function emulatorProcess(): Promise<void> {
  const emulator = await startMaxComputeEmulator({
    project: 'bench',
    encodedRowCache: true,
    tables: [{ name: 'bench', columns: COLUMNS, data: { rowCount: Math.max(ROWS, JOB_ROWS), row } }],
  });
  const info: EmulatorInfo = {
    endpoint: emulator.endpoint,
    tunnelEndpoint: emulator.tunnelEndpoint,
    project: emulator.project,
    accessId: emulator.accessId,
    accessKey: emulator.accessKey,
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

if (process.env.MC_BENCH_ROLE === 'emulator') {
  await emulatorProcess();
} else if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  process.stdout.write(`MaxCompute client benchmark: ${ROWS.toLocaleString('en-US')} rows, node ${process.version}\n`);
  for (const line of await benchMaxCompute()) {
    const ratio = line.ratio ? `  ${line.ratio}` : '';
    const goal = line.goal ? `  (goal ${line.goal})` : '';
    const loadNote = line.load ? `  [${line.load}]` : '';
    process.stdout.write(`${line.name.padEnd(66)} ${line.value.padStart(18)}${ratio}${goal}${loadNote}\n`);
  }
}
