import { z } from 'zod';

/** Parses "true"/"false"/"1"/"0" from the environment. */
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/**
 * Every environment variable classcast reads. Each key has a description and a default;
 * README's configuration table is generated from this object (scripts/gen-config-doc.ts) and a test
 * checks the two agree.
 */
export const configShape = {
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development').describe('Runtime mode; production refuses embedded defaults for secrets.'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
  DATA_DIR: z.string().min(1).default('./data').describe('Directory for embedded parts (PGlite, redis-server, S3 server) and generated dev secrets.'),

  DATABASE_URL: z.string().default('').describe('PostgreSQL URL (postgres://user:pass@host:5432/db). Empty: embedded PGlite under DATA_DIR/pglite.'),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier').default('public').describe('PostgreSQL schema holding the tables (tests use one per test).'),
  DATABASE_POOL_MAX: int(10, 1, 200).describe('Maximum PostgreSQL connections per process.'),

  REDIS_URL: z.string().default('').describe('Redis URL (redis://host:6379/0). Empty: a private redis-server child on a free port, data under DATA_DIR/redis.'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_:-]+$/).default('classcast').describe('Key prefix of BullMQ queues and other Redis keys.'),

  S3_ENDPOINT: z.string().default('').describe('S3/MinIO endpoint URL (http://minio:9000). Empty: a local S3-protocol server child (s3rver), data under DATA_DIR/s3.'),
  S3_ACCESS_KEY: z.string().default('S3RVER').describe('S3 access key.'),
  S3_SECRET_KEY: z.string().default('S3RVER').describe('S3 secret key.'),
  S3_REGION: z.string().default('us-east-1').describe('S3 region.'),
  S3_BUCKET_PREFIX: z.string().regex(/^[a-z0-9-]*$/).default('').describe('Prefix of every bucket name (tests isolate themselves with it).'),
  S3_MEDIA_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).default('media').describe('Private bucket for sources, HLS assets, live segments and Q&A images.'),
  S3_CABLE_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).default('cable-outbox').describe('Bucket the cable VOD system picks ADI packages up from.'),
  S3_PART_SIZE_MB: int(512, 5, 5120).describe('Largest object sent in one PUT; bigger streams go through explicit multipart.'),

  HTTP_HOST: z.string().default('127.0.0.1').describe('Address the API listens on.'),
  HTTP_PORT: int(8080, 0, 65535).describe('Port of the API and playback gateway (0 = any free port).'),
  PUBLIC_BASE_URL: z.string().default('').describe('Base URL students and staff reach the API at; empty: http://HTTP_HOST:HTTP_PORT.'),
  TRUST_PROXY: z.string().default('loopback').describe('Express trust proxy setting (which proxies may set X-Forwarded-For).'),
  CORS_ORIGINS: z.string().default('*').describe('Comma-separated origins allowed to play from the gateway and call the public API ("*" for any).'),
  BODY_LIMIT_KB: int(256, 1, 10240).describe('Largest JSON request body accepted.'),

  AUTH_TOKEN_TTL_HOURS: int(12, 1, 24 * 365).describe('Lifetime of a login token.'),
  AUTH_LOGIN_MAX_FAILURES: int(5, 1, 1000).describe('Failed logins allowed per user (and 4x per address) within the throttle window.'),
  AUTH_LOGIN_WINDOW_S: int(900, 10, 86400).describe('Window of the failed-login throttle, seconds.'),
  SIGNING_SECRET: z.string().default('').describe('Secret for preview tokens and signed links (>= 32 chars). Empty: generated once into DATA_DIR/secret (single-host only).'),
  PREVIEW_TTL_S: int(4 * 3600, 60, 7 * 86400).describe('Lifetime of a signed preview link, seconds.'),

  UPLOAD_MAX_BYTES: int(8 * 1024 ** 3, 1, 5 * 1024 ** 4).describe('Largest media upload accepted, bytes.'),
  MEDIA_MAX_DURATION_S: int(4 * 3600, 1, 48 * 3600).describe('Longest lesson accepted, seconds.'),
  TRANSCODE_CONCURRENCY: int(1, 1, 64).describe('Transcode jobs one worker process runs at once.'),
  FFMPEG_PATH: z.string().default('ffmpeg').describe('ffmpeg binary.'),
  FFPROBE_PATH: z.string().default('ffprobe').describe('ffprobe binary.'),
  WORK_DIR: z.string().default('').describe('Scratch directory for ffmpeg jobs; empty: the OS temp dir.'),
  HLS_SEGMENT_FORMAT: z.enum(['mpegts', 'fmp4']).default('mpegts').describe('HLS segment container: MPEG-TS (widest reach) or fMP4/CMAF.'),

  RTMP_PORT: int(1935, 0, 65535).describe('RTMP ingest port.'),
  RTMP_HOST: z.string().default('0.0.0.0').describe('Address the RTMP ingest listens on.'),
  RTMP_PUBLIC_URL: z.string().default('').describe('RTMP URL given to teachers for OBS; empty: rtmp://<host of PUBLIC_BASE_URL>:RTMP_PORT/live.'),
  LIVE_RECONNECT_WINDOW_S: int(60, 1, 3600).describe('A publisher reconnecting within this many seconds continues the same live session.'),
  LIVE_EARLY_MARGIN_MIN: int(30, 0, 1440).describe('Minutes before scheduledStart a live lesson may go on air.'),
  LIVE_LATE_MARGIN_MIN: int(60, 0, 1440).describe('Minutes after scheduledEnd a live lesson may still be on air.'),

  METRICS_ENABLED: bool(true).describe('Serve Prometheus metrics at /metrics.'),
} as const;

export const configSchema = z.object(configShape);

export type Config = z.infer<typeof configSchema>;
