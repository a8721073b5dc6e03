/**
 * A transcode worker in its own process, for the SIGKILL recovery test: config from the environment
 * (like `classcast worker`), lock timings from argv: `--lock-ms N --stalled-ms N`. Prints "ready" once
 * the BullMQ worker is running; SIGTERM closes it.
 */
import { loadConfig } from '../../config/load.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { QueueFactory } from '../../src/infra/queue.ts';
import { ObjectStorage } from '../../src/infra/storage.ts';
import { startJobWorkers } from '../../workers/worker.ts';
import { transcodeHandlerEntry } from '../../workers/transcode.handler.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};

const config = loadConfig();
const storage = new ObjectStorage({
  endpoint: config.S3_ENDPOINT,
  accessKey: config.S3_ACCESS_KEY,
  secretKey: config.S3_SECRET_KEY,
  region: config.S3_REGION,
  mediaBucket: config.S3_BUCKET_PREFIX + config.S3_MEDIA_BUCKET,
  cableBucket: config.S3_BUCKET_PREFIX + config.S3_CABLE_BUCKET,
  partSize: config.S3_PART_SIZE_MB * 1024 * 1024,
});
const queues = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX });
const log = createLogger(config.LOG_LEVEL, 'transcode-worker');
const workers = startJobWorkers(queues, { config, storage, log }, {
  transcode: { ...transcodeHandlerEntry(config), lockDurationMs: arg('--lock-ms', 30_000), stalledIntervalMs: arg('--stalled-ms', 30_000) },
});
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void queues.close().finally(() => process.exit(0));
});
