import { TidewayError } from '../../../src/api/errors.js';
import type { OssOperation } from './operations.js';

/** What a fault does to a request it matches. */
export type FaultAction =
  /**
   * Answer with an OSS error instead of running the operation, e.g. `{ status: 503, code:
   * 'ServiceUnavailable' }`. `status` defaults to the code's usual status.
   */
  | { kind: 'error'; code: string; status?: number; message?: string }
  /** Wait before doing anything else (headers included); the request then proceeds normally. */
  | { kind: 'delay'; ms: number }
  /**
   * Reset the connection (TCP RST) before any response. With `afterApply` the operation runs first,
   * so the change is made but the client never learns it: the case that makes retries duplicate.
   */
  | { kind: 'reset'; afterApply?: boolean }
  /** Run the operation, send headers and the first `bytes` of the body, then reset the connection. */
  | { kind: 'resetAfterBytes'; bytes: number }
  /**
   * Run the operation, send headers with the full Content-Length but only the first `bytes` of the
   * body (default: half), then close the connection cleanly: a short read.
   */
  | { kind: 'truncate'; bytes?: number }
  /** Run the operation and send the body at about `bytesPerSecond`. */
  | { kind: 'slowBody'; bytesPerSecond: number };

/** Which requests a fault applies to and how often. Every given matcher must match. */
export interface FaultRule {
  /** Names the rule in the journal; generated when absent. */
  id?: string;
  /** OSS operation name(s), e.g. `'UploadPart'` or `['PutObject', 'CompleteMultipartUpload']`. */
  op?: OssOperation | readonly OssOperation[];
  method?: string;
  bucket?: string;
  /**
   * Glob over the decoded object key: `*` matches within one path segment, `**` across segments,
   * `?` one character. Bucket-level requests have no key and never match a key glob.
   */
  key?: string;
  /** Fire only on these matching requests, counted from 1 per rule: `2` or `[1, 3]`. */
  nth?: number | readonly number[];
  /** Fire on the first `times` matching requests, then stop. Default: every matching request. */
  times?: number;
  action: FaultAction;
}

/** A registered rule, as `addFault` returns it. */
export interface FaultHandle {
  readonly id: string;
  /** Requests that matched the rule's matchers so far. */
  readonly matched: number;
  /** Requests the fault was applied to so far. */
  readonly fired: number;
  remove(): void;
}

export interface FaultTarget {
  op: OssOperation;
  method: string;
  bucket: string | undefined;
  key: string | undefined;
}

export interface FiredFault {
  rule: string;
  action: FaultAction;
}

/** Compiles a key glob to an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 's');
}

interface ActiveRule {
  id: string;
  rule: FaultRule;
  keyPattern: RegExp | undefined;
  ops: ReadonlySet<OssOperation> | undefined;
  nth: ReadonlySet<number> | undefined;
  matched: number;
  fired: number;
}

function validate(rule: FaultRule): void {
  const bad = (message: string): never => {
    throw new TidewayError('OSS_EMULATOR_FAULT_INVALID', `Invalid OSS emulator fault rule: ${message}`);
  };
  if (rule.nth !== undefined && rule.times !== undefined) bad('give either nth or times, not both');
  const nth = rule.nth === undefined ? [] : typeof rule.nth === 'number' ? [rule.nth] : rule.nth;
  if (nth.some((n) => !Number.isInteger(n) || n < 1)) bad('nth counts matching requests from 1');
  if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 1)) bad('times must be a positive integer');
  const { action } = rule;
  if (action.kind === 'delay' && !(action.ms >= 0)) bad('delay needs ms >= 0');
  if (action.kind === 'resetAfterBytes' && !(action.bytes >= 0)) bad('resetAfterBytes needs bytes >= 0');
  if (action.kind === 'truncate' && action.bytes !== undefined && !(action.bytes >= 0)) bad('truncate needs bytes >= 0');
  if (action.kind === 'slowBody' && !(action.bytesPerSecond > 0)) bad('slowBody needs bytesPerSecond > 0');
  if (action.kind === 'error' && action.status !== undefined && !(action.status >= 400 && action.status <= 599)) bad('error status must be 4xx or 5xx');
}

/** The emulator's fault rules. The first rule that matches and is due fires; one fault per request. */
export class FaultRules {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  add(rule: FaultRule): FaultHandle {
    validate(rule);
    const active: ActiveRule = {
      id: rule.id ?? `fault-${this.nextId++}`,
      rule,
      keyPattern: rule.key === undefined ? undefined : globToRegExp(rule.key),
      ops: rule.op === undefined ? undefined : new Set(typeof rule.op === 'string' ? [rule.op as OssOperation] : (rule.op as readonly OssOperation[])),
      nth: rule.nth === undefined ? undefined : new Set(typeof rule.nth === 'number' ? [rule.nth] : rule.nth),
      matched: 0,
      fired: 0,
    };
    this.rules.push(active);
    return {
      id: active.id,
      get matched() {
        return active.matched;
      },
      get fired() {
        return active.fired;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== active);
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /**
   * Counts the request against every rule whose matchers accept it, and returns the fault of the
   * first such rule that is due. Counting every rule (not just the one that fires) keeps each rule's
   * `nth` independent of the others.
   */
  match(target: FaultTarget): FiredFault | undefined {
    let fired: FiredFault | undefined;
    for (const active of this.rules) {
      const { rule } = active;
      if (active.ops && !active.ops.has(target.op)) continue;
      if (rule.method !== undefined && rule.method.toUpperCase() !== target.method) continue;
      if (rule.bucket !== undefined && rule.bucket !== target.bucket) continue;
      if (active.keyPattern && (target.key === undefined || !active.keyPattern.test(target.key))) continue;
      active.matched++;
      const due = active.nth ? active.nth.has(active.matched) : rule.times === undefined || active.fired < rule.times;
      if (due && !fired) {
        active.fired++;
        fired = { rule: active.id, action: rule.action };
      }
    }
    return fired;
  }
}
