import type { FromPipeline, ToPipeline } from '../engine/messages.js';
import type { PipelineSpec } from '../engine/transport.js';

/**
 * What a coordinator and workers say to each other over NATS. Requests to a worker go to its own subject
 * (request-reply); control messages go to per-run, per-pipeline subjects as JSON. The engine's messages carry
 * their own sequence numbers, so a copy delivered twice or out of order is harmless; a run that loses one
 * (a NATS reconnect) stalls its checkpoint until the timeout fails it and the next run resumes.
 */

/** A PipelineSpec as JSON: the schema's IPC bytes in base64. */
export type WireSpec = Omit<PipelineSpec, 'schemaIpc'> & { schemaIpc: string };

export function specToWire(spec: PipelineSpec): WireSpec {
  return { ...spec, schemaIpc: Buffer.from(spec.schemaIpc).toString('base64') };
}

export function specFromWire(spec: WireSpec): PipelineSpec {
  return { ...spec, schemaIpc: new Uint8Array(Buffer.from(spec.schemaIpc, 'base64')) };
}

/** The lease a run's pipelines live under: a worker stops them once the key no longer carries `token`. */
export interface LeaseRef {
  key: string;
  token: string;
}

export type WorkerRequest =
  | {
      kind: 'place';
      runId: string;
      job: string;
      lease: LeaseRef | null;
      /** The coordinator's heartbeat timeout: a worker that cannot heartbeat for half of it stops the run. */
      heartbeatTimeoutMs: number;
      specs: WireSpec[];
    }
  | { kind: 'kill'; runId: string; pipelineId: number }
  | { kind: 'stop'; runId: string };

export type WorkerReply = { ok: true } | { ok: false; code: string; message: string };

export interface ToPipelineEnvelope {
  message: ToPipeline;
}

export interface FromPipelineEnvelope {
  pipelineId: number;
  message: FromPipeline;
}

/** The value of a worker's key in the workers bucket, rewritten at every heartbeat. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  slots: number;
  used: number;
  startedAt: string;
  heartbeatAt: string;
  /** The runs it hosts pipelines of. */
  runs: { runId: string; job: string; pipelines: number[] }[];
}
