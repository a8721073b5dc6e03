import type express from 'express';
import { RouteRegistry } from '../api/route-registry.ts';
import { createApp, baseUrlFrom } from '../api/app.ts';
import type { ResponseCache } from '../api/response-cache.ts';
import { registerCatalogRoutes } from '../api/catalog.routes.ts';
import { registerStaffRoutes } from '../api/staff.routes.ts';
import { registerUploadRoutes } from '../api/uploads.routes.ts';
import { registerLiveRoutes } from '../api/live.routes.ts';
import { registerCableRoutes } from '../api/cable.routes.ts';
import { registerTimetableRoutes } from '../api/timetables.routes.ts';
import { askBodyLimitBytes, registerQuestionRoutes } from '../api/questions.routes.ts';
import { registerLessonEditRoutes } from '../api/lesson-edits.routes.ts';
import { registerAdminRoutes } from '../api/admin.routes.ts';
import { registerLiveStatusRoutes } from '../api/live-status.routes.ts';
import { strictJsonRouter } from '../api/strict-json.ts';
import { bearerOrCookie, SessionCookies } from '../api/session-cookie.ts';
import { consolePages, webRouter } from '../api/web.routes.ts';
import { opsQueuesRouter } from '../api/ops-queues.routes.ts';
import { NotFoundError } from '../domain/errors.ts';
import { queueNames } from '../jobs/job-types.ts';
import { LiveStatsStore } from '../infra/live-stats.store.ts';
import { pingDb } from '../infra/db.ts';
import { LiveStatusService } from '../services/live-status.service.ts';
import { LiveCapacityService } from '../services/live-capacity.service.ts';
import { LiveWorkersStore } from '../infra/live-workers.store.ts';
import { unfinishedJobs } from '../infra/queue.ts';
import { registerCapacityRoutes } from '../api/capacity.routes.ts';
import { questionImageLimits } from './services.ts';
import type { RoleContext } from './role.ts';

/** Paths whose JSON bodies are parsed strictly (duplicate keys, lone surrogates refused). */
const strictJsonPrefixes = ['/api/v1/questions', '/api/v1/answers', '/api/v1/staff/questions', '/api/v1/timetables', '/api/v1/schedule', '/api/v1/reports/late-timetables'];

/** The Express app of the API role: every route in the registry, the pages, the queue dashboard, readiness of the parts. */
export function apiApp({ config, log, parts, services }: RoleContext, o: { catalogCache: ResponseCache; corsOrigins: string[]; version: string }): express.Express {
  const { db, redis, storage, queues, metrics } = parts;
  const registry = new RouteRegistry();
  const baseUrl = baseUrlFrom(config.PUBLIC_BASE_URL);
  const cookies = new SessionCookies({ publicBaseUrl: config.PUBLIC_BASE_URL });
  const imageBytes = questionImageLimits(config).maxBytes;
  registerStaffRoutes(registry, { db, auth: services.auth, lessons: services.lessons, review: services.review, publications: services.publications, baseUrl, cookies });
  registerCatalogRoutes(registry, { lessons: services.lessons, taxonomy: services.taxonomy, schools: services.schools, baseUrl });
  registerUploadRoutes(registry, services.uploads);
  registerLiveRoutes(registry, services.live, baseUrl);
  registerCableRoutes(registry, services.cable);
  registerTimetableRoutes(registry, { timetables: services.timetables, schedule: services.schedule, baseUrl });
  registerAdminRoutes(registry, { auth: services.auth, schools: services.schools });
  const capacity = new LiveCapacityService(db, new LiveWorkersStore(redis, config.QUEUE_PREFIX), () => unfinishedJobs(queues.queue(queueNames.live)), { fleetSlots: config.LIVE_FLEET_SLOTS, reportDays: config.LIVE_CAPACITY_REPORT_DAYS });
  registerCapacityRoutes(registry, capacity, metrics);
  registerLiveStatusRoutes(registry, new LiveStatusService(db, services.lessons, new LiveStatsStore(redis, config.QUEUE_PREFIX), capacity));
  registerLessonEditRoutes(registry, { edits: services.edits, review: services.review, lessons: services.lessons, baseUrl });
  registerQuestionRoutes(registry, { questions: services.questions, baseUrl, maxImageBytes: imageBytes, maxImages: config.QA_MAX_IMAGES });
  const strictJson = strictJsonRouter({
    prefixes: strictJsonPrefixes,
    limitBytes: config.BODY_LIMIT_KB * 1024,
    larger: [{ method: 'POST', path: '/api/v1/questions', limitBytes: askBodyLimitBytes(imageBytes, config.QA_MAX_IMAGES) }],
  });
  const queueBoard = opsQueuesRouter({ queues: Object.values(queueNames).map((n) => queues.queue(n)), cookies, resolve: (t) => services.auth.authenticate(t) });
  const pages = webRouter({ log, pages: consolePages, lessonIsPublic: (id) => services.lessons.getPublic(id, '').then(() => true, (err) => (err instanceof NotFoundError ? false : Promise.reject(err))) });
  return createApp({
    log,
    metrics,
    registry,
    authenticate: bearerOrCookie((t) => services.auth.authenticate(t), cookies),
    trustProxy: config.TRUST_PROXY,
    corsOrigins: o.corsOrigins,
    jsonLimitKb: config.BODY_LIMIT_KB,
    publicCache: { cache: o.catalogCache, scope: baseUrl },
    readiness: {
      database: () => pingDb(db),
      redis: async () => { await redis.ping(); },
      storage: () => storage.ping(),
    },
    routers: [strictJson, queueBoard, pages],
    version: o.version,
  });
}
