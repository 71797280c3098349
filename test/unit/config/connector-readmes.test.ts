import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConnectorDefinition } from '../../../src/api/connector.js';
import { connectorDocText, optionsBlockOf, optionTable, withOptionsBlock } from '../../../src/cli/connector-docs.js';
import { builtinConnectors } from '../../../src/index.js';

const ROOT = join(import.meta.dirname, '../../..');

describe('connector READMEs', () => {
  it.each(builtinConnectors.map((c) => [c.name, c] as const))('connectors/%s/README.md has the current option table (npm run docs)', (name, connector) => {
    const file = join(ROOT, 'connectors', name, 'README.md');
    expect(existsSync(file), `${file} is missing: run npm run docs`).toBe(true);
    const block = optionsBlockOf(readFileSync(file, 'utf8'));
    expect(block, `${file} has no <!-- options:start --> ... <!-- options:end --> block: run npm run docs`).toBeDefined();
    expect(block, `${file} is out of date: run npm run docs`).toBe(connectorDocText(connector));
  });
});

describe('the generated option block', () => {
  const connector = builtinConnectors.find((c) => c.name === 'fake') as ConnectorDefinition;
  const doc = connectorDocText(connector);

  it('replaces only what is between the markers', () => {
    const readme = '# fake\n\nIntro.\n\n<!-- options:start -->\nold table\n<!-- options:end -->\n\n## Notes\nkept\n';
    const updated = withOptionsBlock(readme, connector, doc);
    expect(updated.startsWith('# fake\n\nIntro.\n\n<!-- options:start -->\n')).toBe(true);
    expect(updated.endsWith('<!-- options:end -->\n\n## Notes\nkept\n')).toBe(true);
    expect(optionsBlockOf(updated)).toBe(doc);
    // Idempotent: a second run changes nothing.
    expect(withOptionsBlock(updated, connector, doc)).toBe(updated);
  });

  it('appends an Options section to a README without markers, and creates a missing one', () => {
    expect(optionsBlockOf(withOptionsBlock('# fake\n\nText.\n', connector, doc))).toBe(doc);
    const created = withOptionsBlock(undefined, connector, doc);
    expect(created.startsWith(`# fake\n\n${connector.description}\n`)).toBe(true);
    expect(optionsBlockOf(created)).toBe(doc);
  });

  it('escapes pipes and newlines so a cell never breaks the table', () => {
    const table = optionTable([{ name: 'format', type: '"a" | "b"', required: false, secret: true, default: 'a', description: 'one\ntwo | three' }]);
    const row = table.trimEnd().split('\n')[2]!;
    expect(row).toBe('| format | "a" \\| "b" | no       | yes    | "a"     | one two \\| three |');
  });
});
