/**
 * Fails `npm run lint` (the type check) when the server's JSON no longer fits what the dashboard reads
 * (web/src/api-types.ts): each server type must be assignable to the dashboard's.
 */
import type * as Server from '../../src/server/jobs.js';
import type * as Engine from '../../src/engine/result.js';
import type * as Cluster from '../../src/cluster/cluster-status.js';
import type * as Web from '../../web/src/api-types.js';

type Fits<Actual extends Expected, Expected> = [Actual, Expected];

export type ApiTypesFit = [
  Fits<Server.ServerJobStatus, Web.JobStatus>,
  Fits<Engine.JobProgress, Web.JobProgress>,
  Fits<Engine.CheckpointEvent, Web.CheckpointEvent>,
  Fits<Server.JobView, Web.JobView>,
  Fits<Server.JobProgressEvent, Web.JobProgressEvent>,
  Fits<Server.JobCheckpointEvent, Web.JobCheckpointEvent>,
  Fits<Server.JobStatusEvent, Web.JobStatusEvent>,
  Fits<Cluster.ClusterStatus, Web.ClusterStatus>,
];
