import type { Config } from '../../config/config.schema.ts';
import type { Logger } from '../infra/logger.ts';
import type { Parts } from './parts.ts';
import type { Services } from './services.ts';

/** Ends what a role (or one part) started. */
export type Stop = () => Promise<void>;

/** What every role starts from: the configuration, the shared parts and the services over them. */
export interface RoleContext {
  config: Config;
  log: Logger;
  parts: Parts;
  services: Services;
}

/** The stops of everything started so far, run in reverse order of starting; a failing stop is logged and the rest still run. */
export class Stops {
  private readonly list: Stop[] = [];

  constructor(private readonly log: Logger) {}

  add(stop: Stop): void {
    this.list.push(stop);
  }

  /** Adds a started role's stop and hands the role back. */
  keep<T extends { stop: Stop }>(started: T): T {
    this.add(started.stop);
    return started;
  }

  /** Runs every stop once, newest first. */
  async stopAll(): Promise<void> {
    for (const s of this.list.reverse()) await s().catch((err) => this.log.warn({ err }, 'error while stopping'));
    this.list.length = 0;
  }
}

/**
 * Runs a role's start with stops of its own: on success the role's stop ends all it started; when the
 * start throws, what it had started is stopped before the error goes on.
 */
export async function startRole<T extends object>(log: Logger, start: (stops: Stops) => Promise<T>): Promise<T & { stop: Stop }> {
  const stops = new Stops(log);
  try {
    const started = await start(stops);
    return { ...started, stop: () => stops.stopAll() };
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}
