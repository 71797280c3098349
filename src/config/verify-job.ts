import { resolve } from 'node:path';
import type { Schema } from 'apache-arrow';
import { ensureDirectory } from '../api/durable-fs.js';
import type { ConfigIssue } from '../api/errors.js';
import { describeError, TidewayError } from '../api/errors.js';
import { silentLogger } from '../api/logger.js';
import type { Source } from '../api/source.js';
import { factoryContext, type JobPlan } from '../engine/plan.js';

/**
 * Built-in sources whose `schema()` is computed from their options alone, with no I/O: `check` (without
 * `--connect`) asks them for their columns so that a `select` or `filter` naming a missing column is reported
 * before anything runs. Other sources are asked only by `check --connect` and at run time.
 */
export const SCHEMA_WITHOUT_IO: ReadonlySet<string> = new Set(['fake']);

export interface VerifyOptions {
  /** Relative paths in options resolve against this directory. */
  baseDir: string;
  signal?: AbortSignal;
}

/**
 * Checks what planJob cannot see from the options alone, without any I/O: a source that never ends in batch
 * mode, and transforms that name columns their input stream does not have (for sources in SCHEMA_WITHOUT_IO).
 * Connectors are built by their factories, which must not do I/O; nothing is prepared or read. Every problem
 * comes back as a ConfigIssue with the key path it concerns, so the loader can locate it in the file.
 */
export async function verifyPlan(plan: JobPlan, options: VerifyOptions): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  const signal = options.signal ?? new AbortController().signal;
  const context = factoryContext(plan, options.baseDir, silentLogger);
  const schemas = new Map<string, Schema>();

  for (const stage of plan.sources) {
    let source: Source | undefined;
    try {
      source = await stage.factory.create(stage.options as never, context);
      if (plan.env.mode === 'batch' && source.boundedness === 'unbounded') {
        issues.push({
          path: stage.options.unbounded === true ? `${stage.path}.unbounded` : stage.path,
          message: `this ${stage.type} source is unbounded, so it never ends in env.mode: batch; set env.mode: streaming (or make the source bounded)`,
        });
      }
      if (SCHEMA_WITHOUT_IO.has(stage.type) && stage.output) schemas.set(stage.output, await source.schema({ signal }));
    } catch (error) {
      issues.push(issueFrom(stage.path, error));
    } finally {
      await source?.close?.().catch(() => undefined);
    }
  }

  // Transforms may be listed in any order; follow the streams until no more schemas can be derived.
  const pending = [...plan.transforms];
  for (let progressed = true; progressed; ) {
    progressed = false;
    for (const stage of [...pending]) {
      const input = stage.input === undefined ? undefined : schemas.get(stage.input);
      if (!input) continue;
      pending.splice(pending.indexOf(stage), 1);
      progressed = true;
      try {
        const transform = await stage.factory.create(stage.options as never, { ...context, input: stage.input });
        try {
          const output = transform.outputSchema(input);
          if (stage.output) schemas.set(stage.output, output);
        } finally {
          await transform.close?.().catch(() => undefined);
        }
      } catch (error) {
        issues.push(issueFrom(stage.path, error));
      }
    }
  }
  return issues;
}

/** A connector's error as an issue: at the option its context names, else at the stage. */
function issueFrom(stagePath: string, error: unknown): ConfigIssue {
  const option = error instanceof TidewayError && typeof error.context.option === 'string' ? error.context.option : undefined;
  const issue: ConfigIssue = { path: option ? `${stagePath}.${option}`.replace(/\.\[/g, '[') : stagePath, message: describeError(error) };
  const { line, column } = error instanceof TidewayError ? error.context : {};
  if (option && typeof line === 'number' && typeof column === 'number') issue.within = { line, col: column };
  return issue;
}

/**
 * Creates the job's checkpoint directory, as every run needs it (`tideway run`, the job server), so that a file
 * in its way, or a path under /proc or /sys, is a config issue at env.checkpoint.dir with the path error's code
 * (`PATH_NOT_DIRECTORY`, `PATH_SYSTEM_DIRECTORY`, `PATH_NOT_WRITABLE`) rather than an errno from deep in the
 * run. Returns that issue, or undefined once the directory exists. Other errors are thrown.
 */
export async function prepareCheckpointDir(plan: JobPlan, baseDir: string): Promise<(ConfigIssue & { code: string }) | undefined> {
  try {
    await ensureDirectory(resolve(baseDir, plan.env.checkpoint.dir), { option: 'checkpoint.dir' });
    return undefined;
  } catch (error) {
    if (!(error instanceof TidewayError) || !error.code.startsWith('PATH_')) throw error;
    return { path: 'env.checkpoint.dir', message: `[${error.code}] ${error.message}`, code: error.code };
  }
}
