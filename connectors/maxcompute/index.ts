import { type ConnectorDefinition, defineSource } from '../../src/api/connector.js';
import { maxComputeSourceOptions } from './options.js';
import { MaxComputeSource } from './source.js';

/**
 * Reads MaxCompute (ODPS) tables over the Tunnel download protocol: one snapshot per table or partition,
 * row-range splits, record or Arrow wire format, resumable reads.
 */
export const maxcompute: ConnectorDefinition = {
  name: 'maxcompute',
  description: 'Reads a MaxCompute table or partitions over the Tunnel protocol (record or Arrow format).',
  source: defineSource({
    options: maxComputeSourceOptions,
    create: (options, context) => new MaxComputeSource(options, context),
  }),
  example: [
    'source:',
    '  - type: maxcompute',
    '    endpoint: http://service.cn-hangzhou.maxcompute.aliyun.com/api',
    '    project: sales',
    '    table_name: orders',
    '    partition_spec: ds=20240101',
    '    access_id: ${MAXCOMPUTE_ACCESS_ID}',
    '    access_key: ${MAXCOMPUTE_ACCESS_KEY}',
  ].join('\n'),
};

/** Alias in the style of the other connectors' exports. */
export const maxcomputeConnector = maxcompute;

export { MaxComputeSource, type MaxComputeSplit, type MaxComputeEnumeratorState } from './source.js';
export { maxComputeSourceOptions, type MaxComputeSourceOptions } from './options.js';
export { TunnelClient, type TunnelClientOptions } from './client/tunnel-client.js';
export type { DownloadSession } from './client/session.js';
export type { TunnelRowReader, ReadFormat } from './client/row-reader.js';
export {
  startMaxComputeEmulator,
  startEmbeddedMaxCompute,
  DEMO_PROJECT,
  DEMO_ACCESS_ID,
  DEMO_ACCESS_KEY,
  type MaxComputeEmulator,
  type MaxComputeEmulatorOptions,
  type FaultRule,
  type TableFixture,
  type JournalEntry,
} from './emulator/index.js';
