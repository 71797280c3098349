import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { LocalCheckpointStore } from '../../src/engine/checkpoint-store.js';
import type { JobConfig, StageConfig } from '../../src/engine/job-config.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../src/index.js';
import { fakeSource, fileSinkOutput, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { FaultSession } from '../../src/testing/fault-injection.js';
import { rejectTransformConnector } from '../../src/testing/reject-transform.js';
import { useTempDirs } from '../helpers/jobs.js';

/** The transform rejects the ids that are 2 modulo 7. */
const EVERY = 7;
const REMAINDER = 2;
const isBad = (id: number) => id % EVERY === REMAINDER;

/** Ids in the dead-letter files: each row's original row, as JSON text in row_json. */
async function deadLetterIds(dir: string, stage = 'reject', code = 'TEST_REJECTED'): Promise<number[]> {
  const ids: number[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (!line) continue;
      const row = JSON.parse(line) as { stage: string; error_code: string; row_json: string };
      if (row.stage !== stage || row.error_code !== code) throw new Error(`unexpected dead-letter row ${line}`);
      ids.push(Number((JSON.parse(row.row_json) as { id: unknown }).id));
    }
  }
  return ids;
}

function rejectStage(workDir: string, maxErrors: number): StageConfig {
  return {
    type: 'test-reject',
    name: 'reject',
    every: EVERY,
    remainder: REMAINDER,
    errors: { tolerance: 'all', max_errors: maxErrors, dead_letter: { type: 'file', path: join(workDir, 'bad'), format: 'jsonl' } },
  };
}

/**
 * fake -> a transform that rejects some rows -> file sink, the rejected rows to a dead-letter file sink. The
 * kit checks that every id is committed exactly once over both outputs together (an id in both, or twice in
 * either, is a repeat), through seeded chains of failing runs and resumes; nothing staged may remain in
 * either sink. max_errors is the number of bad rows in the input: a row counted twice after a restore would
 * fail the job.
 */
const subject: KitSubject = {
  name: 'fake -> rejecting transform -> file, dead letter -> file',
  connectors: [...builtinConnectors, rejectTransformConnector],
  async setup(context) {
    const out = fileSinkOutput(join(context.workDir, 'out'));
    const bad = fileSinkOutput(join(context.workDir, 'bad'));
    const source = fakeSource(context);
    return {
      // Slowed down so that checkpoints land between the injected failures and later runs resume them.
      source: source.source.map((stage) => ({ ...stage, rows_per_second: 4000 })),
      expectedIds: source.expectedIds,
      transform: [rejectStage(context.workDir, source.expectedIds.filter(isBad).length)],
      sink: out.sink,
      committedIds: async () => [...(await out.committedIds()), ...(await deadLetterIds(join(context.workDir, 'bad')))],
      leftovers: async () => [...(await out.leftovers()), ...(await bad.leftovers())],
    };
  },
};

/**
 * The same with the `sql` transform: a CAST that fails for the ids that are 2 modulo 7 rejects them
 * (SQL_CAST_FAILED), and the WHERE drops nothing. Exactly once over both outputs, as above.
 */
const sqlSubject: KitSubject = {
  name: 'fake -> sql (a failing CAST) -> file, dead letter -> file',
  connectors: builtinConnectors,
  async setup(context) {
    const out = fileSinkOutput(join(context.workDir, 'out'));
    const bad = fileSinkOutput(join(context.workDir, 'bad'));
    const source = fakeSource(context);
    const badRows = source.expectedIds.filter(isBad).length;
    return {
      source: source.source.map((stage) => ({ ...stage, rows_per_second: 4000 })),
      expectedIds: source.expectedIds,
      transform: [
        {
          type: 'sql',
          name: 'checked',
          query: `SELECT id, CAST(CASE WHEN id % ${EVERY} = ${REMAINDER} THEN 'not a number' ELSE CAST(id AS VARCHAR) END AS BIGINT) AS id_again FROM default WHERE id >= 0`,
          errors: { tolerance: 'all', max_errors: badRows, dead_letter: { type: 'file', path: join(context.workDir, 'bad'), format: 'jsonl' } },
        },
      ],
      sink: out.sink,
      committedIds: async () => [...(await out.committedIds()), ...(await deadLetterIds(join(context.workDir, 'bad'), 'checked', 'SQL_CAST_FAILED'))],
      leftovers: async () => [...(await out.leftovers()), ...(await bad.leftovers())],
    };
  },
};

describe('failure and resume: a sql transform with a dead-letter sink', () => {
  const dir = useTempDirs('tideway-sql-failure-');

  it.each(kitSeeds(6))('seed %i: every row exactly once in the output or the dead letter, each where it belongs', async (seed) => {
    const work = dir();
    const report = await runFailureAndResume(sqlSubject, seed, work, { checkpointIntervalMs: 3 });
    console.log(`seed ${seed} (replay: TIDEWAY_SEED=${seed}): ${report.runs.length} runs, ${report.resumes} resumes`);
    if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
    expect(report.problem, report.describe()).toBeUndefined();
    const good = await fileSinkOutput(join(work, 'out')).committedIds();
    const bad = await deadLetterIds(join(work, 'bad'), 'checked', 'SQL_CAST_FAILED');
    expect(good.filter(isBad), report.describe()).toEqual([]);
    expect(bad.filter((id) => !isBad(id)), report.describe()).toEqual([]);
    expect(bad.length).toBe(Array.from({ length: report.rows }, (_, i) => i).filter(isBad).length);
  });
});

describe('failure and resume: dirty data with a dead-letter sink', () => {
  const dir = useTempDirs('tideway-dirty-failure-');

  it.each(kitSeeds(16))('seed %i: every row exactly once in the output or the dead letter, each where it belongs', async (seed) => {
    const work = dir();
    const report = await runFailureAndResume(subject, seed, work, { checkpointIntervalMs: 3 });
    console.log(`seed ${seed} (replay: TIDEWAY_SEED=${seed}): ${report.runs.length} runs, ${report.resumes} resumes`);
    if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
    expect(report.problem, report.describe()).toBeUndefined();
    expect(report.runs.length).toBeGreaterThanOrEqual(4);
    const good = await fileSinkOutput(join(work, 'out')).committedIds();
    const bad = await deadLetterIds(join(work, 'bad'));
    expect(good.filter(isBad), report.describe()).toEqual([]);
    expect(bad.filter((id) => !isBad(id)), report.describe()).toEqual([]);
    expect(bad.length).toBe(Array.from({ length: report.rows }, (_, i) => i).filter(isBad).length);
  });
});

describe('dirty-data limits across resumes', () => {
  const dir = useTempDirs('tideway-dirty-budget-');
  const connectors = [...builtinConnectors, rejectTransformConnector];
  const ROWS = 3500;
  const BAD = Array.from({ length: ROWS }, (_, i) => i).filter(isBad).length;

  function config(work: string, maxErrors: number): JobConfig {
    return {
      env: { name: 'budget', parallelism: 2, transport: 'in-process', checkpoint: { interval: '30ms', dir: join(work, 'chk') } },
      // Slow enough that a stop lands well before the end (a graceful stop reads on until its barrier).
      source: [{ type: 'fake', rows: ROWS, splits: 6, chunk_rows: 50, rows_per_second: 3000 }],
      transform: [rejectStage(work, maxErrors)],
      sink: [{ type: 'file', path: join(work, 'out'), format: 'jsonl' }],
    };
  }

  /** Runs the job, stopping it gracefully once its readers emitted `atRow` rows (a last checkpoint holds the counts so far). */
  async function runFor(job: JobConfig, atRow: number | undefined) {
    const session = new FaultSession(atRow === undefined ? [] : [{ kind: 'stop', atRow }]);
    return runJob(job, { registry: new ConnectorRegistry(session.connectors(connectors)), logger: silentLogger, signal: session.stopController.signal });
  }

  it('a resumed run keeps the earlier runs\' error count: the limit fails it even though it alone stays under', async () => {
    const work = dir();
    const job = config(work, BAD - 1);
    const first = await runFor(job, 1500);
    expect(first.status, first.error?.message).toBe('cancelled');
    const stored = (await new LocalCheckpointStore(join(work, 'chk'), 'budget').latest())?.errors?.['transform:reject'];
    // The checkpoint holds the rows and errors counted up to its barrier.
    if (!stored?.errors) console.log(JSON.stringify({ read: first.rowsRead, transforms: first.transforms, checkpoints: first.checkpoints, stored }));
    expect(stored?.errors).toBeGreaterThan(0);
    expect(stored?.errors).toBe((await deadLetterIds(join(work, 'bad'))).length);
    const second = await runFor(job, undefined);
    expect(second.status).toBe('failed');
    expect(second.transforms[0]!.rowsErrored).toBeLessThan(BAD - 1);
    expect(second.error?.message).toMatch(new RegExp(`^transform\\[0\\] \\(reject\\) rejected ${BAD} of \\d+ rows \\(${stored!.errors} of the rejected rows in earlier runs of this job\\), more than max_errors \\(${BAD - 1}\\)`));
  });

  it('rows re-processed after a restore are not counted twice: a limit equal to the bad rows holds over several stops and failures', async () => {
    const work = dir();
    const job = config(work, BAD);
    const statuses: string[] = [];
    // Stopped after every 700 rows until it finishes: each stop's checkpoint carries the counts, and the rows
    // read after it are read again by the next run.
    for (let run = 0; run < 12 && statuses.at(-1) !== 'finished'; run++) {
      const result = await runFor(job, 700);
      statuses.push(result.error ? `${result.status}: ${result.error.message}` : result.status);
    }
    expect(statuses.at(-1), statuses.join('\n')).toBe('finished');
    expect(statuses.filter((s) => s === 'cancelled').length, statuses.join('\n')).toBeGreaterThanOrEqual(2);
    const good = await fileSinkOutput(join(work, 'out')).committedIds();
    const bad = await deadLetterIds(join(work, 'bad'));
    expect(good.length + bad.length).toBe(ROWS);
    expect(new Set([...good, ...bad]).size).toBe(ROWS);
    expect(bad.every(isBad)).toBe(true);
  });
});
