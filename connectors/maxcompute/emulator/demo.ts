import type { TableFixture } from './tables.js';
import { type MaxComputeEmulator, type MaxComputeEmulatorOptions, startMaxComputeEmulator } from './server.js';

/** The demo project served by `endpoint: embedded`. */
export const DEMO_PROJECT = 'tideway_demo';
/** Fixed demo credentials: the embedded emulator accepts only these. */
export const DEMO_ACCESS_ID = 'tideway-demo';
export const DEMO_ACCESS_KEY = 'tideway-demo-secret';

/** Deterministic 32-bit hash of a row index and a salt: rows can be recomputed anywhere. */
export function mix(index: number, salt: number): number {
  let h = Math.imul(index ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

const COUNTRIES = ['CN', 'SG', 'DE', 'US', 'JP', 'BR', 'IN', 'FR'];
const FIRST = ['Li', 'Wang', 'Anna', 'Jonas', 'Maria', 'Kenji', 'Ravi', 'Chloe', 'Lucas', 'Mei'];
const LAST = ['Zhang', 'Chen', 'Schmidt', 'Garcia', 'Tanaka', 'Patel', 'Martin', 'Silva', 'Liu', 'Novak'];
const STATUS = ['created', 'paid', 'shipped', 'delivered', 'refunded'];
const KINDS = ['page_view', 'click', 'add_to_cart', 'checkout', 'search'];
const DAY_MS = 86_400_000;

/** Rows per `orders` partition. */
export const DEMO_ORDER_PARTITIONS: Readonly<Record<string, number>> = { 'ds=20240101': 20_000, 'ds=20240102': 25_000, 'ds=20240103': 30_000 };
export const DEMO_CUSTOMERS = 5_000;
export const DEMO_EVENTS = 10_000_000;

/** The demo tables: `orders` (partitioned by ds), `customers` and `events` (ten million generated rows). */
export function demoTables(): TableFixture[] {
  const orders: TableFixture = {
    name: 'orders',
    columns: [
      { name: 'order_id', type: 'bigint', comment: 'unique per partition and order' },
      { name: 'customer_id', type: 'bigint' },
      { name: 'amount', type: 'decimal(18,2)' },
      { name: 'currency', type: 'string' },
      { name: 'status', type: 'string' },
      { name: 'items', type: 'int' },
      { name: 'created_at', type: 'datetime' },
      { name: 'note', type: 'string', comment: 'mostly NULL' },
    ],
    partitionKeys: [{ name: 'ds', type: 'string' }],
    partitions: Object.fromEntries(
      Object.entries(DEMO_ORDER_PARTITIONS).map(([spec, rowCount], p) => {
        const day = Date.UTC(2024, 0, 1 + p);
        return [
          spec,
          {
            rowCount,
            seed: p + 1,
            row: (i: number, seed: number) => {
              const h = mix(i, seed);
              return [
                seed * 1_000_000 + i,
                (h % DEMO_CUSTOMERS) + 1,
                `${(h % 100_000) / 100}`,
                h % 5 === 0 ? 'USD' : 'CNY',
                STATUS[h % STATUS.length]!,
                (h % 7) + 1,
                day + (h % DAY_MS),
                h % 13 === 0 ? `gift wrap requested for order ${i}` : null,
              ];
            },
          },
        ];
      }),
    ),
  };
  const customers: TableFixture = {
    name: 'customers',
    columns: [
      { name: 'customer_id', type: 'bigint' },
      { name: 'name', type: 'string' },
      { name: 'email', type: 'string' },
      { name: 'country', type: 'char(2)' },
      { name: 'signup_date', type: 'date' },
      { name: 'vip', type: 'boolean' },
      { name: 'tags', type: 'array<string>' },
      { name: 'address', type: 'struct<city:string,zip:string>' },
    ],
    data: {
      rowCount: DEMO_CUSTOMERS,
      seed: 7,
      row: (i, seed) => {
        const h = mix(i, seed);
        const first = FIRST[h % FIRST.length]!;
        const last = LAST[(h >>> 8) % LAST.length]!;
        return [
          i + 1,
          `${first} ${last}`,
          `${first}.${last}.${i + 1}@example.com`.toLowerCase(),
          COUNTRIES[(h >>> 4) % COUNTRIES.length]!,
          19000 + (h % 1800),
          h % 10 === 0,
          h % 3 === 0 ? ['newsletter', 'mobile'] : ['web'],
          { city: `City ${h % 50}`, zip: String(10000 + (h % 89999)) },
        ];
      },
    },
  };
  const events: TableFixture = {
    name: 'events',
    columns: [
      { name: 'event_id', type: 'bigint' },
      { name: 'user_id', type: 'bigint' },
      { name: 'kind', type: 'string' },
      { name: 'ts', type: 'timestamp' },
      { name: 'value', type: 'double' },
      { name: 'payload', type: 'json' },
    ],
    data: {
      rowCount: DEMO_EVENTS,
      seed: 11,
      row: (i, seed) => {
        const h = mix(i, seed);
        const seconds = 1_704_067_200 + Math.floor(i / 4);
        return [i, (h % 100_000) + 1, KINDS[h % KINDS.length]!, { seconds, nanos: (h % 1000) * 1_000_000 }, (h % 10_000) / 100, `{"page":"/p/${h % 500}"}`];
      },
    },
  };
  return [orders, customers, events];
}

/**
 * Starts the emulator with the demo project, the fixed demo credentials, and portable session ids (so
 * readers in other threads, each with their own embedded emulator, can attach to the planner's sessions).
 */
export function startEmbeddedMaxCompute(options: Omit<MaxComputeEmulatorOptions, 'projects' | 'project' | 'accessId' | 'accessKey'> = {}): Promise<MaxComputeEmulator> {
  return startMaxComputeEmulator({
    ...options,
    project: DEMO_PROJECT,
    tables: demoTables(),
    accessId: DEMO_ACCESS_ID,
    accessKey: DEMO_ACCESS_KEY,
    portableSessions: true,
  });
}
