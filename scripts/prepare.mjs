/**
 * npm's `prepare` hook. `npm ci` runs it to build the CLI (dist/) and the dashboard. npm runs it again when
 * `npx tideway` in this repository links the project into npx's cache: the build is already there then, so
 * that second run skips it (it took about 17 s of a newcomer's first command).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const built = existsSync(new URL('../dist/src/cli/main.js', import.meta.url));
if (process.env.npm_command === 'exec' && built) {
  process.stderr.write('tideway: already built (npm run build rebuilds)\n');
  process.exit(0);
}
const result = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(result.status ?? 1);
