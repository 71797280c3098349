import type { ConnectorDefinition } from '../api/connector.js';
import { TidewayError } from '../api/errors.js';

export type Capability = 'source' | 'sink' | 'transform';

/** The explicit list of connectors a job may use. */
export class ConnectorRegistry {
  private readonly byName = new Map<string, ConnectorDefinition>();

  constructor(connectors: readonly ConnectorDefinition[]) {
    for (const connector of connectors) {
      if (this.byName.has(connector.name)) {
        throw new TidewayError('REGISTRY_DUPLICATE', `two connectors are registered as "${connector.name}"`);
      }
      this.byName.set(connector.name, connector);
    }
  }

  get(name: string): ConnectorDefinition | undefined {
    return this.byName.get(name);
  }

  list(): ConnectorDefinition[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  namesWith(capability: Capability): string[] {
    return this.list()
      .filter((c) => c[capability] !== undefined)
      .map((c) => c.name);
  }
}
