import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tideway's package directory and version, found from this file whether it runs from src/ or dist/src/. */
export function packageInfo(): { root: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tideway') return { root: dir, version: pkg.version ?? '0.0.0' };
    } catch {
      // not here; look one level up
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find tideway's package.json above ${fileURLToPath(import.meta.url)}`);
}
