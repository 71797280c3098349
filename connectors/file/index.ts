import { type ConnectorDefinition, defineSink } from '../../src/api/connector.js';
import { byteSize, z } from '../../src/api/options.js';
import { formatOptionsSchema, refineFormatOptions } from '../../src/formats/options.js';
import { FileSink } from './sink.js';
import { fileSource } from './source.js';

export const fileSinkOptions = z
  .object({
    path: z.string().min(1).meta({ description: 'Output directory (created if missing); relative paths resolve against the working directory.' }),
    ...formatOptionsSchema.shape,
    file_prefix: z.string().regex(/^[A-Za-z0-9._-]+$/).default('part').meta({ description: 'Start of every output file name.' }),
    max_file_size: byteSize().default(128 * 1024 * 1024).meta({ description: 'Roll to a new file after this many bytes (e.g. 64MiB).' }),
    data_save_mode: z
      .enum(['error', 'overwrite', 'append'])
      .default('error')
      .meta({
        description:
          "What a new run (not a resume) does with output an earlier run of the same job committed under path: error refuses to write (nothing of the new run becomes visible), overwrite removes that output at the new run's first commit, append keeps it (rows both runs read are then there twice). Other jobs' and other programs' files are never touched.",
      }),
  })
  .superRefine(refineFormatOptions);

/** The file sink's options as a job writes them (durations and sizes may be strings). */
export type FileSinkConfig = z.input<typeof fileSinkOptions>;

export const fileConnector: ConnectorDefinition = {
  name: 'file',
  description: 'Reads and writes JSON Lines, CSV, Arrow IPC or Parquet files: a file, directory or glob as a source; a local directory, exactly once, as a sink.',
  source: fileSource,
  sink: defineSink({ options: fileSinkOptions, create: (o, context) => new FileSink(o, context.baseDir) }),
  example: `sink:\n  - type: file\n    path: out/orders\n    format: parquet\n    max_file_size: 64MiB`,
};
