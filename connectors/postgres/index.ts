import { type ConnectorDefinition, defineSink, defineSource } from '../../src/api/connector.js';
import { sinkOptionsSchema, sourceOptionsSchema } from './options.js';

// The implementation (and its driver) is loaded when a job uses the connector, not by every process that lists it.
export const postgresConnector: ConnectorDefinition = {
  name: 'postgres',
  description: 'PostgreSQL: parallel snapshot-consistent reads over COPY TO STDOUT; exactly-once writes over COPY FROM STDIN, staging tables and a commit log (no prepared transactions needed).',
  source: defineSource({ options: sourceOptionsSchema, create: async (options, context) => new (await import('./source.js')).PostgresSource(options, context) }),
  sink: defineSink({ options: sinkOptionsSchema, create: async (options, context) => new (await import('./sink.js')).PostgresSink(options, context) }),
  example: [
    'source:',
    '  - type: postgres',
    '    url: ${PG_URL:-postgres://postgres@127.0.0.1:5432/test}',
    '    table: public.orders',
    '    partition_column: id      # default: an integer primary key',
    'sink:',
    '  - type: postgres',
    '    url: ${PG_URL:-postgres://postgres@127.0.0.1:5432/test}',
    '    table: public.orders_copy',
    '    data_save_mode: truncate  # in the first commit\'s transaction',
  ].join('\n'),
};

export type { PostgresCommitInfo, PostgresWriterState } from './sink.js';
export type { PostgresSplit, PostgresEnumeratorState } from './source.js';
export type { PostgresSinkOptions, PostgresSourceOptions } from './options.js';
