import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { ConfigError, type ConfigIssue } from '../../../src/api/errors.js';
import type { JournalEntry } from './journal.js';
import { OSS_EMULATOR_DEMO_CREDENTIALS, type OssEmulatorOptions } from './options.js';
import type { RouteMode } from './routing.js';
import { startOssEmulator, type OssEmulator } from './server.js';

/** Usage text of `tideway emulator oss`, for the CLI's help. */
export const OSS_EMULATOR_USAGE = `Usage: tideway emulator oss [options]

Runs a local OSS-compatible server that ali-oss (and Tideway's OSS connector) can use unchanged.

Options:
  --port <n>                 port to listen on (default: 0, any free port; printed on start)
  --host <addr>              interface to listen on (default: 127.0.0.1)
  --data-dir <dir>           keep objects in this directory (default: in memory, lost on exit)
  --access-key-id <id>       accepted access key id (default: ${OSS_EMULATOR_DEMO_CREDENTIALS.accessKeyId})
  --access-key-secret <s>    its secret (default: ${OSS_EMULATOR_DEMO_CREDENTIALS.accessKeySecret})
  --bucket <name>            create this bucket on start (repeatable)
  --default-bucket <name>    bucket for requests that name none (ali-oss cname mode)
  --auto-create-buckets      create a missing bucket on its first use
  --route <auto|host|path>   where the bucket name comes from (default: auto)
  --region <id>              region the buckets report (default: oss-cn-hangzhou)
  --min-part-size <bytes>    smallest non-final multipart part (default: 102400, as OSS)
  --no-auth                  accept unsigned requests
  --log                      print one line per request to stderr
  --json                     print the connection details as JSON on stdout`;

/** Where the CLI entry writes and when it stops. */
export interface OssEmulatorCliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** The emulator runs until this aborts (the CLI aborts it on SIGINT/SIGTERM). */
  signal: AbortSignal;
}

export interface ParsedOssEmulatorArgs {
  options: OssEmulatorOptions;
  json: boolean;
  log: boolean;
}

function integer(name: string, value: string | undefined, issues: ConfigIssue[], min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    issues.push({ path: `--${name}`, message: `must be an integer between ${min} and ${max}; got ${JSON.stringify(value)}` });
    return undefined;
  }
  return n;
}

/**
 * Parses the arguments after `tideway emulator oss`. Throws a `ConfigError` listing every bad
 * argument, so the CLI can print it and exit with its usage-error code.
 */
export function parseOssEmulatorArgs(argv: readonly string[]): ParsedOssEmulatorArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'access-key-id': { type: 'string' },
        'access-key-secret': { type: 'string' },
        bucket: { type: 'string', multiple: true },
        'default-bucket': { type: 'string' },
        'auto-create-buckets': { type: 'boolean' },
        route: { type: 'string' },
        region: { type: 'string' },
        'min-part-size': { type: 'string' },
        'no-auth': { type: 'boolean' },
        log: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }));
  } catch (cause) {
    throw new ConfigError([{ path: 'tideway emulator oss', message: `${cause instanceof Error ? cause.message : String(cause)}. See --help.` }], { cause });
  }
  const issues: ConfigIssue[] = [];
  const port = integer('port', values.port, issues, 0, 65535);
  const minPartSize = integer('min-part-size', values['min-part-size'], issues, 1, Number.MAX_SAFE_INTEGER);
  const route = values.route;
  if (route !== undefined && !['auto', 'host', 'path'].includes(route)) {
    issues.push({ path: '--route', message: `must be auto, host or path; got ${JSON.stringify(route)}` });
  }
  const id = values['access-key-id'];
  const secret = values['access-key-secret'];
  if ((id === undefined) !== (secret === undefined)) {
    issues.push({ path: id === undefined ? '--access-key-id' : '--access-key-secret', message: 'give --access-key-id and --access-key-secret together' });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const options: OssEmulatorOptions = {
    ...(port !== undefined ? { port } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values['data-dir'] !== undefined ? { storage: { dataDir: values['data-dir'] } } : {}),
    ...(id !== undefined && secret !== undefined ? { accessKeyId: id, accessKeySecret: secret } : {}),
    ...(values.bucket !== undefined ? { buckets: values.bucket } : {}),
    ...(values['default-bucket'] !== undefined ? { defaultBucket: values['default-bucket'] } : {}),
    ...(values['auto-create-buckets'] ? { autoCreateBuckets: true } : {}),
    ...(route !== undefined ? { route: route as RouteMode } : {}),
    ...(values.region !== undefined ? { region: values.region } : {}),
    ...(minPartSize !== undefined ? { minPartSize } : {}),
    ...(values['no-auth'] ? { auth: false } : {}),
  };
  return { options, json: values.json ?? false, log: values.log ?? false };
}

function logLine(entry: JournalEntry): string {
  const target = entry.bucket === undefined ? '' : ` ${entry.bucket}${entry.key === undefined ? '' : `/${entry.key}`}`;
  const error = entry.errorCode === undefined ? '' : ` ${entry.errorCode}`;
  const fault = entry.fault === undefined ? '' : ` fault=${entry.fault.kind}`;
  return `${entry.method} ${entry.op}${target} -> ${entry.status}${error} in=${entry.bytesIn} out=${entry.bytesOut} ${entry.ms.toFixed(1)}ms${fault}\n`;
}

/**
 * Entry point of `tideway emulator oss`: parses `argv`, starts the emulator, prints how to reach it,
 * and runs until `io.signal` aborts. Resolves with the process exit code. `onStarted` lets a caller
 * (or a test) reach the running emulator.
 */
export async function runOssEmulatorCli(
  argv: readonly string[],
  io: OssEmulatorCliIo,
  onStarted?: (emulator: OssEmulator) => void,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${OSS_EMULATOR_USAGE}\n`);
    return 0;
  }
  const parsed = parseOssEmulatorArgs(argv);
  const emulator = await startOssEmulator({
    ...parsed.options,
    ...(parsed.log ? { onRequest: (entry: JournalEntry) => void io.stderr.write(logLine(entry)) } : {}),
  });
  try {
    const [credential] = emulator.credentials;
    const demo = credential?.accessKeyId === OSS_EMULATOR_DEMO_CREDENTIALS.accessKeyId;
    const details = {
      endpoint: emulator.endpoint,
      region: emulator.region,
      accessKeyId: credential?.accessKeyId,
      // A secret the user chose is never echoed; the demo one is public anyway.
      ...(demo ? { accessKeySecret: OSS_EMULATOR_DEMO_CREDENTIALS.accessKeySecret } : {}),
      storage: emulator.storage.dataDir ?? 'memory',
      buckets: emulator.storage.buckets(),
    };
    if (parsed.json) io.stdout.write(`${JSON.stringify(details)}\n`);
    io.stderr.write(
      `OSS emulator listening on ${details.endpoint} (region ${details.region}, access key id ${details.accessKeyId ?? '?'}, storage ${details.storage}). Press Ctrl+C to stop.\n`,
    );
    onStarted?.(emulator);
    if (!io.signal.aborted) await once(io.signal, 'abort');
  } finally {
    await emulator.close();
  }
  return 0;
}
