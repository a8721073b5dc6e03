import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/config.schema.ts';
import type { Metrics } from '../api/metrics.ts';
import { KeyAnnouncements, keysChannel } from '../infra/key-announcements.ts';
import type { Logger } from '../infra/logger.ts';
import type { PubSub } from '../infra/pubsub.ts';
import { IngestSupervisor } from '../infra/rtmp.ts';
import { LiveStatsStore } from '../infra/live-stats.store.ts';
import { liveChannels, type LiveService } from './live.service.ts';
import { LiveCaptureService } from './live-capture.service.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import { endOfStreamWaitMs } from '../pipeline/live-context.ts';
import { settleWithin } from '../infra/settle-within.ts';

/** How often an ingest says it is alive; it counts as gone after three missed beats. */
const heartbeatMs = 2000;
/** How often the streams' figures are published for the teachers' live panels. */
const statsMs = 2000;
/** Full refresh of the key cache from the catalog (a lost announcement heals within this). */
const refreshMs = 5000;
/** How long a closing ingest waits for the catalog to record its last events (publishers lost). */
const handlingWaitMs = 3000;

/**
 * The ingest role: node-media-server in its supervised child, its key cache fed from the catalog,
 * its events applied to the live sessions, stop requests turned into kicks.
 *
 * Key changes come as numbered announcements (KeyAnnouncements). They and the periodic full refresh
 * run one at a time, in arrival order, so a refresh that read the catalog before an approval cannot
 * overwrite the approval's entry after it; each announcement is acknowledged only once the child has
 * it (`sync`), which is what lets the API answer an approval only when a publish would be accepted.
 */
export async function startIngest(o: { config: Config; log: Logger; live: LiveService; pubsub: PubSub; announcements: KeyAnnouncements; metrics: Metrics; workerPlayToken: string; storage: ObjectStorage; redis: Redis }): Promise<IngestSupervisor> {
  const { live, log, announcements } = o;
  const ingestId = randomUUID();
  const sup = IngestSupervisor.fromConfig(o.config, log.child({ role: 'ingest' }), { workerPlayToken: o.workerPlayToken });
  const restarts = o.metrics.counter('classcast_ingest_restarts_total', 'Times the RTMP ingest child process was restarted');
  const refusals = o.metrics.counter('classcast_ingest_refusals_total', 'Refused RTMP publish/play attempts by reason', ['role', 'reason']);
  const onAir = o.metrics.gauge('classcast_ingest_publishers', 'Publishers on air in this ingest');
  // every accepted publisher is captured here, whatever the transcoders do (issue 11 item 1)
  const capture = new LiveCaptureService({ config: o.config, storage: o.storage, redis: o.redis, log: log.child({ role: 'ingest' }), pullUrl: (lessonId) => sup.capturePullUrl(lessonId) });
  // in flight: a closing ingest lets the catalog record its publishers lost before the parts close
  const handling = new Set<Promise<unknown>>();
  const guard = (what: string, p: Promise<unknown>) => {
    const g = p.catch((err) => log.warn({ err, what }, 'ingest event handling failed'));
    handling.add(g);
    void g.finally(() => handling.delete(g));
    return g;
  };

  // one key change at a time, in order
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (what: string, fn: () => Promise<void>) => {
    chain = chain.then(() => guard(what, fn()));
    return chain;
  };
  const refresh = () => serial('keys', async () => {
    const seq = await announcements.latest();
    sup.setKeys(await live.keyEntries());
    await sup.sync();
    await announcements.applied(ingestId, seq);
  });
  const applyOne = (seq: number, lessonId: string) => serial('key', async () => {
    const entry = await live.keyEntry(lessonId);
    if (entry) sup.upsertKey(entry);
    else sup.removeKey(lessonId);
    await sup.sync();
    if (seq > 0) await announcements.applied(ingestId, seq);
  });

  sup.on('restart', () => restarts.inc());
  sup.on('refused', (e: { role: string; reason: string }) => refusals.inc({ role: e.role, reason: e.reason }));
  sup.on('publishStart', (e: { lessonId: string; ip: string }) => {
    onAir.inc();
    guard('publishStart', live.onPublishStart(e.lessonId, e.ip).then(async (r) => {
      // the catalog no longer agrees (stopped or plan withdrawn meanwhile): cut it off
      if (!r) await sup.kick(e.lessonId).catch(() => undefined);
      else capture.ensure({ sessionId: r.sessionId, lessonId: e.lessonId, startedAt: Date.now() });
    }));
  });
  sup.on('publisherLost', (e: { lessonId: string }) => {
    onAir.dec();
    guard('publisherLost', live.onPublisherLost(e.lessonId));
  });
  await o.pubsub.subscribe(keysChannel, (msg) => {
    const a = KeyAnnouncements.parse(msg);
    if (a) void applyOne(a.seq, a.lessonId);
  });
  await o.pubsub.subscribe(liveChannels.kick, (lessonId) => void guard('kick', sup.kick(lessonId).then(refresh)));
  await sup.start();
  await refresh();
  // registered only now: every announcement from here on reaches this process
  await announcements.heartbeat(ingestId, heartbeatMs * 3);
  const beat = setInterval(() => void guard('heartbeat', announcements.heartbeat(ingestId, heartbeatMs * 3)), heartbeatMs);
  beat.unref();
  const timer = setInterval(() => void refresh(), refreshMs);
  timer.unref();
  // the teacher's live panel: what this ingest sees of each stream, shared through Redis
  const statsStore = new LiveStatsStore(o.redis, o.config.QUEUE_PREFIX);
  const statsTimer = setInterval(() => {
    if (sup.onAir().length > 0) void guard('stream stats', sup.stats().then((s) => statsStore.write(s.streams)));
  }, statsMs);
  statsTimer.unref();
  const stop = sup.stop.bind(sup);
  sup.stop = async () => {
    clearInterval(timer);
    clearInterval(statsTimer);
    clearInterval(beat);
    await announcements.leave(ingestId).catch(() => undefined);
    // Every second that reached this ingest goes into the captures before it exits (issue 11): a
    // capture's ffmpeg blocked in its read ignores SIGTERM and a kill loses its last segment, so the
    // child first ends every pull the way a publish that is over ends it, and the captures end with
    // their stream. The publishers it cuts reconnect to another (or the restarted) ingest into the
    // same sessions; the catalog ends a session into its recording if none does within the window.
    capture.drain();
    await Promise.all([sup.endAll(endOfStreamWaitMs), capture.stop(endOfStreamWaitMs)]);
    // bounded: a catalog that does not answer must not hold the deploy (a session it still has on air
    // goes on when its publisher comes back, or ends at its scheduled time)
    await settleWithin(Promise.allSettled([...handling]), handlingWaitMs);
    await stop();
  };
  log.info({ port: sup.port }, 'RTMP ingest listening');
  return sup;
}
