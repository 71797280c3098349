import { describeError, errorCode, formatIssue, type ConfigIssue, TidewayError } from '../api/errors.js';

/** `error [CODE]: message (connector file, split 3, object out/x.jsonl)`, and the stack only when verbose. */
export function errorText(error: unknown, verbose: boolean): string {
  const context = error instanceof TidewayError ? contextText(error.context) : '';
  const head = `error [${errorCode(error)}]: ${describeError(error)}${context}\n`;
  return verbose && error instanceof Error && error.stack ? `${head}${error.stack}\n` : head;
}

/** The same line for an error that reached the CLI as data (a failed JobResult). */
export function errorLine(error: { code: string; message: string }): string {
  return `error [${error.code}]: ${error.message}\n`;
}

const CONTEXT_WORDS: Record<string, string> = { connector: 'connector', splitId: 'split', object: 'object', path: 'path' };

function contextText(context: Record<string, unknown>): string {
  const parts = Object.entries(context)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${CONTEXT_WORDS[k] ?? k} ${String(v)}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** Every config issue on its own line, then what it means: nothing ran. */
export function issuesText(file: string, issues: readonly ConfigIssue[]): string {
  const lines = issues.map(formatIssue);
  const summary = `${issues.length} ${issues.length === 1 ? 'problem' : 'problems'} in ${file}; nothing ran`;
  return `${lines.join('\n')}\n${summary}\n`;
}
