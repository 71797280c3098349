import { resolve } from 'node:path';
import type { EmbeddedOss, EmbeddedOssConnection } from './emulator/index.js';

/** Where `endpoint: embedded` keeps its objects, relative to the job's base directory. */
export const EMBEDDED_DIR = '.tideway/oss';

interface Shared {
  refs: number;
  started: Promise<EmbeddedOss>;
}

/**
 * One embedded emulator per data directory in this process. A job whose source and sink both say
 * `endpoint: embedded` shares it (the emulator refuses a second instance on the same directory); it stops
 * when the last user releases it.
 */
const running = new Map<string, Shared>();

export interface EmbeddedLease {
  readonly connection: EmbeddedOssConnection;
  /** Safe to call more than once. */
  release(): Promise<void>;
}

export async function acquireEmbeddedOss(baseDir: string): Promise<EmbeddedLease> {
  const dir = resolve(baseDir, EMBEDDED_DIR);
  let shared = running.get(dir);
  if (!shared) {
    // Loaded on demand: a job against a real endpoint never loads the emulator.
    shared = { refs: 0, started: import('./emulator/index.js').then(({ startEmbeddedOss }) => startEmbeddedOss({ dir })) };
    running.set(dir, shared);
    shared.started.catch(() => running.delete(dir));
  }
  shared.refs++;
  const entry = shared;
  let emulator: EmbeddedOss;
  try {
    emulator = await entry.started;
  } catch (error) {
    entry.refs--;
    throw error;
  }
  let released = false;
  return {
    connection: emulator.connection,
    async release() {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs > 0) return;
      if (running.get(dir) === entry) running.delete(dir);
      await emulator.close();
    },
  };
}
