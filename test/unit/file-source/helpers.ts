import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import { silentLogger } from '../../../src/api/logger.js';
import { generateBatch } from '../../../connectors/fake/generator.js';
import { FileSource, type FileSourceOptions, fileSourceOptions, type FileSplit, FileSplitReader } from '../../../connectors/file/source.js';
import { createEncoder, type EncoderOptions, type FileFormat } from '../../../src/formats/index.js';

/** Writes `rows` fake rows (ids from `first`) as one file of `format`. */
export function writeRows(path: string, format: FileFormat, rows: number, options: EncoderOptions & { first?: number; batchRows?: number } = {}): void {
  const first = options.first ?? 0;
  const batchRows = options.batchRows ?? 1000;
  const encoder = createEncoder(format, generateBatch(7, 0, 1).schema, options);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < rows; at += batchRows) chunks.push(...encoder.encode(generateBatch(7, first + at, Math.min(batchRows, rows - at))));
  chunks.push(...encoder.finish());
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat(chunks));
}

export function fileSource(options: Record<string, unknown>, baseDir: string): FileSource {
  return new FileSource(fileSourceOptions.parse(options) as FileSourceOptions, { baseDir, logger: silentLogger });
}

/** Every split the enumerator hands out, in order. */
export async function planSplits(source: FileSource): Promise<FileSplit[]> {
  const signal = new AbortController().signal;
  await source.schema({ signal });
  const assigned: FileSplit[] = [];
  let done = false;
  const enumerator = await source.createEnumerator({
    parallelism: 1,
    jobName: 't',
    logger: silentLogger,
    signal,
    registeredReaders: () => new Set([0]),
    assignSplit: (_reader, splits) => assigned.push(...splits),
    signalNoMoreSplits: () => {
      done = true;
    },
    sendEventToReader() {},
  });
  await enumerator.run();
  while (!done) await enumerator.handleSplitRequest(0);
  return assigned;
}

export async function splitReader(source: FileSource, options: Record<string, unknown>): Promise<FileSplitReader> {
  const schema = await source.schema({ signal: new AbortController().signal });
  return new FileSplitReader(fileSourceOptions.parse(options) as FileSourceOptions, schema);
}

/** Reads a split to its end in chunks of `maxRows`; returns the batches and the split after each chunk. */
export async function readToEnd(reader: FileSplitReader, split: FileSplit, maxRows: number, limit = Number.POSITIVE_INFINITY): Promise<{ batches: RecordBatch[]; positions: FileSplit[]; finished: boolean }> {
  const signal = new AbortController().signal;
  const batches: RecordBatch[] = [];
  const positions: FileSplit[] = [];
  let current = split;
  for (let chunks = 0; chunks < limit; chunks++) {
    const chunk = await reader.read(current, { maxRows, signal });
    batches.push(...chunk.batches);
    current = chunk.next;
    positions.push(current);
    if (chunk.finished) return { batches, positions, finished: true };
  }
  return { batches, positions, finished: false };
}

export function ids(batches: readonly RecordBatch[]): number[] {
  const out: number[] = [];
  for (const batch of batches) {
    const column = batch.getChild('id')!;
    for (let i = 0; i < batch.numRows; i++) out.push(Number(column.get(i)));
  }
  return out;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
