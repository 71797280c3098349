import type { z } from 'zod';
import type { Json } from './json.js';
import type { Logger } from './logger.js';
import type { OptionsSchema } from './options.js';
import type { Sink } from './sink.js';
import type { Source, SourceSplit } from './source.js';
import type { Transform } from './transform.js';

/** What a connector factory gets besides its options. */
export interface FactoryContext {
  readonly jobName: string;
  readonly mode: 'batch' | 'streaming';
  readonly parallelism: number;
  readonly logger: Logger;
  /** Directory of the job file (or the working directory), to resolve relative paths against. */
  readonly baseDir: string;
  /** The name of the stream a transform stage reads, when the caller knows it (the sql transform's FROM). */
  readonly input?: string;
}

export interface SourceFactory<O extends OptionsSchema = OptionsSchema> {
  readonly options: O;
  create(options: z.output<O>, context: FactoryContext): Source<SourceSplit, Json> | Promise<Source<SourceSplit, Json>>;
}

export interface SinkFactory<O extends OptionsSchema = OptionsSchema> {
  readonly options: O;
  create(options: z.output<O>, context: FactoryContext): Sink<Json, Json> | Promise<Sink<Json, Json>>;
}

export interface TransformFactory<O extends OptionsSchema = OptionsSchema> {
  readonly options: O;
  create(options: z.output<O>, context: FactoryContext): Transform | Promise<Transform>;
}

/**
 * A connector: a name, a one-line description, and the capabilities it has. Connectors are registered in
 * one explicit list (connectors/index.ts), never by import side effects.
 */
export interface ConnectorDefinition {
  readonly name: string;
  readonly description: string;
  readonly source?: SourceFactory;
  readonly sink?: SinkFactory;
  readonly transform?: TransformFactory;
  /** An example job block for the connector's README. */
  readonly example?: string;
}

/** Keeps the option type flowing from the schema into `create`. */
export function defineSource<O extends OptionsSchema>(factory: SourceFactory<O>): SourceFactory {
  return factory as unknown as SourceFactory;
}
export function defineSink<O extends OptionsSchema>(factory: SinkFactory<O>): SinkFactory {
  return factory as unknown as SinkFactory;
}
export function defineTransform<O extends OptionsSchema>(factory: TransformFactory<O>): TransformFactory {
  return factory as unknown as TransformFactory;
}
