export {
  type EmulatorLatency,
  type JournalEntry,
  type MaxComputeEmulator,
  type MaxComputeEmulatorOptions,
  startMaxComputeEmulator,
} from './server.js';
export type { FaultAction, FaultEffect, FaultRule } from './faults.js';
export type { PartitionData, TableFixture, TableRows } from './tables.js';
export { DEMO_ACCESS_ID, DEMO_ACCESS_KEY, DEMO_PROJECT, demoTables, mix, startEmbeddedMaxCompute } from './demo.js';
