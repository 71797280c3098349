import { type ConnectorDefinition, defineSink, defineSource } from '../../src/api/connector.js';
import { mysqlSinkOptions, mysqlSourceOptions } from './options.js';

/** MySQL and MariaDB: a parallel, resumable source (keyset-paged range splits) and an exactly-once sink (staging tables and a commit log). */
// The implementation (and its driver) is loaded when a job uses the connector, not by every process that lists it.
export const mysqlConnector: ConnectorDefinition = {
  name: 'mysql',
  description: 'Reads MySQL and MariaDB tables or queries in parallel range splits, resumable mid-split; writes tables exactly once (append or upsert).',
  source: defineSource({ options: mysqlSourceOptions, create: async (options, context) => new (await import('./source.js')).MysqlSource(options, context) }),
  sink: defineSink({ options: mysqlSinkOptions, create: async (options, context) => new (await import('./sink.js')).MysqlSink(options, context) }),
  example: [
    'source:',
    '  - type: mysql',
    '    url: ${MYSQL_URL:-mysql://root@127.0.0.1:3306/test}',
    '    table: orders',
    '    split_size: 50000',
    'sink:',
    '  - type: mysql',
    '    url: ${MYSQL_URL:-mysql://root@127.0.0.1:3306/test}',
    '    table: orders_copy',
    '    mode: upsert              # or append (exactly once by default)',
  ].join('\n'),
};

export type { MysqlSource, MysqlSplit, MysqlEnumeratorState } from './source.js';
export type { MysqlSink, MysqlCommitter, MysqlCommitInfo, MysqlWriterState } from './sink.js';
export { mysqlSinkOptions, mysqlSourceOptions, type MysqlSinkOptions, type MysqlSourceOptions } from './options.js';
