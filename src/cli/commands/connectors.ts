import { didYouMean } from '../../api/options.js';
import { connectorDocText, connectorListText } from '../connector-docs.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandContext } from './context.js';

/** `tideway connectors [name]`: one line per connector, or one connector's option tables. */
export function connectorsCommand(name: string | undefined, context: CommandContext): ExitCode {
  const { io, registry } = context;
  if (name === undefined) {
    io.stdout.write(connectorListText(registry.list()));
    return ExitCode.ok;
  }
  const connector = registry.get(name);
  if (!connector) {
    const names = registry.list().map((c) => c.name);
    const hint = didYouMean(name, names);
    io.stderr.write(`error [UNKNOWN_CONNECTOR]: no connector "${name}"${hint ? `; did you mean "${hint}"?` : ''} (connectors: ${names.join(', ')})\n`);
    return ExitCode.invalid;
  }
  io.stdout.write(`${connector.name}: ${connector.description}\n\n${connectorDocText(connector)}`);
  return ExitCode.ok;
}
