/**
 * `npm run bench`: every benchmark, printed as figures and ratios against a raw baseline measured in the
 * same run. Not a test: nothing here passes or fails. `npm run bench -- engine` runs one group.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { benchEngine, type BenchLine } from './engine.js';
import { benchTransforms } from './transforms.js';

function print(group: string, lines: BenchLine[]): void {
  process.stdout.write(`\n## ${group}\n`);
  for (const line of lines) {
    const ratio = line.ratio ? `  ratio ${line.ratio}${line.goal ? ` (goal ${line.goal})` : ''}` : line.goal ? `  (goal ${line.goal})` : '';
    process.stdout.write(`${line.name.padEnd(62)} ${line.value.padStart(18)}${ratio}\n`);
  }
}

/** Benchmarks kept as standalone scripts by their connector or layer. */
const scripts: Record<string, string> = {
  databases: 'bench/databases.ts',
  formats: 'bench/formats.ts',
  csv: 'bench/csv.ts',
  checkpoints: 'bench/checkpoints.ts',
  maxcompute: 'bench/maxcompute.ts',
  oss: 'bench/oss.ts',
  cluster: 'bench/cluster.ts',
  startup: 'bench/startup.ts',
};

const only = process.argv[2];
process.stdout.write(`Tideway benchmarks: node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
if (!only || only === 'engine') print('engine', await benchEngine());
if (!only || only === 'transforms') print('transforms', await benchTransforms());
for (const [group, script] of Object.entries(scripts)) {
  if (only && only !== group) continue;
  if (!existsSync(script)) continue;
  process.stdout.write(`\n## ${group} (${script})\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', script], { stdio: 'inherit' });
  if (result.status !== 0) process.stdout.write(`(${script} exited with ${result.status})\n`);
}
