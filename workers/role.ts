import type { StartWorkers } from '../src/roles/worker.role.ts';
import { LiveWorkersStore } from '../src/infra/live-workers.store.ts';
import { queueNames } from '../src/jobs/job-types.ts';
import { jobHandlers } from './handlers.ts';
import { LiveSlots } from './live-slots.ts';
import { startJobWorkers } from './worker.ts';

/**
 * The worker role as the composition roots register it: one BullMQ worker per job handler, and the
 * live slots' heartbeat. Closing the live worker (the role's stop awaits it) also leaves the fleet, so
 * a worker stopped on purpose is not counted until its heartbeat expires.
 */
export const startWorkerRole: StartWorkers = (queues, deps) => {
  const liveSlots = new LiveSlots(new LiveWorkersStore(deps.redis, deps.config.QUEUE_PREFIX), deps.config.LIVE_CONCURRENCY, deps.config.LIVE_WORKER_TTL_S, deps.log);
  const workers = startJobWorkers(queues, { ...deps, liveSlots }, jobHandlers(deps.config));
  const live = workers.find((w) => w.name === queueNames.live);
  if (live) {
    const close = live.close.bind(live);
    live.close = async (force?: boolean) => {
      await close(force);
      await liveSlots.stop();
    };
  }
  liveSlots.start();
  return workers;
};
