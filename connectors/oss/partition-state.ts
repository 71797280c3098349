import type { Json } from '../../src/api/json.js';
import type { OssClient } from './client.js';
import { partitionStateKey } from './layout.js';

/**
 * The committer's memory across runs, kept in `<prefix>/_tideway/partitions/<job>.json`: time slices
 * that hold committed data and no completion marker yet, and how far markers have gone. The committer
 * rewrites it (one PUT, atomic in OSS) after it writes markers; a crash before that is repaired by the
 * restore's recommit, which recomputes the same slices from the same checkpoint.
 */
export interface PartitionState {
  format: 'tideway-oss-partitions';
  job: string;
  /** Slice folder -> slice end (ms). */
  pending: Record<string, number>;
  /** End (ms) of the newest slice that has a marker, or null: writers look markers up only for slices ending by then. */
  markedThrough: number | null;
  /** Markers written so far. */
  markers: number;
  updatedAt: string;
  [key: string]: Json;
}

export function emptyPartitionState(job: string): PartitionState {
  return { format: 'tideway-oss-partitions', job, pending: {}, markedThrough: null, markers: 0, updatedAt: new Date(0).toISOString() };
}

export async function loadPartitionState(client: OssClient, prefix: string, job: string, signal?: AbortSignal): Promise<PartitionState> {
  const bytes = await client.getBytes(partitionStateKey(prefix, job), signal);
  if (!bytes) return emptyPartitionState(job);
  const parsed = JSON.parse(bytes.toString('utf8')) as Partial<PartitionState>;
  return { ...emptyPartitionState(job), ...parsed, pending: { ...(parsed.pending ?? {}) } };
}

export async function savePartitionState(client: OssClient, prefix: string, state: PartitionState, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(`${JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 2)}\n`);
  await client.put(partitionStateKey(prefix, state.job), body, 'application/json', signal);
}
