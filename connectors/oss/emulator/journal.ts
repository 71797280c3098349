import type { FaultAction } from './faults.js';
import type { OssOperation } from './operations.js';

/** How a request ended, from the emulator's side of the connection. */
export type RequestOutcome =
  /** A whole response was sent. */
  | 'complete'
  /** The emulator reset the connection (a fault). */
  | 'reset'
  /** The emulator sent fewer body bytes than Content-Length and closed (a fault). */
  | 'truncated'
  /** The client went away before the response was complete. */
  | 'aborted';

/** One request as the emulator saw it. */
export interface JournalEntry {
  /** 1-based order of arrival. */
  seq: number;
  requestId: string;
  /** Epoch milliseconds, from the emulator's clock. */
  startedAt: number;
  method: string;
  op: OssOperation;
  bucket: string | undefined;
  key: string | undefined;
  query: Readonly<Record<string, string>>;
  /** HTTP status sent; 0 when no response was sent (reset, or the client left first). */
  status: number;
  /** OSS error code of an error response. */
  errorCode: string | undefined;
  accessKeyId: string | undefined;
  /** Request body bytes read. */
  bytesIn: number;
  /** Response body bytes written. */
  bytesOut: number;
  /** Wall time from arrival to the end of the response, in milliseconds. */
  ms: number;
  outcome: RequestOutcome;
  fault: { rule: string; kind: FaultAction['kind'] } | undefined;
}

/** Matches entries by equality on the given fields, or by a predicate. */
export type JournalFilter =
  | Partial<Pick<JournalEntry, 'op' | 'method' | 'bucket' | 'key' | 'status' | 'errorCode' | 'outcome'>>
  | ((entry: JournalEntry) => boolean);

function matches(entry: JournalEntry, filter: JournalFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (typeof filter === 'function') return filter(entry);
  return Object.entries(filter).every(([name, value]) => value === undefined || entry[name as keyof JournalEntry] === value);
}

/**
 * Every request the emulator answered (or refused to), in the order they ended (`seq` gives the
 * order they arrived). An entry is recorded just before the last response bytes leave, so once a
 * client call has returned, its requests are in the journal; if the connection then fails during
 * that final flush, the entry's `outcome` is corrected to `aborted` in place. Tests assert on it:
 * "exactly two PutObject", "no part above 1 MiB", "AbortMultipartUpload was called".
 */
export class RequestJournal {
  private readonly list: JournalEntry[] = [];
  private dropped = 0;
  private readonly waiters = new Set<{ filter: JournalFilter | undefined; resolve: (entry: JournalEntry) => void }>();

  /** @param limit oldest entries are dropped beyond this many, so a long-running emulator stays small. */
  constructor(private readonly limit: number) {}

  /** @internal Called by the server when a request ends. */
  record(entry: JournalEntry): void {
    this.list.push(entry);
    if (this.list.length > this.limit) {
      this.list.shift();
      this.dropped++;
    }
    for (const waiter of this.waiters) {
      if (matches(entry, waiter.filter)) {
        this.waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  /**
   * The first entry (already recorded or still to come) that matches. A request is journaled when
   * it ends on the emulator's side, which can be just after the client has seen a failure.
   */
  waitFor(filter?: JournalFilter, options: { timeoutMs?: number } = {}): Promise<JournalEntry> {
    const existing = this.list.find((e) => matches(e, filter));
    if (existing) return Promise.resolve(existing);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<JournalEntry>((resolve, reject) => {
      const waiter = {
        filter,
        resolve: (entry: JournalEntry) => {
          clearTimeout(timer);
          resolve(entry);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no OSS emulator request matching the filter was journaled within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Entries in the order they ended, optionally filtered. A copy: later requests do not change it. */
  entries(filter?: JournalFilter): JournalEntry[] {
    return this.list.filter((e) => matches(e, filter));
  }

  count(filter?: JournalFilter): number {
    return this.entries(filter).length;
  }

  last(filter?: JournalFilter): JournalEntry | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const entry = this.list[i] as JournalEntry;
      if (matches(entry, filter)) return entry;
    }
    return undefined;
  }

  /** Entries dropped because the journal was over its limit. */
  get droppedCount(): number {
    return this.dropped;
  }

  clear(): void {
    this.list.length = 0;
    this.dropped = 0;
  }
}
