import type { ConnectorDefinition } from '../api/connector.js';
import { describeOptions, type OptionDoc, type OptionsSchema } from '../api/options.js';
import type { Capability } from '../engine/registry.js';

/**
 * The one text that documents a connector's options. `tideway connectors <name>` prints it and `npm run docs`
 * writes it into `connectors/<name>/README.md` between the markers below, so the two never differ.
 */
export const OPTIONS_START = '<!-- options:start -->';
export const OPTIONS_END = '<!-- options:end -->';

const CAPABILITIES: readonly Capability[] = ['source', 'transform', 'sink'];

const RESERVED_STREAM_KEYS: Record<Capability, string> = {
  source: '`output` (the stream it produces; optional with one source)',
  transform: '`input` (the stream it reads; defaults to the stage before) and `output` (the stream it produces)',
  sink: '`input` (the stream it reads; optional when there is one upstream stream)',
};

export function capabilitiesOf(connector: ConnectorDefinition): Capability[] {
  return CAPABILITIES.filter((c) => connector[c] !== undefined);
}

/** `name  source, sink  description`, aligned, one connector per line. */
export function connectorListText(connectors: readonly ConnectorDefinition[]): string {
  const nameWidth = Math.max(4, ...connectors.map((c) => c.name.length));
  const capsWidth = Math.max(...connectors.map((c) => capabilitiesOf(c).join(', ').length), 4);
  return connectors.map((c) => `${c.name.padEnd(nameWidth)}  ${capabilitiesOf(c).join(', ').padEnd(capsWidth)}  ${c.description}`.trimEnd()).join('\n') + '\n';
}

/** Markdown: for each capability, a table of every option with type, required, secret, default and description; then the example. */
export function connectorDocText(connector: ConnectorDefinition): string {
  const parts: string[] = [];
  for (const capability of capabilitiesOf(connector)) {
    const factory = connector[capability] as { options: OptionsSchema };
    parts.push(`### ${connector.name} ${capability} options\n\n${optionTable(describeOptions(factory.options)).trimEnd()}`);
    parts.push(`Reserved keys: \`type: ${connector.name}\`, \`name\` (shown in reports), ${RESERVED_STREAM_KEYS[capability]}.`);
  }
  if (connector.example) parts.push(`### Example\n\n\`\`\`yaml\n${connector.example.trimEnd()}\n\`\`\``);
  return `${parts.join('\n\n')}\n`;
}

/** An aligned Markdown table, readable as plain text too. */
export function optionTable(options: readonly OptionDoc[]): string {
  if (options.length === 0) return '(no options)\n';
  const header = ['Option', 'Type', 'Required', 'Secret', 'Default', 'Description'];
  const rows = options.map((o) => [o.name, o.type, o.required ? 'yes' : 'no', o.secret ? 'yes' : 'no', o.default === undefined ? '' : JSON.stringify(o.default), o.description].map(cell));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // The last column is not padded: descriptions are long and trailing spaces only add noise.
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? header[i]!.length + 2 : w + 2)).join('|')}|`;
  return `${[line(header), rule, ...rows.map(line)].join('\n')}\n`;
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/**
 * The README with the block between the markers replaced by `doc`. A README without markers gets an Options
 * section appended; a missing README is created with a title and the description.
 */
export function withOptionsBlock(readme: string | undefined, connector: ConnectorDefinition, doc: string): string {
  const block = `${OPTIONS_START}\n${doc}${OPTIONS_END}`;
  if (readme === undefined) return `# ${connector.name}\n\n${connector.description}\n\n## Options\n\n${block}\n`;
  const start = readme.indexOf(OPTIONS_START);
  const end = readme.indexOf(OPTIONS_END);
  if (start < 0 || end < start) return `${readme.trimEnd()}\n\n## Options\n\n${block}\n`;
  return `${readme.slice(0, start)}${block}${readme.slice(end + OPTIONS_END.length)}`;
}

/** The block currently between the markers, or undefined when there is none. */
export function optionsBlockOf(readme: string): string | undefined {
  const start = readme.indexOf(OPTIONS_START);
  const end = readme.indexOf(OPTIONS_END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + OPTIONS_START.length + 1, end);
}
