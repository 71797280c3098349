import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
const STAMP = join(ROOT, 'dist/.e2e-build-stamp');
const LOCK = join(tmpdir(), `tideway-e2e-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`);
const STALE_LOCK_MS = 5 * 60_000;

/**
 * Builds dist/ once if any source is newer than the last build. Test files run in parallel processes, so the
 * build is guarded by a lock directory; whoever waits re-checks staleness after the lock is released.
 */
export async function ensureBuilt(): Promise<void> {
  for (;;) {
    if (!isStale()) return;
    if (tryLock()) {
      try {
        if (isStale()) build();
      } finally {
        rmSync(LOCK, { recursive: true, force: true });
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A builder that died leaves its lock behind; an old lock is taken over.
    try {
      if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
    } catch {
      // released meanwhile
    }
    return false;
  }
}

function build(): void {
  const started = new Date();
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0 || !existsSync(CLI)) {
    throw new Error(`the build (tsc -p tsconfig.build.json) failed with exit ${result.status}:\n${result.stdout}${result.stderr}`);
  }
  // As `npm run build` does: the bin is executable.
  spawnSync(process.execPath, [join(ROOT, 'scripts/mark-executable.mjs')], { cwd: ROOT });
  // The stamp carries the build's start time, so a source saved during the build counts as newer.
  writeFileSync(STAMP, '');
  utimesSync(STAMP, started, started);
}

function isStale(): boolean {
  if (!existsSync(CLI)) return true;
  // Without a stamp (dist built by `npm ci` or `npm run build`), the CLI file's own time says when it was built.
  const built = statSync(existsSync(STAMP) ? STAMP : CLI).mtimeMs;
  const inputs = [join(ROOT, 'package.json'), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')];
  if (inputs.some((f) => existsSync(f) && statSync(f).mtimeMs > built)) return true;
  return newestTs(join(ROOT, 'src')) > built || newestTs(join(ROOT, 'connectors')) > built;
}

function newestTs(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestTs(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}
