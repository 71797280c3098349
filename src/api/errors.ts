/**
 * One root error class for everything Tideway raises. Each error has a stable `code`, typed context
 * (which connector, split, object or path), and a message that says what happened, where, and what to do.
 */
export interface ErrorContext {
  connector?: string;
  splitId?: string;
  path?: string;
  object?: string;
  [key: string]: string | number | boolean | undefined;
}

export interface TidewayErrorOptions {
  cause?: unknown;
  context?: ErrorContext;
  /** True when the engine may retry the operation (or restore the job) and expect a different outcome. */
  retryable?: boolean;
}

export class TidewayError extends Error {
  override readonly name: string = 'TidewayError';
  readonly code: string;
  readonly context: ErrorContext;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: TidewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
    this.retryable = options.retryable ?? false;
  }
}

/** A job or option configuration is invalid. `issues` lists every problem, not only the first. */
export class ConfigError extends TidewayError {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: TidewayErrorOptions = {}) {
    super('CONFIG_INVALID', formatIssues(issues), options);
    this.issues = issues;
  }
}

export interface ConfigIssue {
  /** Dotted key path inside the job, e.g. `sink[0].format`. */
  path: string;
  message: string;
  /** Where in the source file, when the job came from a file. */
  location?: { file: string; line: number; col: number };
  /** A position inside the option's text value (1-based), e.g. in a SQL query; the file position adds it. */
  within?: { line: number; col: number };
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.location ? `${issue.location.file}:${issue.location.line}:${issue.location.col}: ` : '';
  return `${where}${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  if (issues.length === 1 && issues[0]) return formatIssue(issues[0]);
  return `${issues.length} problems in the job configuration:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`;
}

/** Engine state machines raise this on a transition that must not happen; it always means a bug. */
export class IllegalStateError extends TidewayError {
  override readonly name = 'IllegalStateError';
  constructor(message: string, context: ErrorContext = {}) {
    super('ILLEGAL_STATE', message, { context });
  }
}

/** The job was cancelled through its AbortSignal (or SIGINT/SIGTERM in the CLI). */
export class CancelledError extends TidewayError {
  override readonly name = 'CancelledError';
  constructor(reason = 'the job was cancelled') {
    super('CANCELLED', reason);
  }
}

/** Returns the error's message with its causes, for logs: `a: b: c`. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      if (!parts.includes(current.message)) parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join(': ');
}

export function errorCode(error: unknown): string {
  return error instanceof TidewayError ? error.code : 'INTERNAL';
}
