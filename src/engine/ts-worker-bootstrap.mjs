// Used only when Tideway runs from its TypeScript sources (tests, tsx): workers need tsx's loader too.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
