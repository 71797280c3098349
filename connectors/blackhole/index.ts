import { type ConnectorDefinition, defineSink } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import { directSink } from '../../src/api/simple-sink.js';

export const blackholeConnector: ConnectorDefinition = {
  name: 'blackhole',
  description: 'Counts rows and discards them: measures a source or transform without a sink in the way.',
  sink: defineSink({
    options: z.object({}),
    create: () =>
      directSink(() => {
        const stats = { rowsWritten: 0, bytesWritten: 0 };
        return {
          stats,
          write(batch) {
            stats.rowsWritten += batch.numRows;
          },
        };
      }),
  }),
  example: `sink:\n  - type: blackhole`,
};
