/**
 * `npm run docs`: writes each built-in connector's option tables into connectors/<name>/README.md between
 * `<!-- options:start -->` and `<!-- options:end -->`, from the same text `tideway connectors <name>` prints.
 * With `--check` it changes nothing and exits 1 when a README is out of date.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { builtinConnectors } from './api.js';
import { connectorDocText, withOptionsBlock } from './connector-docs.js';
import { packageInfo } from './package-root.js';

const check = process.argv.includes('--check');
const { root } = packageInfo();
let stale = 0;
for (const connector of builtinConnectors) {
  const folder = join(root, 'connectors', connector.name);
  if (!existsSync(folder)) {
    process.stderr.write(`skipped ${connector.name}: no folder ${relative(root, folder)}\n`);
    continue;
  }
  const file = join(folder, 'README.md');
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const after = withOptionsBlock(before, connector, connectorDocText(connector));
  if (after === before) continue;
  stale++;
  if (check) {
    process.stderr.write(`${relative(root, file)} is out of date\n`);
  } else {
    writeFileSync(file, after);
    process.stderr.write(`wrote ${relative(root, file)}\n`);
  }
}
if (check && stale > 0) {
  process.stderr.write('run `npm run docs` and commit the READMEs\n');
  process.exitCode = 1;
}
