import { type ConnectorDefinition, defineSink, defineSource } from '../../src/api/connector.js';
import { sinkOptionsSchema, sourceOptionsSchema } from './options.js';

// The implementation (and its driver) is loaded when a job uses the connector, not by every process that lists it.
export const ossConnector: ConnectorDefinition = {
  name: 'oss',
  description: 'Alibaba Cloud OSS through ali-oss: exactly-once, time-partitioned Parquet/Arrow/CSV/JSON Lines output; reads objects under a prefix.',
  sink: defineSink({ options: sinkOptionsSchema, create: async (options, context) => new (await import('./sink.js')).OssSink(options, context) }),
  source: defineSource({ options: sourceOptionsSchema, create: async (options, context) => new (await import('./source.js')).OssSource(options, context) }),
  example: [
    'sink:',
    '  - type: oss',
    '    endpoint: embedded        # or https://oss-cn-hangzhou.aliyuncs.com with access_key_id / access_key_secret',
    '    bucket: demo',
    '    path: warehouse/orders',
    '    format: parquet',
    '    partition_by:',
    '      time_column: created_at',
    '      granularity: day',
  ].join('\n'),
};

export type { OssCommitInfo } from './upload.js';
export type { OssWriterState } from './writer.js';
export type { OssSinkOptions, OssSourceOptions } from './options.js';
