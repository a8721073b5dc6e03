import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import type { Config } from '../config/config.schema.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { migrate, openDb, type Db } from './infra/db.ts';
import { startRedisServer, startS3Server, type EmbeddedChild } from './infra/embedded.ts';
import { createRedis } from './infra/redis.ts';
import { ObjectStorage } from './infra/storage.ts';
import { QueueFactory } from './infra/queue.ts';
import { PubSub } from './infra/pubsub.ts';
import { jobIds, queueNames } from './jobs/job-types.ts';
import { AuthService } from './services/auth.service.ts';
import { SchoolsService } from './services/schools.service.ts';
import { TaxonomyService } from './services/taxonomy.service.ts';
import { LessonsService } from './services/lessons.service.ts';
import { ReviewService } from './services/review.service.ts';
import { PublicationService, type PublicationListener } from './services/publication.service.ts';
import { UrlSigner } from './services/url-signer.ts';
import { UploadsService } from './services/uploads.service.ts';
import { JobResultsService } from './services/job-results.service.ts';
import { PlaybackAccessService } from './services/playback-access.service.ts';
import { RouteRegistry } from './api/route-registry.ts';
import { createApp, baseUrlFrom } from './api/app.ts';
import { Metrics } from './api/metrics.ts';
import { ResponseCache } from './api/response-cache.ts';
import { registerCatalogRoutes } from './api/catalog.routes.ts';
import { registerStaffRoutes } from './api/staff.routes.ts';
import { registerUploadRoutes } from './api/uploads.routes.ts';
import { assetTarget, gatewayHandler } from './api/gateway.routes.ts';
import { transcodeJobOptions } from './jobs/transcode-options.ts';
import { liveJobOptions } from './jobs/live.job.ts';
import { liveResultApplier, LiveService, liveChannels } from './services/live.service.ts';
import { transcodeJob } from './jobs/transcode.job.ts';
import { startIngest } from './services/live-ingest.service.ts';
import { KeyAnnouncements, keysChannel } from './infra/key-announcements.ts';
import { SecretBox } from './services/secret-box.ts';
import { registerLiveRoutes } from './api/live.routes.ts';
import { liveTarget, objectCache } from './api/gateway.routes.ts';
import { rtmpPullUrl, type IngestSupervisor } from './infra/rtmp.ts';
import { applyCableResult, CableService } from './services/cable.service.ts';
import { registerCableRoutes } from './api/cable.routes.ts';
import { cableJob, cableProfileFromConfig, cableProviderFromConfig } from './jobs/cable.job.ts';
import { AttemptLimiter } from './infra/rate-limit.ts';
import { ScheduleService } from './services/schedule.service.ts';
import { TimetablesService } from './services/timetables.service.ts';
import { QuestionsService } from './services/questions.service.ts';
import { registerTimetableRoutes } from './api/timetables.routes.ts';
import { askBodyLimitBytes, registerQuestionRoutes } from './api/questions.routes.ts';
import { strictJsonRouter } from './api/strict-json.ts';
import { bearerOrCookie, SessionCookies } from './api/session-cookie.ts';
import { consolePages, webRouter } from './api/web.routes.ts';
import { opsQueuesRouter } from './api/ops-queues.routes.ts';
import { NotFoundError } from './domain/errors.ts';
import { LessonEditsService } from './services/lesson-edits.service.ts';
import { registerLessonEditRoutes } from './api/lesson-edits.routes.ts';
import { registerAdminRoutes } from './api/admin.routes.ts';
import { registerLiveStatusRoutes } from './api/live-status.routes.ts';
import { LiveStatusService } from './services/live-status.service.ts';
import { LiveStatsStore } from './infra/live-stats.store.ts';

export interface Roles {
  api: boolean;
  worker: boolean;
  ingest: boolean;
}

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

export interface SystemOptions {
  config: Config;
  roles: Roles;
  /** Required with roles.worker. */
  startWorkers?: StartWorkers;
  log?: Logger;
  version?: string;
}

export interface Services {
  auth: AuthService;
  schools: SchoolsService;
  taxonomy: TaxonomyService;
  lessons: LessonsService;
  review: ReviewService;
  publications: PublicationService;
  uploads: UploadsService;
  results: JobResultsService;
  access: PlaybackAccessService;
  preview: UrlSigner;
  live: LiveService;
  cable: CableService;
  schedule: ScheduleService;
  timetables: TimetablesService;
  questions: QuestionsService;
  edits: LessonEditsService;
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

/** Resolves embedded defaults: a redis-server and an S3 server child under DATA_DIR when none is configured. */
async function embeddedParts(config: Config, log: Logger): Promise<{ children: EmbeddedChild[]; redisUrl: string; s3Endpoint: string; secret: string }> {
  const children: EmbeddedChild[] = [];
  const dataDir = path.resolve(config.DATA_DIR);
  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    const r = await startRedisServer(path.join(dataDir, 'redis'), log);
    children.push(r);
    redisUrl = r.url;
  }
  let s3Endpoint = config.S3_ENDPOINT;
  if (!s3Endpoint) {
    const s = await startS3Server(path.join(dataDir, 's3'), log);
    children.push(s);
    s3Endpoint = s.url;
  }
  let secret = config.SIGNING_SECRET;
  if (!secret) {
    await mkdir(dataDir, { recursive: true });
    const file = path.join(dataDir, 'secret');
    secret = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (secret.length < 32) {
      secret = randomBytes(32).toString('hex');
      await writeFile(file, secret, { mode: 0o600 });
    }
  }
  return { children, redisUrl, s3Endpoint, secret };
}

/** Q&A ask limits (issue 6): strict per address, so a bot cannot flood the teachers' queue. */
const askWindows = (c: Config) => [{ windowS: 600, max: c.QA_ASK_MAX_PER_10_MIN }, { windowS: 86_400, max: c.QA_ASK_MAX_PER_DAY }];
const imageLimits = (c: Config) => ({ maxBytes: c.QA_MAX_IMAGE_KB * 1024, maxSide: c.QA_IMAGE_MAX_SIDE, maxPixels: c.QA_IMAGE_MAX_MEGAPIXELS * 1_000_000 });

/** The RTMP URL teachers put into OBS. */
export function rtmpPublicUrl(config: Config): string {
  if (config.RTMP_PUBLIC_URL) return config.RTMP_PUBLIC_URL;
  const host = config.PUBLIC_BASE_URL ? new URL(config.PUBLIC_BASE_URL).hostname : config.HTTP_HOST === '0.0.0.0' ? '127.0.0.1' : config.HTTP_HOST;
  return `rtmp://${host}:${config.RTMP_PORT}/live`;
}

/** Starts the roles asked for, with every part they need. */
export async function startSystem(o: SystemOptions): Promise<System> {
  const config = o.config;
  const log = o.log ?? createLogger(config.LOG_LEVEL);
  const version = o.version ?? '0.1.0';
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((err) => log.warn({ err }, 'error while stopping'));
    stops.length = 0;
  };
  try {
    const emb = await embeddedParts(config, log);
    for (const c of emb.children) stops.push(() => c.stop());

    const db = await openDb({
      url: config.DATABASE_URL,
      schema: config.DATABASE_SCHEMA,
      poolMax: config.DATABASE_POOL_MAX,
      pgliteDir: config.NODE_ENV === 'test' ? undefined : path.join(path.resolve(config.DATA_DIR), 'pglite'),
    });
    stops.push(() => db.close());
    await migrate(db, config.DATABASE_SCHEMA, log);

    const redis = createRedis(emb.redisUrl, { name: 'classcast' });
    stops.push(async () => { redis.disconnect(); });
    const storage = ObjectStorage.fromConfig(config, emb.s3Endpoint);
    await storage.ensureBuckets();
    const queues = new QueueFactory({ redisUrl: emb.redisUrl, prefix: config.QUEUE_PREFIX });
    stops.push(() => queues.close());
    const pubsub = new PubSub(emb.redisUrl, redis, config.QUEUE_PREFIX);
    stops.push(() => pubsub.close());
    const metrics = new Metrics();

    const preview = new UrlSigner(emb.secret);
    const taxonomy = new TaxonomyService(db);
    await taxonomy.seed();
    const access = new PlaybackAccessService(db, pubsub);
    const cable = new CableService(db, storage, taxonomy, async (payload) => {
      const j = cableJob(payload);
      await queues.add(j.queue, j.name, j.data, j.opts);
    }, log, {
      assetIdPrefix: config.CABLE_ASSET_ID_PREFIX,
      licenseDays: config.CABLE_LICENSE_DAYS,
      provider: cableProviderFromConfig(config),
      profile: cableProfileFromConfig(config),
      linkTtlS: config.CABLE_LINK_TTL_S,
    });
    const onPublication: PublicationListener = async (c) => {
      if (c.channel === 'portal') await access.invalidate(c.lessonId);
      else await cable.onPublicationChange(c).catch((err) => log.error({ err, lessonId: c.lessonId }, 'cable package could not be queued'));
    };
    const transcodeQueue = queues.queue(queueNames.transcode);
    const announcements = new KeyAnnouncements(redis, pubsub, config.QUEUE_PREFIX);
    const announceKeys = (lessonId: string) => announcements.announce(lessonId);
    const services: Services = {
      auth: new AuthService(db, redis, { tokenTtlHours: config.AUTH_TOKEN_TTL_HOURS, maxFailures: config.AUTH_LOGIN_MAX_FAILURES, windowS: config.AUTH_LOGIN_WINDOW_S, redisPrefix: config.QUEUE_PREFIX }),
      schools: new SchoolsService(db),
      taxonomy,
      lessons: new LessonsService(db, taxonomy, preview, {
        previewTtlS: config.PREVIEW_TTL_S,
        progress: async (asset) => {
          const job = await transcodeQueue.getJob(jobIds.transcode(asset.id));
          return typeof job?.progress === 'number' ? job.progress : undefined;
        },
      }),
      review: new ReviewService(db, [onPublication], async (lessonId) => {
        if (!(await announceKeys(lessonId))) log.warn({ lessonId }, 'an ingest did not confirm a live plan decision in time; its periodic refresh will');
      }),
      publications: new PublicationService(db, [onPublication]),
      uploads: new UploadsService(db, storage, async (j) => {
        await queues.add(queueNames.transcode, 'transcode', j, { ...transcodeJobOptions, jobId: jobIds.transcode(j.assetId) });
      }, { maxBytes: config.UPLOAD_MAX_BYTES, chunkBytes: config.UPLOAD_CHUNK_MB * 1024 * 1024 }),
      results: new JobResultsService(db, log),
      access,
      preview,
      cable,
      live: new LiveService(db, redis, pubsub, new SecretBox(emb.secret, 'live-stream-keys'), async (j) => {
        await queues.add(queueNames.live, 'live', j, { ...liveJobOptions, jobId: jobIds.live(j.sessionId) });
      }, log, {
        reconnectWindowS: config.LIVE_RECONNECT_WINDOW_S,
        earlyMarginMin: config.LIVE_EARLY_MARGIN_MIN,
        lateMarginMin: config.LIVE_LATE_MARGIN_MIN,
        redisPrefix: config.QUEUE_PREFIX,
        rtmpUrl: rtmpPublicUrl(config),
        announceKeys,
      }),
      schedule: new ScheduleService(db, taxonomy),
      timetables: new TimetablesService(db, taxonomy, { onLessonChanged: async (lessonId) => { await announceKeys(lessonId); } }),
      questions: new QuestionsService(db, storage, taxonomy, new AttemptLimiter(redis, { prefix: config.QUEUE_PREFIX, name: 'ask-question', windows: askWindows(config), secret: emb.secret }), emb.secret, {
        maxImages: config.QA_MAX_IMAGES, imageLimits: imageLimits(config), imageUrlTtlS: config.QA_IMAGE_LINK_TTL_S,
      }),
      // an edit reaches the gateway's and catalog's caches and the ingest's key windows at once
      edits: new LessonEditsService(db, taxonomy, async (lessonId) => {
        await access.invalidate(lessonId);
        await announceKeys(lessonId);
      }),
    };
    services.results.register('live', liveResultApplier(async (j) => {
      const t = transcodeJob(j);
      await queues.add(t.queue, t.name, t.data, t.opts);
    }));
    services.results.register('cable', applyCableResult);

    let apiUrl: string | undefined;
    if (o.roles.api) {
      // public catalog answers: dropped on every announced change to what students see, from any process
      const catalogCache = new ResponseCache(config.CATALOG_CACHE_MB * 1024 * 1024, () => pubsub.healthy);
      access.onChange(() => catalogCache.invalidate());
      await pubsub.subscribe(liveChannels.sessions, () => catalogCache.invalidate());
      await pubsub.subscribe(keysChannel, () => catalogCache.invalidate());
      await access.start();
      // the catalog applies job results (workers never touch the database)
      services.results.listen(queues, (lessonId) => access.invalidate(lessonId));

      // sessions whose publisher did not come back in time end here (every API process may sweep: idempotent)
      const sweep = setInterval(() => {
        services.live.sweep().catch((err) => log.warn({ err }, 'live sweep failed'));
      }, config.LIVE_SWEEP_INTERVAL_MS);
      sweep.unref();
      stops.push(async () => clearInterval(sweep));

      const registry = new RouteRegistry();
      const baseUrl = baseUrlFrom(config.PUBLIC_BASE_URL);
      const cookies = new SessionCookies({ publicBaseUrl: config.PUBLIC_BASE_URL });
      const authenticate = bearerOrCookie((t) => services.auth.authenticate(t), cookies);
      registerStaffRoutes(registry, { db, auth: services.auth, lessons: services.lessons, review: services.review, publications: services.publications, baseUrl, cookies });
      registerCatalogRoutes(registry, { lessons: services.lessons, taxonomy, schools: services.schools, baseUrl });
      registerUploadRoutes(registry, services.uploads);
      registerLiveRoutes(registry, services.live, baseUrl);
      registerCableRoutes(registry, cable);
      registerTimetableRoutes(registry, { timetables: services.timetables, schedule: services.schedule, baseUrl });
      registerAdminRoutes(registry, { auth: services.auth, schools: services.schools });
      registerLiveStatusRoutes(registry, new LiveStatusService(db, services.lessons, new LiveStatsStore(redis, config.QUEUE_PREFIX)));
      registerLessonEditRoutes(registry, { db, edits: services.edits, lessons: services.lessons, baseUrl });
      registerQuestionRoutes(registry, { questions: services.questions, baseUrl, maxImageBytes: imageLimits(config).maxBytes, maxImages: config.QA_MAX_IMAGES });
      const strictJson = strictJsonRouter({
        prefixes: ['/api/v1/questions', '/api/v1/answers', '/api/v1/staff/questions', '/api/v1/timetables', '/api/v1/schedule', '/api/v1/reports/late-timetables'],
        limitBytes: config.BODY_LIMIT_KB * 1024,
        larger: [{ method: 'POST', path: '/api/v1/questions', limitBytes: askBodyLimitBytes(imageLimits(config).maxBytes, config.QA_MAX_IMAGES) }],
      });
      const corsOrigins = config.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean);
      const gateway = gatewayHandler({
        storage,
        log,
        corsOrigins,
        metrics,
        cache: config.GATEWAY_CACHE_MB > 0 ? objectCache(config.GATEWAY_CACHE_MB * 1024 * 1024) : undefined,
        play: async (lessonId) => {
          const asset = await access.publishedAsset(lessonId);
          return asset ? assetTarget(asset, 'vod') : undefined;
        },
        preview: async (token) => {
          const grant = preview.verify(token);
          const asset = grant ? await access.readyAsset(grant.assetId) : null;
          return asset ? assetTarget(asset, 'preview') : undefined;
        },
        live: async (lessonId) => {
          const root = await access.liveRoot(lessonId, (id) => services.live.liveRoot(id));
          return root ? liveTarget(root) : undefined;
        },
      });
      const app = createApp({
        log,
        metrics,
        registry,
        authenticate,
        trustProxy: config.TRUST_PROXY,
        corsOrigins,
        jsonLimitKb: config.BODY_LIMIT_KB,
        publicCache: { cache: catalogCache, scope: baseUrl },
        readiness: {
          database: async () => { await db.query('SELECT 1'); },
          redis: async () => { await redis.ping(); },
          storage: () => storage.ping(),
        },
        routers: [strictJson, opsQueuesRouter({ queues: Object.values(queueNames).map((n) => queues.queue(n)), cookies, resolve: (t) => services.auth.authenticate(t) }), webRouter({ log, pages: consolePages, lessonIsPublic: (id) => services.lessons.getPublic(id, '').then(() => true, (err) => (err instanceof NotFoundError ? false : Promise.reject(err))) })],
        version,
      });
      // the playback gateway takes its requests before Express sees them (src/api/gateway.routes.ts)
      const server = http.createServer((req, res) => {
        if (!gateway(req, res)) app(req, res);
      });
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      server.requestTimeout = 0; // uploads of several GiB take long; idle sockets are timed out instead:
      server.timeout = config.HTTP_IDLE_TIMEOUT_S * 1000; // nothing in or out for this long: closed
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.HTTP_PORT, config.HTTP_HOST, () => resolve());
      });
      const addr = server.address() as import('node:net').AddressInfo;
      apiUrl = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
      stops.push(() => new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => { server.closeAllConnections(); resolve(); }, 5000).unref();
      }));
      log.info({ url: apiUrl }, 'API listening');
    }

    // workers pull live streams with this token; one process running both roles shares a random one
    const workerPlayToken = config.RTMP_WORKER_PLAY_TOKEN || randomBytes(24).toString('base64url');
    let ingest: IngestSupervisor | undefined;
    if (o.roles.ingest) {
      ingest = await startIngest({ config, log, live: services.live, pubsub, announcements, metrics, workerPlayToken, storage, redis });
      const sup = ingest;
      stops.push(() => sup.stop());
    }

    if (o.roles.worker) {
      const pull = (lessonId: string) =>
        ingest ? ingest.pullUrl(lessonId) : rtmpPullUrl({ host: config.RTMP_PULL_HOST, port: config.RTMP_PORT, lessonId, token: workerPlayToken });
      if (!o.startWorkers) throw new Error('the worker role needs startWorkers (workers/role.ts)');
      const workers: Worker[] = o.startWorkers(queues, { config, storage, log, redis, livePullUrl: pull });
      stops.push(async () => { await Promise.all(workers.map((w) => w.close())); });
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      log.info({ queues: workers.map((w) => w.name) }, 'worker ready');
    }

    return { config, log, db, redis, storage, queues, services, metrics, apiUrl, ingest, redisUrl: emb.redisUrl, s3Endpoint: emb.s3Endpoint, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
