import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from 'yaml';
import type { ConfigIssue } from '../api/errors.js';
import { joinPath } from '../api/options.js';
import { type NodeLocation, SourceLocations } from './source-locations.js';
import { substituteVariables, type VariableSources, yamlCoreScalar } from './variables.js';

/** A scalar whose text contained variable references, kept so the loader can choose its final type. */
export interface Substitution {
  /** Key path of the value, e.g. `source[0].rows`. */
  path: string;
  /** The container holding the value and its key, so the value can be switched between `typed` and `text`. */
  holder: Record<string, unknown> | unknown[];
  key: string | number;
  /** The substituted text. */
  text: string;
  /** What YAML would make of `text` written unquoted in the file (a number, boolean, null), or `text` itself. */
  typed: unknown;
  /** Variables whose values went into `text`. */
  variables: string[];
}

export interface ReadYamlResult {
  /** The document as plain data, with variables substituted; undefined when the file is not valid YAML. */
  value: unknown;
  locations: SourceLocations;
  substitutions: Substitution[];
  /** YAML syntax errors and variable problems, located. */
  issues: ConfigIssue[];
}

/**
 * Parses one YAML document keeping every node's position, and substitutes variables in scalar values (never in
 * keys). Unquoted values are typed after substitution as YAML types them; quoted values stay text.
 */
export function readYaml(text: string, file: string, sources: VariableSources): ReadYamlResult {
  const lineCounter = new LineCounter();
  const byPath = new Map<string, NodeLocation>();
  const locations = new SourceLocations(file, byPath, text);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_DOCUMENT_BYTES) {
    const message = `the job file is ${bytes} bytes; a job file may have at most ${MAX_DOCUMENT_BYTES} (1 MiB). Is this the right file?`;
    return { value: undefined, locations, substitutions: [], issues: [{ path: '', message, location: { file, line: 1, col: 1 } }] };
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line, col };
  };
  const issues: ConfigIssue[] = doc.errors.map((error) => ({
    path: '',
    message: `invalid YAML: ${error.message}`,
    location: { file, ...position(error.pos[0]) },
  }));
  if (issues.length > 0) return { value: undefined, locations, substitutions: [], issues };

  const substitutions: Substitution[] = [];
  const walker = new Walker(doc, text, sources, position, byPath, substitutions, issues, file);
  const root = doc.contents as Node | null;
  byPath.set('', { value: root?.range ? position(root.range[0]) : { line: 1, col: 1 } });
  const holder: { root?: unknown } = {};
  holder.root = root ? walker.convert(root, '', holder as Record<string, unknown>, 'root', 0) : null;
  return { value: holder.root, locations, substitutions, issues };
}

const MAX_DEPTH = 64;
/** Job files are small; a larger file is a mistake (or an attack), refused before parsing. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
/**
 * Values an alias may bring in, counted over the whole document. An alias repeats its anchor's block, so
 * nested aliases multiply (8 levels of 9 aliases expand to 43 million values: the "billion laughs"); job files
 * use aliases to share a few options, far below this.
 */
export const MAX_ALIAS_EXPANSION = 10_000;

class Walker {
  constructor(
    private readonly doc: Document,
    private readonly text: string,
    private readonly sources: VariableSources,
    private readonly position: (offset: number) => { line: number; col: number },
    private readonly byPath: Map<string, NodeLocation>,
    private readonly substitutions: Substitution[],
    private readonly issues: ConfigIssue[],
    private readonly file: string,
  ) {}

  /** Values produced inside aliases so far, and whether the budget was exceeded (then nothing more is converted). */
  private expanded = 0;
  private aliasDepth = 0;
  private exhausted = false;

  convert(node: unknown, path: string, holder: Record<string, unknown> | unknown[], key: string | number, depth: number): unknown {
    if (this.exhausted) return null;
    if (this.aliasDepth > 0 && ++this.expanded > MAX_ALIAS_EXPANSION) {
      this.exhausted = true;
      this.issue(path, `aliases (*name) expand to more than ${MAX_ALIAS_EXPANSION} values; nested aliases multiply, so write the repeated options out or use fewer levels of aliases`, node);
      return null;
    }
    if (depth > MAX_DEPTH) {
      this.issue(path, 'nesting is too deep (an alias refers to itself?)', node);
      return null;
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) {
        this.issue(path, `alias "*${node.source}" refers to no anchor; define "&${node.source}" before it`, node);
        return null;
      }
      this.aliasDepth++;
      try {
        return this.convert(target, path, holder, key, depth + 1);
      } finally {
        this.aliasDepth--;
      }
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        if (keyNode !== null && !isScalar(keyNode)) {
          this.issue(path, 'keys must be plain text, not lists or mappings', keyNode);
          continue;
        }
        const name = keyNode === null || keyNode.value === null ? '' : String(keyNode.value);
        const childPath = joinPath(path, [name]);
        const valueNode = pair.value as Node | null;
        const keyAt = keyNode?.range ? this.position(keyNode.range[0]) : this.nodeStart(node);
        // `key:` with nothing after it: point at the key for the value too.
        const valueAt = valueNode?.range ? this.position(valueNode.range[0]) : keyAt;
        this.byPath.set(childPath, { key: keyAt, value: valueAt });
        out[name] = valueNode === null ? null : this.convert(valueNode, childPath, out, name, depth + 1);
      }
      return out;
    }
    if (isSeq(node)) {
      const out: unknown[] = [];
      node.items.forEach((item, index) => {
        const childPath = joinPath(path, [index]);
        const itemNode = item as Node | null;
        this.byPath.set(childPath, { value: itemNode?.range ? this.position(itemNode.range[0]) : this.nodeStart(node) });
        out.push(itemNode === null ? null : this.convert(itemNode, childPath, out, index, depth + 1));
      });
      return out;
    }
    if (isScalar(node)) return this.scalar(node, path, holder, key);
    return null;
  }

  private scalar(node: Scalar, path: string, holder: Record<string, unknown> | unknown[], key: string | number): unknown {
    if (typeof node.value !== 'string' || !node.value.includes('$')) return node.value;
    const value = node.value;
    const result = substituteVariables(value, this.sources);
    for (const problem of result.problems) {
      this.issues.push({ path, message: problem.message, location: { file: this.file, ...this.position(this.sourceOffset(node, value, problem.index)) } });
    }
    if (!result.changed) return value;
    const typed = node.type === Scalar.PLAIN && !node.tag ? yamlCoreScalar(result.text) : result.text;
    this.substitutions.push({ path, holder, key, text: result.text, typed, variables: result.used });
    return typed;
  }

  /** The file offset of `value[index]`, found by matching the reference's text inside the scalar's source. */
  private sourceOffset(node: Scalar, value: string, index: number): number {
    const start = node.range?.[0] ?? 0;
    const end = node.range?.[1] ?? start;
    const source = this.text.slice(start, end);
    const closing = value.indexOf('}', index);
    const reference = value.slice(index, closing < 0 ? undefined : closing + 1);
    let occurrence = 0;
    for (let at = value.indexOf(reference); at >= 0 && at < index; at = value.indexOf(reference, at + 1)) occurrence++;
    let found = -1;
    for (let n = 0; n <= occurrence; n++) {
      found = source.indexOf(reference, found + 1);
      if (found < 0) return start;
    }
    return start + found;
  }

  private nodeStart(node: Node): { line: number; col: number } {
    return node.range ? this.position(node.range[0]) : { line: 1, col: 1 };
  }

  private issue(path: string, message: string, node: unknown): void {
    const range = (node as Node | null)?.range;
    this.issues.push({ path, message, location: { file: this.file, ...(range ? this.position(range[0]) : { line: 1, col: 1 }) } });
  }
}
