import type { Schema } from 'apache-arrow';
import { describeError, errorCode } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import type { JobConfig } from './job-config.js';
import { stderrLogger } from './logger.js';
import { planJobOrThrow } from './plan.js';
import { DEAD_LETTER_SCHEMA } from './dirty-data.js';
import type { ConnectorRegistry } from './registry.js';

export interface ConnectionCheck {
  /** `source[0]`, `sink[1]`. */
  path: string;
  name: string;
  type: string;
  status: 'ok' | 'failed' | 'skipped';
  detail: string;
  code?: string;
}

/**
 * Contacts what each source and sink of a job points at, without reading or writing data: a source's
 * `check` (or its prepare and schema), a sink's `check`. Every stage is checked; failures are reported, not
 * thrown.
 */
export async function checkConnections(
  config: JobConfig,
  options: { registry: ConnectorRegistry; baseDir?: string; logger?: Logger; signal?: AbortSignal },
): Promise<ConnectionCheck[]> {
  const plan = planJobOrThrow(config, options.registry);
  const logger = options.logger ?? stderrLogger('warn');
  const signal = options.signal ?? new AbortController().signal;
  const context = { jobName: plan.env.name, mode: plan.env.mode, parallelism: plan.env.parallelism, logger, baseDir: options.baseDir ?? process.cwd() };
  const results: ConnectionCheck[] = [];
  // Only these three fields of a stage reach the result: its options may hold secrets.
  const attempt = async ({ path, name, type }: { path: string; name: string; type: string }, action: () => Promise<string>) => {
    try {
      results.push({ path, name, type, status: 'ok', detail: await action() });
    } catch (error) {
      results.push({ path, name, type, status: 'failed', detail: describeError(error), code: errorCode(error) });
    }
  };
  /** The schema of each stream, where the check learned it: sinks compare their target against it. */
  const streams = new Map<string, Schema>();
  for (const stage of plan.sources) {
    await attempt(stage, async () => {
      const source = await stage.factory.create(stage.options as never, context);
      try {
        if (source.check) await source.check({ signal });
        else await source.prepare?.({ signal });
        const schema = await source.schema({ signal }).catch(() => undefined);
        if (schema && stage.output) streams.set(stage.output, schema);
        if (source.check || !schema) return 'reachable';
        return `reachable; ${schema.fields.length} columns: ${schema.fields.map((f) => f.name).join(', ')}`;
      } finally {
        await source.close?.();
      }
    });
  }
  for (const stage of plan.transforms) {
    const input = stage.input === undefined ? undefined : streams.get(stage.input);
    if (!input || !stage.output) continue;
    try {
      const transform = await stage.factory.create(stage.options as never, { ...context, input: stage.input });
      streams.set(stage.output, transform.outputSchema(input));
      await transform.close?.();
    } catch {
      // A transform that cannot be built here is reported by validation; its sinks are checked without a schema.
    }
  }
  for (const stage of plan.sinks) {
    const sink = await stage.factory.create(stage.options as never, context);
    if (!sink.check) {
      results.push({ path: stage.path, name: stage.name, type: stage.type, status: 'skipped', detail: `the ${stage.type} sink has no connectivity check` });
      await sink.close?.();
      continue;
    }
    await attempt(stage, async () => {
      try {
        // A dead-letter sink receives rejected rows in their own schema, not a stream.
        const schema = stage.deadLetterFor !== undefined ? DEAD_LETTER_SCHEMA : stage.input === undefined ? undefined : streams.get(stage.input);
        await sink.check!({
          jobName: plan.env.name,
          attemptId: 'check',
          sinkName: stage.name,
          parallelism: plan.env.parallelism,
          logger,
          signal,
          prepared: undefined,
          restoredCheckpointId: null,
          ...(schema ? { schema } : {}),
        });
        return 'reachable and writable';
      } finally {
        await sink.close?.();
      }
    });
  }
  return results;
}
