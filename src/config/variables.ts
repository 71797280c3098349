/**
 * Variable references in job files: `${NAME}`, `${NAME:-default}`, and `$${` for a literal `${`.
 *
 * Values come from `--var NAME=value` first, then the environment. As in the shell, the default applies when
 * the variable is unset or empty. Defaults are literal text (no nested references).
 */

/** Where variable values come from, in order of precedence. */
export interface VariableSources {
  /** `--var NAME=value` pairs. */
  vars?: Readonly<Record<string, string>>;
  /** Usually `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface VariableProblem {
  /** Offset of the `${` inside the text. */
  index: number;
  message: string;
}

export interface SubstitutionResult {
  /** The text with every resolvable reference replaced. */
  text: string;
  /** Names of the variables whose values went into `text` (not those that fell back to a default). */
  used: string[];
  /** True when the text contained any reference or escape, i.e. `text` may differ from the input. */
  changed: boolean;
  problems: VariableProblem[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Replaces every variable reference in `text`. Problems (unresolved or malformed references) are collected, not thrown. */
export function substituteVariables(text: string, sources: VariableSources): SubstitutionResult {
  const result: SubstitutionResult = { text: '', used: [], changed: false, problems: [] };
  let out = '';
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    if (text.startsWith('$${', dollar)) {
      out += '${';
      result.changed = true;
      i = dollar + 3;
      continue;
    }
    if (!text.startsWith('${', dollar)) {
      out += '$';
      i = dollar + 1;
      continue;
    }
    result.changed = true;
    const close = text.indexOf('}', dollar + 2);
    if (close < 0) {
      result.problems.push({ index: dollar, message: 'unclosed variable reference "${": add the closing "}" (write "$${" for a literal "${")' });
      out += text.slice(dollar);
      break;
    }
    const body = text.slice(dollar + 2, close);
    const separator = body.indexOf(':-');
    const name = separator < 0 ? body : body.slice(0, separator);
    const fallback = separator < 0 ? undefined : body.slice(separator + 2);
    if (!NAME.test(name)) {
      result.problems.push({
        index: dollar,
        message: `malformed variable reference "\${${body}}": use \${NAME} or \${NAME:-default} with NAME made of letters, digits and "_" (write "$\${" for a literal "\${")`,
      });
      out += text.slice(dollar, close + 1);
    } else {
      const value = lookup(name, sources);
      if (value !== undefined && value !== '') {
        out += value;
        if (!result.used.includes(name)) result.used.push(name);
      } else if (fallback !== undefined) {
        out += fallback;
      } else if (value === '') {
        // Set but empty, no default: the empty value is what the user asked for.
        out += value;
        if (!result.used.includes(name)) result.used.push(name);
      } else {
        result.problems.push({
          index: dollar,
          message: `variable "${name}" is not set: pass --var ${name}=... or set it in the environment, or give a default with \${${name}:-value}`,
        });
        out += text.slice(dollar, close + 1);
      }
    }
    i = close + 1;
  }
  result.text = out;
  return result;
}

function lookup(name: string, sources: VariableSources): string | undefined {
  const fromVars = sources.vars?.[name];
  if (fromVars !== undefined) return fromVars;
  return sources.env?.[name];
}

/**
 * Reads `NAME=value` pairs as given to `--var`. Returns the map, or the first malformed pair's message.
 * The value may contain `=`; the name must be a valid variable name.
 */
export function parseVarAssignments(pairs: readonly string[]): { ok: true; vars: Record<string, string> } | { ok: false; message: string } {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !NAME.test(name)) {
      // Never echo the value: it may be a secret.
      return { ok: false, message: `--var expects NAME=value with NAME made of letters, digits and "_"; got "${name}${eq < 0 ? '' : '=...'}"` };
    }
    vars[name] = pair.slice(eq + 1);
  }
  return { ok: true, vars };
}

/**
 * What a plain (unquoted) YAML scalar with this text would be under the YAML 1.2 core schema: null, a boolean,
 * a number, or the text itself. Only scalars: substituted text never becomes a list or a mapping.
 */
export function yamlCoreScalar(text: string): string | number | boolean | null {
  if (/^(?:~|null|Null|NULL|)$/.test(text)) return null;
  if (/^(?:true|True|TRUE)$/.test(text)) return true;
  if (/^(?:false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^[-+]?\.(?:inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(?:nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}
