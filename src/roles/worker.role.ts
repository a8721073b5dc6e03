import type { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import type { Config } from '../../config/config.schema.ts';
import type { Logger } from '../infra/logger.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import type { QueueFactory } from '../infra/queue.ts';
import { startRole, type RoleContext, type Stop } from './role.ts';

/**
 * Starts the media workers of the worker role. Registered by the entry that runs it
 * (workers/role.ts startWorkerRole, passed in by scripts/classcast.mjs and the tests): src/ never
 * imports workers/.
 */
export type StartWorkers = (queues: QueueFactory, deps: {
  config: Config;
  storage: ObjectStorage;
  log: Logger;
  redis: Redis;
  livePullUrl: (lessonId: string) => string;
}) => Worker[];

/** The worker role: the registered job workers, ready to take jobs when this returns. */
export function startWorkersRole({ config, log, parts }: RoleContext, startWorkers: StartWorkers | undefined, livePullUrl: (lessonId: string) => string): Promise<{ stop: Stop }> {
  return startRole(log, async (stops) => {
    if (!startWorkers) throw new Error('the worker role needs startWorkers (workers/role.ts)');
    const { queues, storage, redis } = parts;
    const workers = startWorkers(queues, { config, storage, log, redis, livePullUrl });
    stops.add(async () => { await Promise.all(workers.map((w) => w.close())); });
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    log.info({ queues: workers.map((w) => w.name) }, 'worker ready');
    return {};
  });
}
