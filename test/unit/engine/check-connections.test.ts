import { describe, expect, it } from 'vitest';
import { defineSink, defineSource, type ConnectorDefinition } from '../../../src/api/connector.js';
import { z } from '../../../src/api/options.js';
import type { SinkCheckContext } from '../../../src/api/sink.js';
import { builtinConnectors, checkConnections, ConnectorRegistry } from '../../../src/index.js';

const SECRET = 'pa55-word-that-must-not-leak';

describe('checkConnections', () => {
  it('returns no option of a stage (secrets included) and hands each sink the schema of its stream', async () => {
    const seen: SinkCheckContext[] = [];
    const sink: ConnectorDefinition = {
      name: 'checked',
      description: 'test sink with a secret option and a check',
      sink: defineSink({
        options: z.object({ password: z.string().meta({ description: 'a secret', secret: true }) }).strict(),
        create: () => ({
          async check(context) {
            seen.push(context);
          },
          createWriter: async () => {
            throw new Error('not used');
          },
          createCommitter: async () => {
            throw new Error('not used');
          },
        }),
      }),
    };
    const source: ConnectorDefinition = {
      name: 'secret-source',
      description: 'test source with a secret option',
      source: defineSource({
        options: z.object({ token: z.string().meta({ description: 'a secret', secret: true }) }).strict(),
        create: async (options, context) => {
          const fake = await builtinConnectors.find((c) => c.name === 'fake')!.source!.create({ rows: 1, splits: 1, seed: 1, chunk_rows: 1, unbounded: false } as never, context);
          void options;
          return fake;
        },
      }),
    };
    const results = await checkConnections(
      {
        env: { name: 'check-secrets' },
        source: [{ type: 'secret-source', token: SECRET }],
        transform: [{ type: 'select', columns: ['id', 'name'] }],
        sink: [{ type: 'checked', password: SECRET }],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, sink, source]) },
    );
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(JSON.stringify(results)).not.toContain(SECRET);
    for (const result of results) expect(Object.keys(result).sort()).toEqual(['detail', 'name', 'path', 'status', 'type']);
    expect(seen[0]?.schema?.fields.map((f) => f.name)).toEqual(['id', 'name']);
    expect(seen[0]?.restoredCheckpointId).toBeNull();
  });
});
