import type { ConnectorDefinition } from '../../../src/api/connector.js';
import { defineSink, defineSource, defineTransform } from '../../../src/api/connector.js';
import { duration, z } from '../../../src/api/options.js';
import { ConnectorRegistry } from '../../../src/engine/registry.js';

/** Option schemas shaped like real connectors'; `create` is never called by the config layer. */
const notRun = (): never => {
  throw new Error('the config layer must not create connectors');
};

const gen: ConnectorDefinition = {
  name: 'gen',
  description: 'Generates rows.',
  source: defineSource({
    options: z.object({
      rows: z.number().int().min(0).default(100).meta({ description: 'Rows to generate.' }),
      splits: z.number().int().min(1).default(4).meta({ description: 'Splits.' }),
      label: z.string().optional().meta({ description: 'A label.' }),
    }),
    create: notRun,
  }),
};

const db: ConnectorDefinition = {
  name: 'db',
  description: 'Reads a table.',
  source: defineSource({
    options: z.object({
      host: z.string().meta({ description: 'Host.' }),
      port: z.number().int().default(5432).meta({ description: 'Port.' }),
      table: z.string().meta({ description: 'Table.' }),
      password: z.string().meta({ description: 'Password.', secret: true }),
      timeout: duration().default(1000).meta({ description: 'Timeout.' }),
    }),
    create: notRun,
  }),
};

const upper: ConnectorDefinition = {
  name: 'upper',
  description: 'Upper-cases a field.',
  transform: defineTransform({
    options: z.object({ field: z.string().meta({ description: 'Field.' }) }),
    create: notRun,
  }),
};

const file: ConnectorDefinition = {
  name: 'file',
  description: 'Writes files.',
  sink: defineSink({
    options: z.object({
      path: z.string().meta({ description: 'Directory.' }),
      format: z.enum(['jsonl', 'csv', 'arrow']).default('jsonl').meta({ description: 'Format.' }),
      access_key: z.string().optional().meta({ description: 'Key.', secret: true }),
    }),
    create: notRun,
  }),
};

export const registry = new ConnectorRegistry([gen, db, upper, file]);
