import type { ConnectorRegistry } from '../../engine/registry.js';
import type { CliIo } from '../terminal.js';

/** What every command gets: the process's streams and environment, and the connectors it may use. */
export interface CommandContext {
  io: CliIo;
  registry: ConnectorRegistry;
  /** Relative paths in connector options resolve against this directory. */
  cwd: string;
}
