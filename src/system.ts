import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../config/config.schema.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import type { Db } from './infra/db.ts';
import type { ObjectStorage } from './infra/storage.ts';
import type { QueueFactory } from './infra/queue.ts';
import type { Metrics } from './api/metrics.ts';
import { rtmpPullUrl, type IngestSupervisor } from './infra/rtmp.ts';
import { Stops, type RoleContext } from './roles/role.ts';
import { startParts } from './roles/parts.ts';
import { createServices, type Services } from './roles/services.ts';
import { startApiRole } from './roles/api.role.ts';
import { startIngestRole } from './roles/ingest.role.ts';
import { startWorkersRole, type StartWorkers } from './roles/worker.role.ts';

export interface Roles {
  api: boolean;
  worker: boolean;
  ingest: boolean;
}

export interface SystemOptions {
  config: Config;
  roles: Roles;
  /** Required with roles.worker. */
  startWorkers?: StartWorkers;
  log?: Logger;
  version?: string;
}

/** A running classcast: its parts, services and the API's URL; stop() ends every part it started. */
export interface System {
  config: Config;
  log: Logger;
  db: Db;
  redis: Redis;
  storage: ObjectStorage;
  queues: QueueFactory;
  services: Services;
  metrics: Metrics;
  apiUrl?: string;
  /** The RTMP ingest when this process runs the ingest role. */
  ingest?: IngestSupervisor;
  redisUrl: string;
  s3Endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts the roles asked for over the parts and services they share: the API (catalog and playback
 * gateway), the RTMP ingest, the media workers. Each role (src/roles/) returns its stop; stop() ends
 * the roles in reverse order, then the parts.
 */
export async function startSystem(o: SystemOptions): Promise<System> {
  const { config } = o;
  const log = o.log ?? createLogger(config.LOG_LEVEL);
  const stops = new Stops(log);
  try {
    const parts = await startParts(config, log, stops);
    const { services, announcements } = await createServices(config, log, parts);
    const ctx: RoleContext = { config, log, parts, services };

    const api = o.roles.api ? stops.keep(await startApiRole(ctx, o.version ?? '0.1.0')) : undefined;
    // workers pull live streams with this token; one process running both roles shares a random one
    const workerPlayToken = config.RTMP_WORKER_PLAY_TOKEN || randomBytes(24).toString('base64url');
    const ingest = o.roles.ingest ? stops.keep(await startIngestRole(ctx, announcements, workerPlayToken)).ingest : undefined;
    const livePullUrl = (lessonId: string) =>
      ingest ? ingest.pullUrl(lessonId) : rtmpPullUrl({ host: config.RTMP_PULL_HOST, port: config.RTMP_PORT, lessonId, token: workerPlayToken });
    if (o.roles.worker) stops.keep(await startWorkersRole(ctx, o.startWorkers, livePullUrl));

    const { db, redis, storage, queues, metrics, redisUrl, s3Endpoint } = parts;
    return { config, log, db, redis, storage, queues, services, metrics, apiUrl: api?.url, ingest, redisUrl, s3Endpoint, stop: () => stops.stopAll() };
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}
