import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../src/infra/logger.ts';
import type { LiveWorkersStore, TranscoderSessionState } from '../src/infra/live-workers.store.ts';

export interface SlotState {
  state: TranscoderSessionState;
  problem?: string;
}

/** One live session a worker holds: its slot, released when the job leaves the worker. */
export interface LiveSlot {
  /** Tells the heartbeat how to read the session's state (and why its source is unusable) from now on. */
  watch(read: () => SlotState): void;
  release(): void;
}

/**
 * A worker's live slots and its heartbeat (issue 11 item 3): every third of `ttlS`, and at once when
 * a slot is taken or released, the worker writes its id, host, slots and the sessions it holds. A
 * worker killed without a word stops writing and drops out of the fleet when its beat expires.
 */
export class LiveSlots {
  readonly workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly held = new Map<string, { lessonId: string; since: number; read: () => SlotState }>();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly store: LiveWorkersStore, private readonly slots: number, private readonly ttlS: number, private readonly log: Logger) {}

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), Math.max(500, (this.ttlS * 1000) / 3));
    this.timer.unref();
  }

  /** Takes a slot for a live session (the live job started on this worker). */
  take(s: { sessionId: string; lessonId: string }): LiveSlot {
    const entry = { lessonId: s.lessonId, since: Date.now(), read: (): SlotState => ({ state: 'starting' }) };
    this.held.set(s.sessionId, entry);
    this.beat();
    return {
      watch: (read) => {
        entry.read = read;
      },
      release: () => {
        if (this.held.get(s.sessionId) === entry) this.held.delete(s.sessionId);
        this.beat();
      },
    };
  }

  /** Leaves the fleet: no more beats, the worker's key is removed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.writing;
    await this.store.remove(this.workerId).catch((err) => this.log.warn({ err }, 'could not remove the live worker heartbeat'));
  }

  private beat(): void {
    // one write at a time, in order: a late beat never overwrites a newer one nor revives a stopped worker
    this.writing = this.writing.then(async () => {
      if (this.stopped) return;
      const sessions = [...this.held].map(([sessionId, h]) => ({ sessionId, lessonId: h.lessonId, since: h.since, ...safe(h.read) }));
      await this.store
        .beat({ workerId: this.workerId, host: hostname(), pid: process.pid, slots: this.slots, sessions, startedAt: this.startedAt, at: Date.now() }, this.ttlS)
        .catch((err) => this.log.warn({ err }, 'live worker heartbeat failed'));
    });
  }
}

function safe(read: () => SlotState): SlotState {
  try {
    return read();
  } catch {
    return { state: 'starting' };
  }
}
