import { formatDate } from '../../src/formats/text/temporal.js';
import { parseIsoTimestamp } from './datetime.js';
import { RowFailure } from './errors.js';
import type { CastTarget } from './parse.js';
import { MS_PER_DAY, type Scalar, type SqlType } from './types.js';

/** What a CAST target resolves to: the SQL type and the range or scale it must fit. */
export interface ResolvedTarget {
  readonly type: SqlType;
  readonly name: string;
  readonly min?: number;
  readonly max?: number;
  readonly scale?: number;
  readonly time?: boolean;
}

const TARGETS: Record<string, Omit<ResolvedTarget, 'name'>> = {
  STRING: { type: 'utf8' },
  VARCHAR: { type: 'utf8' },
  TEXT: { type: 'utf8' },
  CHAR: { type: 'utf8' },
  JSON: { type: 'utf8' },
  TINYINT: { type: 'int32', min: -128, max: 127 },
  BYTE: { type: 'int32', min: -128, max: 127 },
  SMALLINT: { type: 'int32', min: -32768, max: 32767 },
  INT: { type: 'int32', min: -2147483648, max: 2147483647 },
  INTEGER: { type: 'int32', min: -2147483648, max: 2147483647 },
  LONG: { type: 'int64' },
  BIGINT: { type: 'int64' },
  FLOAT: { type: 'float64' },
  REAL: { type: 'float64' },
  DOUBLE: { type: 'float64' },
  DECIMAL: { type: 'float64' },
  NUMERIC: { type: 'float64' },
  NUMBER: { type: 'float64' },
  BOOLEAN: { type: 'bool' },
  BOOL: { type: 'bool' },
  DATE: { type: 'date' },
  TIMESTAMP: { type: 'timestamp' },
  DATETIME: { type: 'timestamp' },
  TIMESTAMP_NTZ: { type: 'timestamp' },
  TIMESTAMP_LTZ: { type: 'timestamp' },
  TIMESTAMP_TZ: { type: 'timestamp' },
  TIMESTAMPTZ: { type: 'timestamp' },
  TIME: { type: 'utf8', time: true },
  BYTES: { type: 'binary' },
  BINARY: { type: 'binary' },
  VARBINARY: { type: 'binary' },
  BYTEA: { type: 'binary' },
};

export const CAST_TARGET_NAMES = Object.keys(TARGETS);

export function resolveTarget(target: CastTarget): ResolvedTarget | undefined {
  const found = TARGETS[target.name];
  if (!found) return undefined;
  return { ...found, name: target.name, ...(target.scale !== undefined && found.type === 'float64' && target.name !== 'FLOAT' && target.name !== 'DOUBLE' && target.name !== 'REAL' ? { scale: target.scale } : {}) };
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

/** `YYYY-MM-DD HH:MM:SS[.mmm]` (UTC) of epoch milliseconds. */
export function formatTimestampIso(ms: number): string {
  const d = new Date(ms);
  const frac = d.getUTCMilliseconds();
  return `${formatDate(Math.floor(ms / MS_PER_DAY))} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${frac ? `.${pad(frac, 3)}` : ''}`;
}

/** The text form of a value, as CAST(x AS VARCHAR), `||` and CONCAT write it. */
export function toText(value: Scalar, type: SqlType): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (type === 'date') return formatDate(value as number);
  if (type === 'timestamp') return formatTimestampIso(value as number);
  return String(value);
}

const fail = (value: Scalar, from: SqlType, to: string, why: string): never => {
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value) : toText(value, from);
  throw new RowFailure('SQL_CAST_FAILED', `cannot cast ${shown} (${from}) to ${to}: ${why}`);
};

const INTEGER_TEXT = /^\s*[+-]?\d+\s*$/;
const NUMBER_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

function toNumber(value: Scalar, from: SqlType, to: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') {
    if (NUMBER_TEXT.test(value)) return Number(value);
    if (/^\s*[+-]?(inf|infinity)\s*$/i.test(value)) return value.includes('-') ? -Infinity : Infinity;
    if (/^\s*nan\s*$/i.test(value)) return NaN;
    return fail(value, from, to, 'not a number');
  }
  return fail(value, from, to, 'no conversion');
}

/**
 * CAST of one non-NULL value. Throws RowFailure(SQL_CAST_FAILED) when the value does not convert: text that is
 * not a number or date, a number out of the target's range, a fraction cast to an integer from text.
 */
export function castValue(value: Scalar, from: SqlType, target: ResolvedTarget): Scalar {
  if (value === null) return null;
  switch (target.type) {
    case 'utf8':
      if (target.time) {
        if (from === 'timestamp') return formatTimestampIso(value as number).slice(11);
        if (typeof value === 'string' && /^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*$/.test(value)) return value.trim();
        return fail(value, from, target.name, 'not a time of day');
      }
      return toText(value, from);
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        const t = value.trim().toLowerCase();
        if (t === 'true' || t === 't' || t === 'yes' || t === '1') return true;
        if (t === 'false' || t === 'f' || t === 'no' || t === '0') return false;
        return fail(value, from, target.name, "expected 'true', 'false', 1 or 0");
      }
      if (typeof value === 'number' || typeof value === 'bigint') {
        if (Number(value) === 1) return true;
        if (Number(value) === 0) return false;
        return fail(value, from, target.name, 'only 1 and 0 convert to a boolean');
      }
      return fail(value, from, target.name, 'no conversion');
    }
    case 'int32': {
      if (from === 'date' || from === 'timestamp' || from === 'binary') return fail(value, from, target.name, 'no conversion');
      if (typeof value === 'string' && !INTEGER_TEXT.test(value) && !NUMBER_TEXT.test(value)) fail(value, from, target.name, 'not a number');
      const n = Math.round(toNumber(value, from, target.name));
      if (!Number.isFinite(n) || n < (target.min ?? -2147483648) || n > (target.max ?? 2147483647)) return fail(value, from, target.name, 'out of range');
      return n;
    }
    case 'int64': {
      if (from === 'binary') return fail(value, from, target.name, 'no conversion');
      if (typeof value === 'bigint') return value;
      if (from === 'date') return BigInt(value as number);
      if (from === 'timestamp') return BigInt(Math.floor(value as number));
      if (typeof value === 'string' && INTEGER_TEXT.test(value)) {
        const big = BigInt(value.trim());
        if (BigInt.asIntN(64, big) !== big) return fail(value, from, target.name, 'out of range');
        return big;
      }
      const n = Math.round(toNumber(value, from, target.name));
      if (!Number.isFinite(n) || Math.abs(n) > 9.2e18) return fail(value, from, target.name, 'out of range');
      return BigInt(n);
    }
    case 'float64': {
      if (from === 'date' || from === 'timestamp' || from === 'binary') return fail(value, from, target.name, 'no conversion');
      const n = toNumber(value, from, target.name);
      if (target.scale === undefined) return n;
      const factor = 10 ** target.scale;
      return Math.round(n * factor) / factor;
    }
    case 'date': {
      if (from === 'date') return value;
      if (from === 'timestamp') return Math.floor((value as number) / MS_PER_DAY);
      if (typeof value === 'string') {
        const ms = parseIsoTimestamp(value);
        if (ms === undefined) return fail(value, from, target.name, 'expected YYYY-MM-DD');
        return Math.floor(ms / MS_PER_DAY);
      }
      return fail(value, from, target.name, 'no conversion');
    }
    case 'timestamp': {
      if (from === 'timestamp') return value;
      if (from === 'date') return (value as number) * MS_PER_DAY;
      if (typeof value === 'string') {
        const ms = parseIsoTimestamp(value);
        if (ms === undefined) return fail(value, from, target.name, 'expected YYYY-MM-DD HH:MM:SS[.fff][+hh:mm]');
        return ms;
      }
      if (typeof value === 'bigint' || (typeof value === 'number' && from !== 'bool')) return Number(value);
      return fail(value, from, target.name, 'no conversion');
    }
    case 'binary':
      if (value instanceof Uint8Array) return value;
      if (typeof value === 'string') return new Uint8Array(Buffer.from(value, 'utf8'));
      return fail(value, from, target.name, 'no conversion');
    case 'null':
      return null;
  }
}
