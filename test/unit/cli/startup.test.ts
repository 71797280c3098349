import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** Drivers and libraries a job loads only when it uses what needs them. */
const HEAVY = ['pg', 'pg-copy-streams', 'mysql2', 'ali-oss', 'parquet-wasm', 'node-sql-parser', 'fastify', 'prom-client', '@nats-io/transport-node'];

/** The npm packages (loaded through CommonJS) in a fresh process after it imports `modules`, in order. */
function packagesAfter(modules: string[]): string[] {
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    for (const m of ${JSON.stringify(modules)}) await import(new URL(m, ${JSON.stringify(`file://${ROOT}`)}).href);
    const names = Object.keys(require.cache).map((k) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k)?.[1]).filter(Boolean);
    process.stdout.write(JSON.stringify([...new Set(names)]));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

/**
 * Every CLI command and every pipeline worker thread imports the built-in connector list. Loading every driver
 * with it cost about a second per process and per thread (a 10-row job at parallelism 2 took 1.9 s): drivers,
 * the SQL grammar, Parquet's WebAssembly and the HTTP server are loaded when a job or command uses them.
 */
describe('start-up loads only what is used', () => {
  it('the connector list, the library entry and the CLI program load no driver, grammar, WebAssembly or server', () => {
    const loaded = packagesAfter(['connectors/index.ts', 'src/index.ts', 'src/cli/program.ts']);
    expect(loaded.filter((name) => HEAVY.includes(name))).toEqual([]);
  });

  it('a connector\'s implementation loads its driver (the check above sees drivers when they are there)', () => {
    const loaded = packagesAfter(['connectors/index.ts', 'connectors/postgres/sink.ts', 'connectors/sql/parse.ts', 'src/formats/parquet/parquet-encoder.ts']);
    expect(loaded).toContain('pg');
    expect(loaded).toContain('pg-copy-streams');
  });
});
