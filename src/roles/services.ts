import type { Config } from '../../config/config.schema.ts';
import type { Logger } from '../infra/logger.ts';
import { jobIds, queueNames } from '../jobs/job-types.ts';
import { transcodeJob, type TranscodePayload } from '../jobs/transcode.job.ts';
import { liveJobOptions } from '../jobs/live.job.ts';
import { cableJob, cableProfileFromConfig, cableProviderFromConfig } from '../jobs/cable.job.ts';
import { KeyAnnouncements } from '../infra/key-announcements.ts';
import { AttemptLimiter } from '../infra/rate-limit.ts';
import { AuthService } from '../services/auth.service.ts';
import { SchoolsService } from '../services/schools.service.ts';
import { TaxonomyService } from '../services/taxonomy.service.ts';
import { LessonsService } from '../services/lessons.service.ts';
import { ReviewService } from '../services/review.service.ts';
import { PublicationService, type PublicationListener } from '../services/publication.service.ts';
import { UrlSigner } from '../services/url-signer.ts';
import { UploadsService } from '../services/uploads.service.ts';
import { JobResultsService } from '../services/job-results.service.ts';
import { PlaybackAccessService } from '../services/playback-access.service.ts';
import { liveResultApplier, LiveService } from '../services/live.service.ts';
import { applyCableResult, CableService } from '../services/cable.service.ts';
import { SecretBox } from '../services/secret-box.ts';
import { ScheduleService } from '../services/schedule.service.ts';
import { TimetablesService } from '../services/timetables.service.ts';
import { QuestionsService } from '../services/questions.service.ts';
import { LessonEditsService } from '../services/lesson-edits.service.ts';
import type { Parts } from './parts.ts';

/** The use cases of the catalog, one instance each per process, whatever roles it runs. */
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

/** Q&A ask limits (issue 6): strict per address, so a bot cannot flood the teachers' queue. */
const askWindows = (c: Config) => [{ windowS: 600, max: c.QA_ASK_MAX_PER_10_MIN }, { windowS: 86_400, max: c.QA_ASK_MAX_PER_DAY }];

/** What a picture sent with a question may be (the API sizes its body limit from it too). */
export const questionImageLimits = (c: Config) => ({ maxBytes: c.QA_MAX_IMAGE_KB * 1024, maxSide: c.QA_IMAGE_MAX_SIDE, maxPixels: c.QA_IMAGE_MAX_MEGAPIXELS * 1_000_000 });

/** The RTMP URL teachers put into OBS. */
export function rtmpPublicUrl(config: Config): string {
  if (config.RTMP_PUBLIC_URL) return config.RTMP_PUBLIC_URL;
  const host = config.PUBLIC_BASE_URL ? new URL(config.PUBLIC_BASE_URL).hostname : config.HTTP_HOST === '0.0.0.0' ? '127.0.0.1' : config.HTTP_HOST;
  return `rtmp://${host}:${config.RTMP_PORT}/live`;
}

/**
 * Builds the services over the parts (the taxonomy seeded) and connects them: publications reach the
 * gateway's access cache and the cable packager, live decisions and edits are announced to every ingest,
 * finished jobs come back through the results service.
 */
export async function createServices(config: Config, log: Logger, parts: Parts): Promise<{ services: Services; announcements: KeyAnnouncements }> {
  const { db, redis, storage, queues, pubsub, secret } = parts;
  const preview = new UrlSigner(secret);
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
  const enqueueTranscode = async (payload: TranscodePayload) => {
    const t = transcodeJob(payload, config);
    await queues.add(t.queue, t.name, t.data, t.opts);
  };
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
    uploads: new UploadsService(db, storage, enqueueTranscode, { maxBytes: config.UPLOAD_MAX_BYTES, chunkBytes: config.UPLOAD_CHUNK_MB * 1024 * 1024 }),
    results: new JobResultsService(db, log),
    access,
    preview,
    cable,
    live: new LiveService(db, redis, pubsub, new SecretBox(secret, 'live-stream-keys'), async (j) => {
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
    questions: new QuestionsService(db, storage, taxonomy, new AttemptLimiter(redis, { prefix: config.QUEUE_PREFIX, name: 'ask-question', windows: askWindows(config), secret }), secret, {
      maxImages: config.QA_MAX_IMAGES, imageLimits: questionImageLimits(config), imageUrlTtlS: config.QA_IMAGE_LINK_TTL_S,
    }),
    // an edit reaches the gateway's and catalog's caches and the ingest's key windows at once
    edits: new LessonEditsService(db, taxonomy, async (lessonId) => {
      await access.invalidate(lessonId);
      await announceKeys(lessonId);
    }),
  };
  services.results.register('live', liveResultApplier(enqueueTranscode));
  services.results.register('cable', applyCableResult);
  return { services, announcements };
}
