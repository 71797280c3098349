import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, ROOT } from './support/build.js';

/**
 * The README's first command is `npm ci && npx tideway run configs/quickstart.yaml`. npx links this repository
 * into its cache and runs `prepare` again, and a cache entry left from an earlier clone at the same path is
 * reused without npm setting the bin's mode: the build must leave the bin executable, and `prepare` under
 * npx must not build a second time.
 */
describe('the tideway bin', () => {
  beforeAll(ensureBuilt, 240_000);

  it('is executable as built (shebang and mode), as npm links it', () => {
    expect(statSync(CLI).mode & 0o111).toBe(0o111);
    expect(execFileSync(CLI, ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('prepare under npx (npm_command=exec) skips the build when the CLI is built', () => {
    const before = statSync(CLI).mtimeMs;
    const result = spawnSync(process.execPath, [join(ROOT, 'scripts/prepare.mjs')], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_command: 'exec' } });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('already built');
    expect(statSync(CLI).mtimeMs).toBe(before);
  });
});
