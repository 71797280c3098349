import { type ConnectorDefinition, defineSink } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import { directSink } from '../../src/api/simple-sink.js';
import { createEncoder } from '../../src/formats/encoder.js';

export const consoleSinkOptions = z.object({
  limit: z.number().int().min(0).default(20).meta({ description: 'Rows printed per writer; the rest are counted, not shown. 0 prints all.' }),
  target: z.enum(['stdout', 'stderr']).default('stderr').meta({ description: 'Where rows are printed. stderr keeps stdout free for `--json` reports.' }),
});

/** The console sink's options as a job writes them. */
export type ConsoleSinkConfig = z.input<typeof consoleSinkOptions>;

export const consoleConnector: ConnectorDefinition = {
  name: 'console',
  description: 'Prints rows as JSON lines, to look at a stream while building a job.',
  sink: defineSink({
    options: consoleSinkOptions,
    create: (o) =>
      directSink((context) => {
        const out = o.target === 'stdout' ? process.stdout : process.stderr;
        const stats = { rowsWritten: 0, bytesWritten: 0 };
        return {
          stats,
          write(batch) {
            const room = o.limit === 0 ? batch.numRows : Math.max(0, o.limit - stats.rowsWritten);
            if (room > 0) {
              // The file sink's JSON Lines encoder, so both print every type alike (timestamps as ISO 8601).
              const encoder = createEncoder('jsonl', batch.schema);
              const chunks = [...encoder.encode(room < batch.numRows ? batch.slice(0, room) : batch), ...encoder.finish()];
              let text = Buffer.concat(chunks).toString('utf8');
              if (context.parallelism > 1) text = text.replace(/^(?=.)/gm, `[${context.writerIndex}] `);
              out.write(text);
              stats.bytesWritten += Buffer.byteLength(text);
            }
            stats.rowsWritten += batch.numRows;
          },
        };
      }),
  }),
  example: `sink:\n  - type: console\n    limit: 10`,
};
