import { type ConnectorDefinition, defineSource } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import { FakeSource } from './source.js';

const options = z.object({
  rows: z.number().int().min(0).default(1000).meta({ description: 'Rows to produce (bounded mode); ids are 0 .. rows-1.' }),
  splits: z.number().int().min(1).default(4).meta({ description: 'Number of splits the rows are divided into.' }),
  seed: z.number().int().default(42).meta({ description: 'Seed of the generator: the same seed gives the same rows.' }),
  chunk_rows: z.number().int().min(1).default(8192).meta({ description: 'Rows per batch (and per read under the checkpoint lock).' }),
  rows_per_second: z.number().positive().optional().meta({ description: 'Caps the total rate across readers; unlimited when unset.' }),
  unbounded: z.boolean().default(false).meta({ description: 'Produce rows forever (needs env.mode: streaming); ids stay unique.' }),
});

export const fakeConnector: ConnectorDefinition = {
  name: 'fake',
  description: 'Deterministic rows from a seed: a unique id and common types; bounded or endless, optionally rate-limited.',
  source: defineSource({ options, create: (o) => new FakeSource(o) }),
  example: `source:\n  - type: fake\n    rows: 100000\n    splits: 8\n    seed: 7`,
};
