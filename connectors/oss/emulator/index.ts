/**
 * A local OSS-compatible server for tests and `endpoint: embedded` jobs. It verifies V1 and V4
 * signatures, speaks OSS's XML, and lets tests inject faults and read a request journal.
 */
export { startOssEmulator, type OssEmulator } from './server.js';
export { startEmbeddedOss, type EmbeddedOss, type EmbeddedOssConnection, type EmbeddedOssOptions } from './embedded.js';
export { runOssEmulatorCli, parseOssEmulatorArgs, OSS_EMULATOR_USAGE, type OssEmulatorCliIo, type ParsedOssEmulatorArgs } from './cli.js';
export { OSS_EMULATOR_DEMO_CREDENTIALS, type OssCredential, type OssEmulatorOptions } from './options.js';
export type { FaultAction, FaultHandle, FaultRule } from './faults.js';
export { RequestJournal, type JournalEntry, type JournalFilter, type RequestOutcome } from './journal.js';
export { OSS_OPERATIONS, type OssOperation } from './operations.js';
export type { EmulatorStorageView, StoredObjectInfo, StoredUploadInfo } from './storage-view.js';
export type { RouteMode } from './routing.js';
