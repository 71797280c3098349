import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import { syncDirectory } from '../../src/api/durable-fs.js';

/** Where each job's ledger lives, inside the sink's path: `<path>/.tideway-jobs/<job>.json`. */
export const LEDGER_DIR = '.tideway-jobs';

export type DataSaveMode = 'append' | 'overwrite' | 'error';

/**
 * What one job has committed under a file sink's path, so that a later run can tell its own earlier output
 * from everyone else's files (data_save_mode). `run` identifies a logical run: the first attempt's id, kept
 * through every resume (writers carry it in their checkpointed state); `attempts` are the attempts that
 * continued it.
 */
export interface OutputLedger {
  job: string;
  run: string;
  attempts: string[];
  files: { name: string; rows: number }[];
  /** The run committed its end of input. */
  complete: boolean;
}

/** A writer's checkpointed state: the logical run its rows belong to. */
export interface FileWriterState {
  run: string;
  [key: string]: Json;
}

export function ledgerPath(root: string, job: string): string {
  return join(root, LEDGER_DIR, `${job}.json`);
}

export async function readLedger(root: string, job: string): Promise<OutputLedger | undefined> {
  const path = ledgerPath(root, job);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as OutputLedger;
  } catch (error) {
    throw new TidewayError('FILE_LEDGER_CORRUPT', `${path} (the record of what job "${job}" committed here) is not valid JSON; it was changed outside Tideway. Restore it, or remove it to treat the files it listed as someone else's`, {
      cause: error,
      context: { connector: 'file', path },
    });
  }
}

/** Written atomically: a temporary file, fsync, rename, directory fsync. */
export async function writeLedger(root: string, ledger: OutputLedger): Promise<void> {
  const dir = join(root, LEDGER_DIR);
  await mkdir(dir, { recursive: true });
  const path = ledgerPath(root, ledger.job);
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(ledger));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

export function ledgerRows(ledger: OutputLedger): number {
  let rows = 0;
  for (const file of ledger.files) rows += file.rows;
  return rows;
}

/** The error of data_save_mode: error, naming what is there and the choices. */
export function targetHasOutput(root: string, ledger: OutputLedger): TidewayError {
  const state = ledger.complete ? 'it finished' : 'it did not finish, or --fresh discarded it';
  return new TidewayError(
    'FILE_TARGET_HAS_OUTPUT',
    `${root} already holds ${ledger.files.length} file(s) with ${ledgerRows(ledger)} rows that an earlier run of job "${ledger.job}" committed (${state}; listed in ${ledgerPath(root, ledger.job)}), and data_save_mode is error, so this run writes nothing. Set data_save_mode: overwrite to replace them with this run's output, or point path at another directory (data_save_mode: append would keep both, so rows the runs share would be there twice)`,
    { context: { connector: 'file', path: root } },
  );
}
