/**
 * OSS sink benchmark (figures, not pass/fail), `npx tsx bench/oss.ts`:
 *
 * - fake -> oss sink, Parquet and Arrow, to the OSS emulator running in its own process: MB/s and rows/s;
 * - raw ali-oss multipart uploads of the very objects the sink wrote (same bytes, same part size, same
 *   parts in flight), in the same run, against the same emulator: MB/s. ratio = sink / raw (goal >= 0.8);
 * - a hand-written script doing the job's work without Tideway: generate the same batches, encode them
 *   with the same encoder into memory, then ali-oss multipartUpload: MB/s, and the sink's ratio to it;
 * - fake -> file sink in the same format, to a local directory: rows/s, for scale.
 *
 * The sink's time includes generating and encoding the rows; the raw upload's does not, the script's does.
 * ROWS=n sets the row count (default 1,000,000).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { silentLogger } from '../src/api/logger.js';
import { fakeSchema, generateBatch } from '../connectors/fake/generator.js';
import { createEncoder } from '../src/formats/encoder.js';
import { runJob } from '../src/index.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const PART_SIZE = 8 * 1024 * 1024;
const PARALLEL = 8;
const BUCKET = 'bench';

interface Emulator {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  region: string;
  stop(): void;
}

/** The emulator in a child process, so that it does not share the event loop with what is measured. */
async function startEmulator(): Promise<Emulator> {
  const cli = new URL('../connectors/oss/emulator/cli.ts', import.meta.url).pathname;
  const code = `import { runOssEmulatorCli } from ${JSON.stringify(cli)};
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
await runOssEmulatorCli(['--json', '--bucket', ${JSON.stringify(BUCKET)}], { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
  const details = await new Promise<Record<string, string>>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => l.trim().startsWith('{'));
      if (line) {
        try {
          resolve(JSON.parse(line) as Record<string, string>);
        } catch {
          // the line is not complete yet
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited with ${code}`)));
  });
  return {
    endpoint: details.endpoint!,
    accessKeyId: details.accessKeyId!,
    accessKeySecret: details.accessKeySecret!,
    region: details.region ?? 'oss-cn-hangzhou',
    stop: () => child.kill('SIGTERM'),
  };
}

function client(emulator: Emulator): OSS {
  return new OSS({ endpoint: emulator.endpoint, accessKeyId: emulator.accessKeyId, accessKeySecret: emulator.accessKeySecret, region: emulator.region, bucket: BUCKET });
}

interface SinkRun {
  seconds: number;
  rows: number;
  bytes: number;
  keys: string[];
}

async function ossSink(emulator: Emulator, format: 'parquet' | 'arrow', path: string): Promise<SinkRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-oss-'));
  try {
    const result = await runJob(
      {
        env: { name: `bench-${path}`, checkpoint: { interval: '5s', dir } },
        source: [{ type: 'fake', rows: ROWS, splits: 4, chunk_rows: 8192 }],
        sink: [
          {
            type: 'oss',
            endpoint: emulator.endpoint,
            bucket: BUCKET,
            access_key_id: emulator.accessKeyId,
            access_key_secret: emulator.accessKeySecret,
            path,
            format,
            part_size: PART_SIZE,
            upload_concurrency: PARALLEL,
          },
        ],
      },
      { logger: silentLogger },
    );
    if (result.status !== 'finished') throw new Error(`bench job ${result.status}: ${result.error?.message}`);
    const listed = await client(emulator).listV2({ prefix: `${path}/`, 'max-keys': '1000' });
    const keys = (listed.objects ?? []).map((o) => o.name).filter((k) => /\/part-[^/]+$/.test(k));
    return { seconds: result.durationMs / 1000, rows: result.sinks[0]!.rowsWritten, bytes: result.sinks[0]!.bytesWritten, keys };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Uploads the same objects again with ali-oss's own multipart upload: the baseline. */
async function rawMultipart(emulator: Emulator, keys: readonly string[]): Promise<{ seconds: number; bytes: number }> {
  const oss = client(emulator);
  const bodies: Buffer[] = [];
  for (const key of keys) bodies.push((await oss.get(key)).content as Buffer);
  const started = performance.now();
  let bytes = 0;
  for (const [i, body] of bodies.entries()) {
    await oss.multipartUpload(`raw/${i}-${keys[i]!.split('/').pop()}`, body, { partSize: PART_SIZE, parallel: PARALLEL });
    bytes += body.length;
  }
  return { seconds: (performance.now() - started) / 1000, bytes };
}

/** The job's work as a plain script: the same batches, encoded in memory, then one multipart upload. */
async function script(emulator: Emulator, format: 'parquet' | 'arrow', name: string): Promise<{ seconds: number; bytes: number }> {
  const oss = client(emulator);
  const started = performance.now();
  const encoder = createEncoder(format, fakeSchema);
  const chunks: Uint8Array[] = [];
  for (let first = 0; first < ROWS; first += 8192) chunks.push(...encoder.encode(generateBatch(42, first, Math.min(8192, ROWS - first))));
  chunks.push(...encoder.finish());
  const body = Buffer.concat(chunks);
  await oss.multipartUpload(`script/${name}`, body, { partSize: PART_SIZE, parallel: PARALLEL });
  return { seconds: (performance.now() - started) / 1000, bytes: body.length };
}

async function fileSink(format: 'parquet' | 'arrow'): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-file-'));
  try {
    const result = await runJob(
      { env: { name: 'bench-file', checkpoint: { interval: '5s', dir: join(dir, 'ckpt') } }, source: [{ type: 'fake', rows: ROWS, splits: 4, chunk_rows: 8192 }], sink: [{ type: 'file', path: join(dir, 'out'), format }] },
      { logger: silentLogger },
    );
    if (result.status !== 'finished') throw new Error(`file bench ${result.status}: ${result.error?.message}`);
    return result.rowsWritten / (result.durationMs / 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MB = 1024 * 1024;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
function line(name: string, value: string, extra = ''): void {
  process.stdout.write(`${name.padEnd(58)} ${value.padStart(22)}${extra}\n`);
}

const emulator = await startEmulator();
try {
  process.stdout.write(`OSS sink benchmark: ${fmt(ROWS)} fake rows, part_size 8 MiB, ${PARALLEL} parts in flight, node ${process.version}, ${cpus().length} cores\n`);
  // Warm up (Parquet's WebAssembly, the JIT, connections).
  await ossSink(emulator, 'parquet', 'warmup');
  for (const format of ['parquet', 'arrow'] as const) {
    const runs: { sink: SinkRun; raw: { seconds: number; bytes: number }; script: { seconds: number; bytes: number } }[] = [];
    // Best of two, interleaved, so that a busy moment of the machine does not decide a ratio.
    for (let i = 0; i < 2; i++) {
      const sink = await ossSink(emulator, format, `${format}-${i}`);
      runs.push({ sink, raw: await rawMultipart(emulator, sink.keys), script: await script(emulator, format, `${format}-${i}`) });
    }
    const mbs = (r: { seconds: number; bytes: number }) => r.bytes / MB / r.seconds;
    const best = runs.reduce((a, b) => (mbs(b.sink) > mbs(a.sink) ? b : a));
    const sinkMBs = mbs(best.sink);
    const rawMBs = Math.max(...runs.map((r) => mbs(r.raw)));
    const scriptMBs = Math.max(...runs.map((r) => mbs(r.script)));
    line(`oss sink, ${format} (${(best.sink.bytes / MB).toFixed(1)} MiB in ${best.sink.keys.length} objects)`, `${sinkMBs.toFixed(1)} MB/s`, `  ${fmt(best.sink.rows / best.sink.seconds)} rows/s`);
    line(`raw ali-oss multipartUpload, same ${format} bytes`, `${rawMBs.toFixed(1)} MB/s`, `  ratio ${(sinkMBs / rawMBs).toFixed(2)} (goal >= 0.8)`);
    line(`script: generate + encode + multipartUpload, ${format}`, `${scriptMBs.toFixed(1)} MB/s`, `  ratio ${(sinkMBs / scriptMBs).toFixed(2)}`);
    line(`file sink, ${format}, local directory`, `${fmt(await fileSink(format))} rows/s`);
  }
} finally {
  emulator.stop();
}
