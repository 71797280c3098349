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
    return { ...issue, location: this.locate(issue.path, issueTarget(issue)) };
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
