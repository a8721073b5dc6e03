import { z } from 'zod';
import { cableProfiles, defaultCableProfile, type CableProfileName } from './cable-profiles.ts';

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
  S3_REGION: z.string().default('us-east-1').describe('S3 region name (MinIO accepts any).'),
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
  HTTP_IDLE_TIMEOUT_S: int(120, 1, 3600).describe('An HTTP connection on which nothing arrives or leaves for this many seconds is closed (a stalled upload, a slow-loris body); headers must be complete within HTTP_HEADERS_TIMEOUT_S whatever this is.'),
  HTTP_KEEP_ALIVE_S: int(65, 1, 3600).describe('An idle kept-alive HTTP connection is closed after this many seconds; keep it above the idle timeout of the proxy or load balancer in front (nginx 60 s by default) so the proxy never reuses a connection the API is closing.'),
  HTTP_HEADERS_TIMEOUT_S: int(66, 1, 3600).describe('A request\'s headers must arrive within this many seconds of its first byte (slow-loris headers); must exceed HTTP_KEEP_ALIVE_S.'),
  HTTP_STOP_GRACE_S: int(5, 0, 600).describe('On shutdown, requests in flight get this many seconds to finish before their connections are cut.'),

  AUTH_TOKEN_TTL_HOURS: int(12, 1, 24 * 365).describe('Lifetime of a login token.'),
  AUTH_LOGIN_MAX_FAILURES: int(5, 1, 1000).describe('Failed logins allowed per user (and 4x per address) within the throttle window.'),
  AUTH_LOGIN_WINDOW_S: int(900, 10, 86400).describe('Window of the failed-login throttle, seconds.'),
  SIGNING_SECRET: z.string().default('').describe('Secret for preview tokens and signed links (>= 32 chars). Empty: generated once into DATA_DIR/secret (single-host only).'),
  PREVIEW_TTL_S: int(4 * 3600, 60, 7 * 86400).describe('Lifetime of a signed preview link, seconds.'),
  QA_IMAGE_LINK_TTL_S: int(3600, 60, 7 * 86400).describe('Lifetime of the signed picture links staff views of open or hidden questions carry, seconds.'),
  CABLE_LINK_TTL_S: int(24 * 3600, 60, 7 * 86400).describe('Lifetime of the signed download links in the cable package feed, seconds.'),

  QA_ASK_MAX_PER_10_MIN: int(5, 1, 1000).describe('Questions one address (an IPv6 /64) may ask within 10 minutes, across all API processes.'),
  QA_ASK_MAX_PER_DAY: int(20, 1, 100000).describe('Questions one address (an IPv6 /64) may ask within 24 hours, across all API processes.'),
  QA_MAX_IMAGES: int(3, 0, 9).describe('Pictures one question may carry.'),
  QA_MAX_IMAGE_KB: int(2048, 16, 20480).describe('Largest picture accepted with a question, KiB (it is re-encoded before it is stored).'),
  QA_IMAGE_MAX_SIDE: int(10_000, 16, 50_000).describe('Widest or tallest picture accepted with a question, pixels, judged on its header before decoding.'),
  QA_IMAGE_MAX_MEGAPIXELS: int(40, 1, 500).describe('Largest picture area accepted with a question, megapixels, judged on its header before decoding.'),

  UPLOAD_MAX_BYTES: int(8 * 1024 ** 3, 1, 5 * 1024 ** 4).describe('Largest media upload accepted, bytes.'),
  UPLOAD_CHUNK_MB: int(16, 5, 512).describe('Size of the parts a single-request upload (PUT .../media) is stored in, MiB (S3 multipart needs at least 5).'),
  MEDIA_MAX_DURATION_S: int(4 * 3600, 1, 48 * 3600).describe('Longest lesson accepted, seconds.'),
  TRANSCODE_CONCURRENCY: int(1, 1, 64).describe('Transcode jobs one worker process runs at once.'),
  TRANSCODE_ATTEMPTS: int(4, 1, 100).describe('Attempts a transcode job gets before it fails as "retries exhausted" (storage or ffmpeg failing each time); input that can never work fails at once.'),
  TRANSCODE_RETRY_DELAY_MS: int(5000, 1, 3_600_000).describe('Wait before the first retry of a failed transcode attempt, milliseconds; it doubles for each further retry.'),
  TRANSCODE_X264_PRESET: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow']).default('veryfast').describe('x264 preset of VOD renditions: slower presets give smaller files for the same quality at more CPU time.'),
  FFMPEG_PATH: z.string().default('ffmpeg').describe('ffmpeg binary.'),
  FFPROBE_PATH: z.string().default('ffprobe').describe('ffprobe binary.'),
  WORK_DIR: z.string().default('').describe('Scratch directory for ffmpeg jobs; empty: the OS temp dir.'),
  HLS_SEGMENT_FORMAT: z.enum(['mpegts', 'fmp4']).default('mpegts').describe('HLS segment container: MPEG-TS (widest reach) or fMP4/CMAF.'),

  RTMP_PORT: int(1935, 0, 65535).describe('RTMP ingest port.'),
  RTMP_HOST: z.string().default('0.0.0.0').describe('Address the RTMP ingest listens on.'),
  RTMP_PUBLIC_URL: z.string().default('').describe('RTMP URL given to teachers for OBS; empty: rtmp://<host of PUBLIC_BASE_URL>:RTMP_PORT/live.'),
  RTMP_IDLE_TIMEOUT_S: int(15, 1, 3600).describe('A publisher that stays connected but sends nothing for this many seconds is dropped.'),
  RTMP_HANDSHAKE_TIMEOUT_S: int(10, 1, 600).describe('A connection must start publishing or playing within this many seconds of connecting, else it is dropped.'),
  RTMP_MAX_MESSAGE_BYTES: int(8 * 1024 * 1024, 64 * 1024, 16 * 1024 * 1024).describe('Largest RTMP message an accepted publisher may send (a bigger declared length closes the connection); before a publish is accepted the cap is 64 KiB.'),
  RTMP_MAX_PENDING_PER_ADDRESS: int(16, 1, 10000).describe('Connections one address may hold open before publishing or playing; more are closed at once.'),
  RTMP_MAX_CONNECTIONS: int(1000, 1, 100000).describe('Open RTMP connections the ingest accepts in total.'),
  RTMP_AUTH_MAX_FAILURES: int(10, 1, 100000).describe('Failed publish/play authentications (unknown lesson, wrong key, bad worker token) one address may make per RTMP_AUTH_WINDOW_S before all its attempts are refused.'),
  RTMP_AUTH_WINDOW_S: int(60, 1, 86400).describe('Window of the per-address RTMP authentication failure limit, seconds.'),
  RTMP_WORKER_PLAY_TOKEN: z.string().regex(/^([A-Za-z0-9_-]{32,})?$/, 'at least 32 URL-safe characters').default('').describe('Token workers put in the pull URL (?token=) to play from the ingest; shared by ingest and worker processes. Empty: a random token per ingest process (single-process setups only).'),
  RTMP_PLAY_ALLOW_LOOPBACK: bool(false).describe('Let loopback clients play from the ingest without the worker token.'),
  RTMP_PULL_HOST: z.string().default('127.0.0.1').describe('Host workers reach the RTMP ingest at to pull live streams.'),
  LIVE_RECONNECT_WINDOW_S: int(60, 1, 3600).describe('A publisher reconnecting within this many seconds continues the same live session.'),
  LIVE_SWEEP_INTERVAL_MS: int(2000, 100, 60_000).describe('How often each API process ends live sessions whose publisher did not come back within the reconnect window, milliseconds.'),
  LIVE_EARLY_MARGIN_MIN: int(30, 0, 1440).describe('Minutes before scheduledStart a live lesson may go on air.'),
  LIVE_LATE_MARGIN_MIN: int(60, 0, 1440).describe('Minutes after scheduledEnd a live lesson may still be on air.'),
  LIVE_CONCURRENCY: int(1, 1, 64).describe('Live sessions one worker process transcodes at once, each one ffmpeg with the whole live ladder for the whole session. A 720p30 source with the default ladder needs about 0.75-0.95 of a core with every rung encoded, about 0.27-0.37 when its own H.264 is passed through as the top rung (LIVE_PASSTHROUGH, OBS-like sources, their AAC copied where it fits); measured by npm run bench:live part 3 on a shared 2-core machine at load 11-13.'),
  LIVE_WORKER_TTL_S: int(10, 3, 300).describe('A live worker that has not renewed its heartbeat (its slots and the sessions it transcodes, written every third of this) for this many seconds is no longer counted in the fleet\'s live capacity.'),
  LIVE_FLEET_SLOTS: int(0, 0, 100_000).describe('Live slots the capacity report plans with while no live worker is alive (a fleet scaled down for the night); while any is alive, the sum of their LIVE_CONCURRENCY is used.'),
  LIVE_CAPACITY_REPORT_DAYS: int(3, 1, 60).describe('Days ahead the live capacity report looks for 15-minute windows whose approved live lessons exceed the fleet\'s live slots (operators need the warning in time to add workers).'),
  LIVE_LADDER: z.string().regex(/^[a-z0-9_-]+(,[a-z0-9_-]+)*$/, 'comma-separated rung names').default('720p,480p,360p').describe('Video rungs of the live ladder (config/ladder.ts liveLadder), never above the source; the fallback rung and the audio-only rendition are always added.'),
  LIVE_PASSTHROUGH: bool(true).describe('Serve the publisher\'s own H.264 picture as the top live rung (stream copy) when it fits that rung (size, rate cap, frame rate, regular keyframes at most one segment apart), encoding only the lower rungs and the audio-only rendition; false encodes every rung.'),
  LIVE_X264_PRESET: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']).default('veryfast').describe('x264 preset of live renditions (with -tune zerolatency): faster presets let one worker carry more live lessons at some cost in quality per bit.'),
  LIVE_RECORDING_MAX_GAP_S: int(2, 0, 86_400).describe('Seconds of what the ingest captured that a transcoder\'s own live recording may miss (it started late, was busy or died) before the missing stretches are refilled from the capture (a transcode of those seconds only, spliced in), or, when that cannot be done, the whole capture is transcoded.'),
  LIVE_WINDOW_SEGMENTS: int(6, 6, 60).describe('Segments (2 s each) in the viewers\' sliding live playlist; REFERENCE asks for at least 6.'),

  CABLE_PROFILE: z.enum(Object.keys(cableProfiles) as [CableProfileName, ...CableProfileName[]]).default(defaultCableProfile).describe('Cable VOD delivery profile (config/cable-profiles.ts): codec, resolution and scan, rates, audio, GOP.'),
  CABLE_VIDEO_KBPS: int(0, 0, 80000).describe('Cable video rate, kb/s (operator); 0: the profile\'s.'),
  CABLE_MUX_KBPS: int(0, 0, 100000).describe('Cable constant MPEG-TS mux rate, kb/s (operator); 0: the profile\'s.'),
  CABLE_AUDIO_CODEC: z.enum(['profile', 'ac3', 'aac']).default('profile').describe('Cable audio codec (operator): ac3, aac, or the profile\'s.'),
  CABLE_AUDIO_KBPS: int(0, 0, 640).describe('Cable audio rate, kb/s (operator); 0: the profile\'s.'),
  CABLE_GOP: int(0, 0, 300).describe('Cable GOP length in frames, all GOPs closed (operator); 0: the profile\'s.'),
  CABLE_X264_PRESET: z.enum(['profile', 'ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow']).default('profile').describe('x264 speed preset of H.264 cable profiles (slower: better picture at the same rate, more CPU); profile: the profile\'s.'),
  CABLE_PROVIDER: z.string().min(1).max(20).default('classcast').describe('ADI Provider: content provider name, <= 20 characters.'),
  CABLE_PROVIDER_ID: z.string().regex(/^(?=.{1,20}$)[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'a lower-case domain of at most 20 characters').default('classcast.example').describe('ADI Provider_ID: a domain the provider owns, lower case, <= 20 characters.'),
  CABLE_PRODUCT: z.string().min(1).max(20).default('MOD').describe('ADI Product (operator), <= 20 characters.'),
  CABLE_ASSET_ID_PREFIX: z.string().regex(/^[A-Z]{4}$/, 'four upper-case letters').default('CLCS').describe('First four letters of every ADI Asset_ID (the 16 digits after them come from the catalog\'s sequence).'),
  CABLE_CATEGORY_ROOT: z.string().min(1).max(20).default('吉林市中小学公益课').describe('First level of the ADI Category path (root/学段/学科).'),
  CABLE_LICENSE_DAYS: int(365, 1, 36500).describe('Length of the ADI licensing window from publication, days.'),
  CABLE_QA_CONTACT: z.string().min(1).max(100).default('cable-qa@classcast.example').describe('ADI Provider_QA_Contact: who the operator calls about a package.'),
  CABLE_RATING: z.string().min(1).max(10).default('G').describe('ADI Rating of every lesson (operator).'),
  CABLE_GENRE: z.string().min(1).max(20).default('教育').describe('ADI Genre of every lesson (operator).'),
  CABLE_BILLING_ID: z.string().regex(/^[A-Za-z0-9]{1,5}$/).default('00000').describe('ADI Billing_ID, <= 5 characters (operator; free lessons).'),
  CABLE_PREVIEW_PERIOD_S: int(0, 0, 3600).describe('ADI Preview_Period, seconds (operator).'),
  CABLE_TIMEZONE: z.string().min(1).default('Asia/Shanghai').describe('Time zone of ADI dates (Creation_Date, licensing window).'),
  CABLE_TEXT_UNIT: z.enum(['char', 'utf8', 'gbk']).default('char').describe('How ADI text limits count (operator): characters, UTF-8 bytes, or GBK bytes (2 per Chinese character).'),
  CABLE_CONCURRENCY: int(1, 1, 16).describe('Cable packaging jobs one worker process runs at once.'),
  JOB_LOCK_S: int(30, 2, 600).describe('Lock of a running transcode or cable job, seconds (renewed at half of it while its worker lives): a worker that dies mid-job (killed, machine lost) hands the job to another within about twice this.'),

  GATEWAY_CACHE_MB: int(256, 0, 65536).describe('Memory the playback gateway may use for hot playlists and segments (0 disables the cache).'),
  CATALOG_CACHE_MB: int(64, 0, 65536).describe('Memory each API process may use for serialised public catalog answers (lists, facets, details; 0 disables the cache, ETags and 304s stay).'),
  CATALOG_CACHE_FRESH_S: int(10, 1, 3600).describe('Seconds a cached public catalog answer is served without a refresh (every publish, withdraw and edit drops all answers at once anyway; this bounds how long a missed announcement could be seen).'),
  CATALOG_CACHE_STALE_S: int(20, 0, 3600).describe('Seconds past CATALOG_CACHE_FRESH_S a cached catalog answer may still be served while one request refreshes it (0: everyone waits for the refresh, which they share). Never after an announced change, which drops answers.'),
  METRICS_ENABLED: bool(true).describe('Serve Prometheus metrics at /metrics.'),
} as const;

export const configSchema = z.object(configShape);

export type Config = z.infer<typeof configSchema>;
