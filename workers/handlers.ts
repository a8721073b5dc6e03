import type { Config } from '../config/config.schema.ts';
import type { QueueName } from '../src/jobs/job-types.ts';
import type { HandlerEntry, HandlerMap } from './worker.ts';
import { liveHandlerEntry } from './live.handler.ts';
import { transcodeHandlerEntry } from './transcode.handler.ts';
import { cableHandlerEntry } from './cable-package.handler.ts';

/**
 * The job handler map: one entry per queue (`results` is the catalog's, not a worker's). A queue
 * without a handler here is a compile error.
 */
export function jobHandlers(config: Config): HandlerMap {
  return {
    transcode: transcodeHandlerEntry(config),
    live: liveHandlerEntry(config),
    cable: cableHandlerEntry(config),
  } satisfies Record<Exclude<QueueName, 'results'>, HandlerEntry>;
}
