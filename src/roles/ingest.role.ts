import type { KeyAnnouncements } from '../infra/key-announcements.ts';
import type { IngestSupervisor } from '../infra/rtmp.ts';
import { startIngest } from '../services/live-ingest.service.ts';
import type { RoleContext, Stop } from './role.ts';

/** The ingest role: the RTMP ingest with its key cache, live events and capture (services/live-ingest.service.ts). */
export async function startIngestRole({ config, log, parts, services }: RoleContext, announcements: KeyAnnouncements, workerPlayToken: string): Promise<{ ingest: IngestSupervisor; stop: Stop }> {
  const { pubsub, metrics, storage, redis } = parts;
  const ingest = await startIngest({ config, log, live: services.live, pubsub, announcements, metrics, workerPlayToken, storage, redis });
  return { ingest, stop: () => ingest.stop() };
}
