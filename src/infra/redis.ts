import { Redis } from 'ioredis';

/** A Redis connection; BullMQ workers need maxRetriesPerRequest null. */
export function createRedis(url: string, opts: { forBullmq?: boolean; name?: string } = {}): Redis {
  const r = new Redis(url, {
    maxRetriesPerRequest: opts.forBullmq ? null : 3,
    enableReadyCheck: true,
    lazyConnect: false,
    connectionName: opts.name,
  });
  r.on('error', () => undefined);
  return r;
}
