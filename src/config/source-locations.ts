import type { ConfigIssue } from '../api/errors.js';

export interface SourcePosition {
  line: number;
  col: number;
}

/** Where a value sits in the job file: its key (absent for list items and the root) and the value itself. */
export interface NodeLocation {
  key?: SourcePosition;
  value: SourcePosition;
}

/**
 * Maps key paths in the job's path syntax (`sink[0].format`, `env.checkpoint.interval`) to positions in the
 * file. A path that does not exist in the file (a missing required key) resolves to its nearest ancestor:
 * the mapping where the key should be added.
 */
export class SourceLocations {
  constructor(
    readonly file: string,
    private readonly byPath: ReadonlyMap<string, NodeLocation>,
    /** The file's text, to place a position inside a value (`ConfigIssue.within`). */
    private readonly text?: string,
  ) {}

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  /** The position of the key (`target: 'key'`) or of the value at `path`, falling back to the nearest ancestor. */
  locate(path: string, target: 'key' | 'value'): { file: string; line: number; col: number } {
    let current: string | undefined = path;
    let exact = true;
    while (current !== undefined) {
      const found = this.byPath.get(current);
      if (found) {
        const position = exact && target === 'key' && found.key ? found.key : found.value;
        return { file: this.file, line: position.line, col: position.col };
      }
      current = parentPath(current);
      exact = false;
    }
    return { file: this.file, line: 1, col: 1 };
  }

  /** The issue with its location filled in: the key for unknown keys, the value for wrong values. */
  attach(issue: ConfigIssue): ConfigIssue {
    if (issue.location) return issue;
    const location = this.locate(issue.path, issueTarget(issue));
    const inside = issue.within && this.has(issue.path) ? this.inside(location, issue.within) : undefined;
    return { ...issue, location: inside ?? location };
  }

  /**
   * The file position of `within` (line and column inside a text value) when the value starts at `value`: for a
   * `|` block, line n of the text is the n-th line after the indicator, at the block's indentation; for a plain
   * or quoted one-line value, the column adds up when no escape comes before it. Otherwise undefined (the
   * caller keeps the value's own position).
   */
  private inside(value: { file: string; line: number; col: number }, within: { line: number; col: number }) {
    const lines = this.text?.split(/\r?\n/);
    const first = lines?.[value.line - 1];
    if (!lines || first === undefined) return undefined;
    const indicator = first.slice(value.col - 1);
    if (/^\|[-+]?\s*(#.*)?$/.test(indicator)) {
      let start = value.line;
      while (start < lines.length && lines[start]!.trim() === '') start++;
      const indent = /^ */.exec(lines[start] ?? '')![0].length;
      const line = start + within.line;
      if (line > lines.length || indent === 0) return undefined;
      return { file: value.file, line, col: indent + within.col };
    }
    if (within.line !== 1 || indicator.startsWith('>')) return undefined;
    const quoted = indicator.startsWith('"') || indicator.startsWith("'");
    const before = indicator.slice(quoted ? 1 : 0, (quoted ? 1 : 0) + within.col - 1);
    if (before.length < within.col - 1 || (quoted && /\\|''/.test(before))) return undefined;
    return { file: value.file, line: value.line, col: value.col + (quoted ? 1 : 0) + within.col - 1 };
  }
}

/**
 * Unknown keys are located at the key (the key is what is wrong); every other issue at the value (or, for a
 * missing key, at the mapping that should hold it). planJob's issues carry no code, so this reads the
 * message prefix that `parseOptions` and `planJob` use for unknown keys.
 */
function issueTarget(issue: ConfigIssue): 'key' | 'value' {
  return /^unknown (option|section) /.test(issue.message) ? 'key' : 'value';
}

/** `sink[0].format` -> `sink[0]` -> `sink` -> `` -> undefined. */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const match = /(?:\.[^.[\]]+|\[\d+\])$/.exec(path);
  return match ? path.slice(0, match.index) : '';
}
