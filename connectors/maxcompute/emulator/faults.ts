/** Which emulator endpoint a fault applies to. */
export type FaultAction = 'service' | 'create' | 'reload' | 'read';

/** What a fault does. */
export type FaultEffect =
  /** Answer with an HTTP error and the ODPS JSON body (429 carries Retry-After when given). */
  | { type: 'http_error'; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  /** Wait before answering. */
  | { type: 'delay'; ms: number }
  /** Send this many rows of the body, then cut the connection. */
  | { type: 'disconnect_after_rows'; rows: number }
  /** Send this many bytes of the body, then cut the connection. */
  | { type: 'disconnect_after_bytes'; bytes: number }
  /** End the body cleanly after this many rows: a valid stream holding fewer rows than asked for. */
  | { type: 'early_eof'; rows: number }
  /** The record after `afterRows` rows carries a wrong CRC (Arrow: a payload byte flipped in its chunk). */
  | { type: 'crc_mismatch'; afterRows?: number }
  /** Garbage where the record after `afterRows` rows should be. */
  | { type: 'malformed_record'; afterRows?: number }
  /** The session expires now: this and later requests get NoSuchDownload. */
  | { type: 'expire_session' };

/** A fault to inject, matched by action, table and attempt number. */
export interface FaultRule {
  action: FaultAction;
  /** Table name (case-insensitive); any table when absent. */
  table?: string;
  /**
   * 1-based attempt numbers of this action on this table (every request counts, faulted or not) that the
   * rule matches; every attempt when absent.
   */
  attempt?: number | readonly number[];
  /** How many times the rule fires. @default 1 when `attempt` is absent, unlimited otherwise */
  times?: number;
  effect: FaultEffect;
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

/** Holds fault rules and the per-(action, table) attempt counters. */
export class FaultBook {
  private rules: ActiveRule[] = [];
  private readonly attempts = new Map<string, number>();

  add(rule: FaultRule): void {
    const remaining = rule.times ?? (rule.attempt === undefined ? 1 : Number.POSITIVE_INFINITY);
    this.rules.push({ rule, remaining });
  }

  clear(): void {
    this.rules = [];
    this.attempts.clear();
  }

  /** Counts a request and returns the effects of every rule it triggers, in the order the rules were added. */
  match(action: FaultAction, table: string | undefined): { attempt: number; effects: FaultEffect[] } {
    const key = `${action}:${(table ?? '').toLowerCase()}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const effects: FaultEffect[] = [];
    for (const active of this.rules) {
      const { rule } = active;
      if (active.remaining <= 0 || rule.action !== action) continue;
      if (rule.table !== undefined && rule.table.toLowerCase() !== (table ?? '').toLowerCase()) continue;
      if (rule.attempt !== undefined) {
        const wanted = typeof rule.attempt === 'number' ? [rule.attempt] : rule.attempt;
        if (!wanted.includes(attempt)) continue;
      }
      active.remaining--;
      effects.push(rule.effect);
    }
    return { attempt, effects };
  }
}
