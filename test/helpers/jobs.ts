import { mkdtempSync, rmSync } from 'node:fs';
import { afterEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/api/logger.js';
import { inProcessTransport } from '../../src/engine/in-process-transport.js';
import type { TransportFactory } from '../../src/engine/transport.js';
import { faultyTransport, type FaultOptions } from '../../src/testing/faulty-transport.js';

/** A temporary directory removed after the test. */
export function tempDir(prefix = 'tideway-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function faulty(options: FaultOptions): TransportFactory {
  return faultyTransport(inProcessTransport(silentLogger), options);
}

/** Seeds to run: TIDEWAY_SEED=n replays one; otherwise `count` seeds from `first`. */
export function seeds(count: number, first = 1): number[] {
  const replay = process.env.TIDEWAY_SEED;
  if (replay) return replay.split(',').map(Number);
  return Array.from({ length: count }, (_, i) => first + i);
}

/** Temporary directories for one test file, removed after each test: `const dir = useTempDirs(); dir()`. */
export function useTempDirs(prefix?: string): () => string {
  const made: { remove(): void }[] = [];
  afterEach(() => made.splice(0).forEach((d) => d.remove()));
  return () => {
    const d = tempDir(prefix);
    made.push(d);
    return d.path;
  };
}
