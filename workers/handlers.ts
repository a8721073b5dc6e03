import type { Config } from '../config/config.schema.ts';
import type { HandlerMap } from './worker.ts';

/**
 * The job handler map: one entry per queue. Each entry is added with its handler; a queue without a
 * handler is a compile error once every queue has one (see `satisfies` below).
 */
export function jobHandlers(_config: Config): HandlerMap {
  return {};
}
