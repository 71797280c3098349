/**
 * The JSONPath subset the json_path transform reads: `$` (the whole document), `.key`, `[n]` (an array
 * element, from 0) and `['key']` / `["key"]` (any key, with `\'`, `\"` and `\\` escapes). Wildcards,
 * recursive descent (`..`), slices, negative indexes and filters are not part of it.
 */
export type PathStep = { readonly key: string } | { readonly index: number };

export const PATH_SUBSET = "$, .key, [n] and ['key']";

/** The steps of `path`, or an error saying where it leaves the supported subset. */
export function parsePath(path: string): { ok: true; steps: PathStep[] } | { ok: false; error: string } {
  const fail = (at: number, what: string) => ({ ok: false as const, error: `${what} at character ${at + 1} of ${JSON.stringify(path)}; the supported JSONPath subset is ${PATH_SUBSET}` });
  if (!path.startsWith('$')) return fail(0, 'a path starts with $');
  const steps: PathStep[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      if (path[i + 1] === '.') return fail(i, 'recursive descent (..) is not supported');
      let end = i + 1;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
      const key = path.slice(i + 1, end);
      if (key === '') return fail(i, 'a key is missing after "."');
      if (key === '*') return fail(i + 1, 'wildcards (*) are not supported');
      steps.push({ key });
      i = end;
    } else if (c === '[') {
      const quote = path[i + 1];
      if (quote === "'" || quote === '"') {
        let key = '';
        let j = i + 2;
        for (; j < path.length && path[j] !== quote; j++) {
          if (path[j] === '\\' && j + 1 < path.length) j++;
          key += path[j];
        }
        if (j >= path.length || path[j + 1] !== ']') return fail(i, `a quoted key is not closed with ${quote}]`);
        steps.push({ key });
        i = j + 2;
      } else {
        const close = path.indexOf(']', i);
        const inside = close < 0 ? '' : path.slice(i + 1, close);
        if (!/^\d+$/.test(inside)) {
          return fail(i, close < 0 ? '"[" is not closed' : `[${inside}] is not supported (only a non-negative index [n] or a quoted key ['key'])`);
        }
        steps.push({ index: Number(inside) });
        i = close + 1;
      }
    } else {
      return fail(i, `unexpected ${JSON.stringify(c)} (a step starts with . or [)`);
    }
  }
  return { ok: true, steps };
}

/** The value at `steps` in a parsed JSON document, or undefined when the path does not lead to a value. */
export function valueAt(document: unknown, steps: readonly PathStep[]): unknown {
  let current = document;
  for (const step of steps) {
    if ('key' in step) {
      if (current === null || typeof current !== 'object' || Array.isArray(current) || !Object.hasOwn(current, step.key)) return undefined;
      current = (current as Record<string, unknown>)[step.key];
    } else {
      if (!Array.isArray(current) || step.index >= current.length) return undefined;
      current = current[step.index] as unknown;
    }
  }
  return current;
}
