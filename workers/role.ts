import type { StartWorkers } from '../src/roles/worker.role.ts';
import { jobHandlers } from './handlers.ts';
import { startJobWorkers } from './worker.ts';

/** The worker role as the composition roots register it: one BullMQ worker per job handler. */
export const startWorkerRole: StartWorkers = (queues, deps) => startJobWorkers(queues, deps, jobHandlers(deps.config));
