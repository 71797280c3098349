import { createHash, randomUUID } from 'node:crypto';
import { toText } from './cast.js';
import { addUnits, DAY_NAMES, diffUnits, extractField, formatTimestamp, MONTH_NAMES, normaliseUnit, parseIsoTimestamp, parseTimestamp, truncate } from './datetime.js';
import { RowFailure } from './errors.js';
import { MS_PER_DAY, type Scalar, type SqlType } from './types.js';

/**
 * How a function's argument is checked and handed over: `str` takes any type as its text, `num` any number
 * (as a JS number), `exact` any number as it is (bigint for BIGINT), `int` an integer, `dt` a date or timestamp (as epoch ms), `bool` a boolean, `bin` bytes or
 * text (as bytes), `any` the value as it is.
 */
export type Param = 'str' | 'num' | 'exact' | 'int' | 'dt' | 'bool' | 'bin' | 'any';

export interface FunctionSpec {
  /** Parameters in order; the last `optional` of them may be left out. */
  readonly params: readonly Param[];
  readonly optional?: number;
  /** Kind of any further arguments (variadic functions). */
  readonly rest?: Param;
  /** The result type, fixed or from the argument types. */
  readonly returns: SqlType | ((args: readonly SqlType[]) => SqlType);
  /** Called for each row whose arguments are all non-NULL (all rows with `nulls: 'handle'`). */
  readonly impl: (args: Scalar[], types: readonly SqlType[], now: number) => Scalar;
  readonly nulls?: 'propagate' | 'handle';
  /** Gives a new value per row (rand, uuid): never folded to a constant. */
  readonly volatile?: boolean;
  /** Depends on the batch's clock (now): folded per batch, not at compile time. */
  readonly clock?: boolean;
  /** The argument that is a date unit (DATEADD(ts, 1, 'DAY')): a bare identifier such as DAY is read as text. */
  readonly unitArgs?: readonly number[];
}

const str = (v: Scalar): string => v as string;
const num = (v: Scalar): number => v as number;

function checkFlags(flags: string | undefined): string {
  let out = 'u';
  for (const f of flags ?? '') {
    if (f === 'i') out = out.replace('i', '') + 'i';
    else if (f === 'c') out = out.replace('i', '');
    else if (f === 'n') out += out.includes('s') ? '' : 's';
    else if (f === 'm') out += out.includes('m') ? '' : 'm';
    else throw new RowFailure('SQL_BAD_ARGUMENT', `regular expression flag "${f}" is not one of i, c, n, m`);
  }
  return out;
}

const regexCache = new Map<string, RegExp>();
/** Compiles (and caches) a regular expression; a bad pattern rejects the row. */
export function regex(pattern: string, flags: string): RegExp {
  const key = `${flags}/${pattern}`;
  let re = regexCache.get(key);
  if (!re) {
    try {
      re = new RegExp(pattern, flags);
    } catch (error) {
      throw new RowFailure('SQL_BAD_REGEX', `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`);
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(key, re);
  }
  return re;
}

function trimChars(s: string, chars: string | undefined, left: boolean, right: boolean): string {
  if (chars === undefined) return left && right ? s.trim() : left ? s.trimStart() : s.trimEnd();
  const set = new Set(chars);
  let start = 0;
  let end = s.length;
  if (left) while (start < end && set.has(s[start]!)) start++;
  if (right) while (end > start && set.has(s[end - 1]!)) end--;
  return s.slice(start, end);
}

function pad(s: string, length: number, fill: string, left: boolean): string {
  const chars = [...s];
  if (length <= 0) return '';
  if (chars.length >= length) return chars.slice(0, length).join('');
  if (fill === '') return s;
  const padding = [...fill.repeat(Math.ceil((length - chars.length) / [...fill].length))].slice(0, length - chars.length).join('');
  return left ? padding + s : s + padding;
}

function soundex(s: string): string {
  const codes: Record<string, string> = { b: '1', f: '1', p: '1', v: '1', c: '2', g: '2', j: '2', k: '2', q: '2', s: '2', x: '2', z: '2', d: '3', t: '3', l: '4', m: '5', n: '5', r: '6' };
  const letters = s.toLowerCase().replace(/[^a-z]/g, '');
  if (!letters) return '';
  let out = letters[0]!.toUpperCase();
  let last = codes[letters[0]!] ?? '';
  for (const c of letters.slice(1)) {
    const code = codes[c] ?? '';
    if (code && code !== last) out += code;
    if (c !== 'h' && c !== 'w') last = code;
    if (out.length === 4) break;
  }
  return out.padEnd(4, '0');
}

/** 1-based start; a negative start counts from the end (SUBSTRING('hello', -3) = 'llo'). */
function substring(s: string, start: number, length: number | undefined): string {
  const chars = [...s];
  let from = start > 0 ? start - 1 : start < 0 ? chars.length + start : 0;
  let count = length === undefined ? chars.length : start === 0 && length > 0 ? length - 1 : length;
  if (from < 0) {
    count += from;
    from = 0;
  }
  if (count <= 0) return '';
  return chars.slice(from, from + count).join('');
}

/** LOCATE: 1-based position of `search` in `s` from `start` (negative: search backwards from the end), 0 if absent. */
function locate(search: string, s: string, start = 1): number {
  if (start < 0) return s.lastIndexOf(search, s.length + start) + 1;
  return s.indexOf(search, Math.max(0, start - 1)) + 1;
}

/** A JSON path such as $.a.b[0] or $['a b'] applied to parsed JSON; undefined when a step is missing. */
function jsonPath(value: unknown, path: string): unknown {
  const steps = /^\$?((?:\.[A-Za-z_$][\w$]*|\.\*|\[\d+\]|\['[^']*'\]|\["[^"]*"\])*)$/.exec(path.trim());
  if (!steps) throw new RowFailure('SQL_BAD_JSON_PATH', `invalid JSON path ${JSON.stringify(path)}; write $.field, $.list[0] or $['a key']`);
  let current: unknown = value;
  for (const step of steps[1]!.match(/\.[A-Za-z_$][\w$]*|\[\d+\]|\['[^']*'\]|\["[^"]*"\]/g) ?? []) {
    if (current === null || typeof current !== 'object') return undefined;
    const key = step.startsWith('.') ? step.slice(1) : step.startsWith('[') && /\d/.test(step[1]!) ? Number(step.slice(1, -1)) : step.slice(2, -2);
    current = (current as Record<string | number, unknown>)[key];
    if (current === undefined) return undefined;
  }
  return current;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RowFailure('SQL_BAD_JSON', `not valid JSON (${(error as Error).message})`);
  }
}

const hash = (algorithm: string) => (args: Scalar[]) => createHash(algorithm).update(args[0] as Uint8Array).digest('hex');

const sameType = (args: readonly SqlType[]): SqlType => args[0] ?? 'null';
const widest = (args: readonly SqlType[]): SqlType => (args.includes('float64') ? 'float64' : args.includes('int64') ? 'int64' : args.includes('int32') ? 'int32' : 'null');
/** A date stays a date when the unit is whole days or more. */
const temporalOf = (args: readonly SqlType[]): SqlType => (args[0] === 'date' ? 'date' : 'timestamp');

function unitOf(text: string): string {
  const unit = normaliseUnit(text);
  if (!unit) throw new RowFailure('SQL_BAD_ARGUMENT', `unknown date unit "${text}"; use YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND or MILLISECOND`);
  return unit;
}

/** A temporal result from epoch ms: days for a date. */
const fromMs = (ms: number, type: SqlType): number => (type === 'date' ? Math.floor(ms / MS_PER_DAY) : ms);

/** Rounds half away from zero on the decimal digits as written (1.005 -> 1.01), not on the binary value. */
function roundTo(x: number, digits: number, mode: 'round' | 'trunc'): number {
  if (!Number.isFinite(x)) return x;
  const text = String(Math.abs(x));
  const shifted = text.includes('e') ? Math.abs(x) * 10 ** digits : Number(`${text}e${digits}`);
  const r = mode === 'trunc' ? Math.trunc(shifted) : Math.round(shifted);
  const back = String(r).includes('e') ? r / 10 ** digits : Number(`${r}e${-digits}`);
  return x < 0 ? -back : back;
}

function math(f: (x: number) => number): FunctionSpec {
  return { params: ['num'], returns: 'float64', impl: (a) => f(num(a[0]!)) };
}

function datePart(field: string): FunctionSpec {
  return { params: ['dt'], returns: 'int32', impl: (a) => extractField(field, num(a[0]!)) };
}

const hexOfText = (s: string): string => [...s].map((c) => c.charCodeAt(0).toString(16).padStart(4, '0')).join('');

/** Every function the sql transform knows, by lower-case name. Aliases share one spec. */
export const FUNCTIONS: Record<string, FunctionSpec> = {};

function define(names: string, spec: FunctionSpec): void {
  for (const name of names.split(',')) FUNCTIONS[name.trim()] = spec;
}

// String functions.
define('ascii', { params: ['str'], returns: 'int32', impl: (a) => (str(a[0]!).length ? str(a[0]!).codePointAt(0)! : null) });
define('bit_length', { params: ['bin'], returns: 'int64', impl: (a) => BigInt((a[0] as Uint8Array).length * 8) });
define('char_length,character_length,length,len', { params: ['str'], returns: 'int64', impl: (a) => BigInt(countChars(str(a[0]!))) });
define('octet_length', { params: ['bin'], returns: 'int64', impl: (a) => BigInt((a[0] as Uint8Array).length) });
define('char,chr', { params: ['int'], returns: 'utf8', impl: (a) => String.fromCodePoint(num(a[0]!)) });
define('concat', { params: [], rest: 'any', returns: 'utf8', nulls: 'handle', impl: (a, t) => a.map((v, i) => (v === null ? '' : toText(v, t[i]!))).join('') });
define('concat_ws', {
  params: ['any'],
  rest: 'any',
  returns: 'utf8',
  nulls: 'handle',
  impl: (a, t) =>
    a
      .slice(1)
      .map((v, i) => (v === null ? null : toText(v, t[i + 1]!)))
      .filter((v) => v !== null)
      .join(a[0] === null ? '' : toText(a[0]!, t[0]!)),
});
define('hextoraw', {
  params: ['str'],
  returns: 'utf8',
  impl: (a) => {
    const s = str(a[0]!);
    if (s.length % 4 !== 0 || /[^0-9a-f]/i.test(s)) throw new RowFailure('SQL_BAD_ARGUMENT', `HEXTORAW needs 4 hex digits per character, got ${JSON.stringify(s.slice(0, 40))}`);
    let out = '';
    for (let i = 0; i < s.length; i += 4) out += String.fromCharCode(parseInt(s.slice(i, i + 4), 16));
    return out;
  },
});
define('rawtohex', { params: ['any'], returns: 'utf8', impl: (a) => (a[0] instanceof Uint8Array ? Buffer.from(a[0]).toString('hex') : hexOfText(toText(a[0]!, 'utf8'))) });
define('insert', {
  params: ['str', 'int', 'int', 'str'],
  returns: 'utf8',
  impl: (a) => {
    const chars = [...str(a[0]!)];
    const start = Math.max(1, num(a[1]!));
    chars.splice(start - 1, Math.max(0, num(a[2]!)), str(a[3]!));
    return chars.join('');
  },
});
define('lower,lcase', { params: ['str'], returns: 'utf8', impl: (a) => str(a[0]!).toLowerCase() });
define('upper,ucase', { params: ['str'], returns: 'utf8', impl: (a) => str(a[0]!).toUpperCase() });
define('left', { params: ['str', 'int'], returns: 'utf8', impl: (a) => [...str(a[0]!)].slice(0, Math.max(0, num(a[1]!))).join('') });
define('right', { params: ['str', 'int'], returns: 'utf8', impl: (a) => (num(a[1]!) <= 0 ? '' : [...str(a[0]!)].slice(-num(a[1]!)).join('')) });
define('locate', { params: ['str', 'str', 'int'], optional: 1, returns: 'int32', impl: (a) => locate(str(a[0]!), str(a[1]!), a[2] === undefined ? 1 : num(a[2])) });
define('instr', { params: ['str', 'str', 'int'], optional: 1, returns: 'int32', impl: (a) => locate(str(a[1]!), str(a[0]!), a[2] === undefined ? 1 : num(a[2])) });
define('position,strpos', { params: ['str', 'str'], returns: 'int32', impl: (a) => locate(str(a[0]!), str(a[1]!)) });
define('lpad', { params: ['str', 'int', 'str'], optional: 1, returns: 'utf8', impl: (a) => pad(str(a[0]!), num(a[1]!), a[2] === undefined ? ' ' : str(a[2]), true) });
define('rpad', { params: ['str', 'int', 'str'], optional: 1, returns: 'utf8', impl: (a) => pad(str(a[0]!), num(a[1]!), a[2] === undefined ? ' ' : str(a[2]), false) });
define('ltrim', { params: ['str', 'str'], optional: 1, returns: 'utf8', impl: (a) => trimChars(str(a[0]!), a[1] as string | undefined, true, false) });
define('rtrim', { params: ['str', 'str'], optional: 1, returns: 'utf8', impl: (a) => trimChars(str(a[0]!), a[1] as string | undefined, false, true) });
define('trim,btrim', { params: ['str', 'str'], optional: 1, returns: 'utf8', impl: (a) => trimChars(str(a[0]!), a[1] as string | undefined, true, true) });
define('regexp_replace', {
  params: ['str', 'str', 'str', 'str'],
  optional: 1,
  returns: 'utf8',
  impl: (a) => str(a[0]!).replace(regex(str(a[1]!), `g${checkFlags(a[3] as string | undefined)}`), str(a[2]!).replace(/\\(\d)/g, '$$$1')),
});
define('regexp_like', { params: ['str', 'str', 'str'], optional: 1, returns: 'bool', impl: (a) => regex(str(a[1]!), checkFlags(a[2] as string | undefined)).test(str(a[0]!)) });
define('regexp_substr,regexp_extract', {
  params: ['str', 'str', 'int', 'int', 'any', 'int'],
  optional: 4,
  returns: 'utf8',
  nulls: 'handle',
  impl: (a) => {
    if (a[0] === null || a[1] === null) return null;
    const re = regex(str(a[1]!), `g${checkFlags((a[4] ?? undefined) as string | undefined)}`);
    const input = str(a[0]!).slice(Math.max(0, Number(a[2] ?? 1) - 1));
    const occurrence = Number(a[3] ?? 1);
    let seen = 0;
    for (const m of input.matchAll(re)) if (++seen === occurrence) return m[Number(a[5] ?? 0)] ?? null;
    return null;
  },
});
define('regexp_match', {
  params: ['str', 'str', 'str'],
  optional: 1,
  returns: 'utf8',
  impl: (a) => {
    const m = regex(str(a[1]!), checkFlags(a[2] as string | undefined)).exec(str(a[0]!));
    return m ? (m.length > 1 ? (m[1] ?? null) : m[0]) : null;
  },
});
define('repeat', { params: ['str', 'int'], returns: 'utf8', impl: (a) => str(a[0]!).repeat(Math.max(0, num(a[1]!))) });
define('replace', { params: ['str', 'str', 'str'], optional: 1, returns: 'utf8', impl: (a) => (str(a[1]!) === '' ? str(a[0]!) : str(a[0]!).split(str(a[1]!)).join(a[2] === undefined ? '' : str(a[2]))) });
define('split', { params: ['str', 'str'], returns: 'utf8', impl: (a) => JSON.stringify(str(a[1]!) === '' ? [...str(a[0]!)] : str(a[0]!).split(str(a[1]!))) });
define('split_part', {
  params: ['str', 'str', 'int'],
  returns: 'utf8',
  impl: (a) => {
    const parts = str(a[1]!) === '' ? [str(a[0]!)] : str(a[0]!).split(str(a[1]!));
    const n = num(a[2]!);
    if (n === 0) throw new RowFailure('SQL_BAD_ARGUMENT', 'SPLIT_PART field position must not be 0');
    return (n > 0 ? parts[n - 1] : parts[parts.length + n]) ?? '';
  },
});
define('soundex', { params: ['str'], returns: 'utf8', impl: (a) => soundex(str(a[0]!)) });
define('space', { params: ['int'], returns: 'utf8', impl: (a) => ' '.repeat(Math.max(0, num(a[0]!))) });
define('substring,substr', { params: ['str', 'int', 'int'], optional: 1, returns: 'utf8', impl: (a) => substring(str(a[0]!), num(a[1]!), a[2] === undefined ? undefined : num(a[2])) });
define('to_char', {
  params: ['any', 'str'],
  optional: 1,
  returns: 'utf8',
  impl: (a, t) => {
    if (a[1] === undefined) return toText(a[0]!, t[0]!);
    if (t[0] === 'date' || t[0] === 'timestamp') return formatTimestamp(t[0] === 'date' ? num(a[0]!) * MS_PER_DAY : num(a[0]!), str(a[1]));
    return toText(a[0]!, t[0]!);
  },
});
define('translate', {
  params: ['str', 'str', 'str'],
  returns: 'utf8',
  impl: (a) => {
    const from = [...str(a[1]!)];
    const to = [...str(a[2]!)];
    return [...str(a[0]!)].map((c) => (from.includes(c) ? (to[from.indexOf(c)] ?? '') : c)).join('');
  },
});
define('reverse', { params: ['str'], returns: 'utf8', impl: (a) => [...str(a[0]!)].reverse().join('') });
define('initcap', { params: ['str'], returns: 'utf8', impl: (a) => str(a[0]!).toLowerCase().replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_, p: string, c: string) => p + c.toUpperCase()) });

// Numeric functions.
define('abs', { params: ['exact'], returns: sameType, impl: (a, t) => (t[0] === 'int64' ? ((a[0] as bigint) < 0n ? -(a[0] as bigint) : a[0]!) : Math.abs(num(a[0]!))) });
define('acos', math(Math.acos));
define('asin', math(Math.asin));
define('atan', math(Math.atan));
define('atan2', { params: ['num', 'num'], returns: 'float64', impl: (a) => Math.atan2(num(a[0]!), num(a[1]!)) });
define('cos', math(Math.cos));
define('cosh', math(Math.cosh));
define('cot', math((x) => 1 / Math.tan(x)));
define('sin', math(Math.sin));
define('sinh', math(Math.sinh));
define('tan', math(Math.tan));
define('tanh', math(Math.tanh));
define('exp', math(Math.exp));
define('ln', math(Math.log));
define('log10', math(Math.log10));
define('log2', math(Math.log2));
define('radians', math((x) => (x * Math.PI) / 180));
define('degrees', math((x) => (x * 180) / Math.PI));
define('sqrt', math(Math.sqrt));
define('cbrt', math(Math.cbrt));
define('log', { params: ['num', 'num'], optional: 1, returns: 'float64', impl: (a) => (a[1] === undefined ? Math.log(num(a[0]!)) : Math.log(num(a[1])) / Math.log(num(a[0]!))) });
define('pi', { params: [], returns: 'float64', impl: () => Math.PI });
define('power,pow', { params: ['num', 'num'], returns: 'float64', impl: (a) => num(a[0]!) ** num(a[1]!) });
define('rand,random', { params: ['int'], optional: 1, returns: 'float64', volatile: true, impl: () => Math.random() });
define('mod', {
  params: ['exact', 'exact'],
  returns: widest,
  impl: (a, t) => {
    if (num(a[1]!) === 0 || a[1] === 0n) throw new RowFailure('SQL_DIVISION_BY_ZERO', 'MOD by zero');
    if (t.includes('float64')) return num(a[0]!) % num(a[1]!);
    const r = BigInt(a[0] as number | bigint) % BigInt(a[1] as number | bigint);
    return widest(t) === 'int64' ? r : Number(r);
  },
});
define('ceil,ceiling', { params: ['exact'], returns: sameType, impl: (a, t) => (t[0] === 'float64' ? Math.ceil(num(a[0]!)) : a[0]!) });
define('floor', { params: ['exact'], returns: sameType, impl: (a, t) => (t[0] === 'float64' ? Math.floor(num(a[0]!)) : a[0]!) });
define('round', { params: ['exact', 'int'], optional: 1, returns: sameType, impl: (a, t) => (t[0] === 'float64' ? roundTo(num(a[0]!), a[1] === undefined ? 0 : num(a[1]), 'round') : t[0] === 'int64' ? a[0]! : roundTo(num(a[0]!), Math.min(0, a[1] === undefined ? 0 : num(a[1])), 'round')) });
define('trunc,truncate', { params: ['exact', 'int'], optional: 1, returns: sameType, impl: (a, t) => (t[0] === 'float64' ? roundTo(num(a[0]!), a[1] === undefined ? 0 : num(a[1]), 'trunc') : a[0]!) });
define('trim_scale', { params: ['exact'], returns: sameType, impl: (a) => a[0]! });
define('sign', { params: ['exact'], returns: 'int32', impl: (a) => (typeof a[0] === 'bigint' ? (a[0] > 0n ? 1 : a[0] < 0n ? -1 : 0) : Number.isNaN(num(a[0]!)) ? 0 : Math.sign(num(a[0]!))) });

// Date and time functions. Timestamps are UTC.
define('current_date,curdate', { params: [], returns: 'date', clock: true, impl: (_a, _t, now) => Math.floor(now / MS_PER_DAY) });
define('current_time,curtime', { params: [], returns: 'utf8', clock: true, impl: (_a, _t, now) => new Date(now).toISOString().slice(11, 23) });
define('current_timestamp,now,localtimestamp,sysdate,getdate', { params: [], optional: 0, returns: 'timestamp', clock: true, impl: (_a, _t, now) => now });
define('dateadd,timestampadd,date_add', {
  params: ['dt', 'num', 'str'],
  returns: (t) => temporalOf(t),
  unitArgs: [2],
  impl: (a, t) => {
    const unit = unitOf(str(a[2]!));
    const ms = addUnits(unit, num(a[1]!), num(a[0]!));
    return t[0] === 'date' && ['HOUR', 'MINUTE', 'SECOND', 'MILLISECOND', 'MICROSECOND'].includes(unit) ? Math.floor(ms / MS_PER_DAY) : fromMs(ms, temporalOf(t));
  },
});
define('datediff,date_diff,timestampdiff', { params: ['dt', 'dt', 'str'], returns: 'int64', unitArgs: [2], impl: (a) => BigInt(diffUnits(unitOf(str(a[2]!)), num(a[0]!), num(a[1]!))) });
define('date_trunc', { params: ['dt', 'str'], returns: sameType, unitArgs: [1], impl: (a, t) => fromMs(truncate(unitOf(str(a[1]!)), num(a[0]!)), t[0]!) });
define('dayname', { params: ['dt'], returns: 'utf8', impl: (a) => DAY_NAMES[new Date(num(a[0]!)).getUTCDay()]! });
define('monthname', { params: ['dt'], returns: 'utf8', impl: (a) => MONTH_NAMES[new Date(num(a[0]!)).getUTCMonth()]! });
define('day_of_month,dayofmonth,day', datePart('DAY'));
define('day_of_week,dayofweek', datePart('ISODOW'));
define('day_of_year,dayofyear', datePart('DOY'));
define('hour', datePart('HOUR'));
define('minute', datePart('MINUTE'));
define('second', { params: ['dt'], returns: 'int32', impl: (a) => new Date(num(a[0]!)).getUTCSeconds() });
define('month', datePart('MONTH'));
define('quarter', datePart('QUARTER'));
define('week', datePart('WEEK'));
define('year', datePart('YEAR'));
define('extract,date_part', {
  params: ['str', 'dt'],
  returns: 'float64',
  unitArgs: [0],
  impl: (a) => extractField(str(a[0]!), num(a[1]!)),
});
define('formatdatetime,strftime,date_format', { params: ['dt', 'str'], returns: 'utf8', impl: (a) => formatTimestamp(num(a[0]!), str(a[1]!)) });
define('parsedatetime,to_date,to_timestamp', {
  params: ['str', 'str'],
  optional: 1,
  returns: 'timestamp',
  impl: (a) => {
    if (a[1] !== undefined) return parseTimestamp(str(a[0]!), str(a[1]));
    const ms = parseIsoTimestamp(str(a[0]!));
    if (ms === undefined) throw new RowFailure('SQL_PARSE_FAILED', `${JSON.stringify(str(a[0]!))} is not an ISO date or timestamp; give a pattern as the second argument`);
    return ms;
  },
});
define('is_date', {
  params: ['str', 'str'],
  optional: 1,
  returns: 'bool',
  impl: (a) => {
    try {
      return a[1] === undefined ? parseIsoTimestamp(str(a[0]!)) !== undefined : Number.isFinite(parseTimestamp(str(a[0]!), str(a[1])));
    } catch {
      return false;
    }
  },
});
define('from_unixtime', {
  params: ['num', 'str', 'str'],
  optional: 2,
  returns: 'utf8',
  impl: (a) => {
    let offset = 0;
    if (a[2] !== undefined) {
      const m = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(str(a[2]).trim());
      if (!m && !/^(UTC|GMT|Z)$/i.test(str(a[2]).trim())) throw new RowFailure('SQL_BAD_ARGUMENT', `time zone "${str(a[2])}" is not UTC or UTC+h / UTC-h:mm`);
      if (m) offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
    }
    return formatTimestamp(num(a[0]!) * 1000 + offset, a[1] === undefined ? 'yyyy-MM-dd HH:mm:ss' : str(a[1]));
  },
});
define('unix_timestamp', { params: ['dt'], returns: 'int64', impl: (a) => BigInt(Math.floor(num(a[0]!) / 1000)) });

// Arrays: Tideway's SQL has no ARRAY type, so SPLIT and ARRAY give a JSON array as text, which ARRAY_MAX and
// ARRAY_MIN (and the JSON functions) read.
const jsonItem = (v: Scalar, type: SqlType): unknown => (v === null ? null : typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : typeof v === 'number' || typeof v === 'boolean' ? v : toText(v, type));
define('array', { params: [], rest: 'any', returns: 'utf8', nulls: 'handle', impl: (a, t) => JSON.stringify(a.map((v, i) => jsonItem(v, t[i]!))) });
function arrayExtreme(text: string, max: boolean): Scalar {
  const items = parseJson(text);
  if (!Array.isArray(items)) throw new RowFailure('SQL_BAD_ARGUMENT', 'not a JSON array');
  let best: unknown = null;
  for (const item of items) if (item !== null && (best === null || (max ? (item as number) > (best as number) : (item as number) < (best as number)))) best = item;
  return best === null ? null : typeof best === 'string' ? best : JSON.stringify(best);
}
define('array_max', { params: ['str'], returns: 'utf8', impl: (a) => arrayExtreme(str(a[0]!), true) });
define('array_min', { params: ['str'], returns: 'utf8', impl: (a) => arrayExtreme(str(a[0]!), false) });

// System, JSON, hashing.
define('uuid,gen_random_uuid', { params: [], returns: 'utf8', volatile: true, impl: () => randomUUID() });
define('md5', { params: ['bin'], returns: 'utf8', impl: hash('md5') });
define('sha1', { params: ['bin'], returns: 'utf8', impl: hash('sha1') });
define('sha256,sha2', { params: ['bin'], returns: 'utf8', impl: hash('sha256') });
define('sha512', { params: ['bin'], returns: 'utf8', impl: hash('sha512') });
define('json_extract,json_query', {
  params: ['str', 'str'],
  returns: 'utf8',
  impl: (a) => {
    const found = jsonPath(parseJson(str(a[0]!)), str(a[1]!));
    return found === undefined ? null : JSON.stringify(found);
  },
});
define('json_value,json_extract_scalar', {
  params: ['str', 'str'],
  returns: 'utf8',
  impl: (a) => {
    const found = jsonPath(parseJson(str(a[0]!)), str(a[1]!));
    if (found === undefined || found === null || typeof found === 'object') return null;
    return String(found);
  },
});
define('is_json', {
  params: ['str'],
  returns: 'bool',
  impl: (a) => {
    try {
      JSON.parse(str(a[0]!));
      return true;
    } catch {
      return false;
    }
  },
});
define('nullif', { params: ['any', 'any'], returns: sameType, nulls: 'handle', impl: (a) => (a[0] !== null && a[1] !== null && equalScalars(a[0]!, a[1]!) ? null : a[0]!) });

/** Equality of two non-NULL scalars of one type (bytes compared by content). */
export function equalScalars(a: Scalar, b: Scalar): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  return a === b;
}

function countChars(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

