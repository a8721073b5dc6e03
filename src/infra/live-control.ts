import type { Redis } from 'ioredis';
import { liveControlKeys, type LiveSessionState } from '../jobs/live.job.ts';

/** What the catalog says about a session now; `state` null when the key is gone (treated as ended). */
export interface LiveControlState {
  epoch: number;
  state: LiveSessionState | null;
}

const ttlS = 14 * 86400;
const states: readonly LiveSessionState[] = ['on_air', 'reconnecting', 'ended'];

/**
 * A live job's side of the catalog's control keys (src/jobs/live.job.ts): reads `epoch`/`state`,
 * wakes up on the control channel (polling stays the fallback when a message is lost), and numbers
 * the job's ffmpeg runs. The run counter is the fence between workers: a worker whose run is no longer
 * the latest (its job was taken over after a stall) stops writing.
 */
export class LiveControl {
  private sub: Redis | undefined;
  private waiters = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly sessionId: string,
    /** Whose runs this control numbers: the transcoder's or the capture's (each fences its own writers). */
    private readonly counter: 'transcode' | 'capture' = 'transcode',
  ) {}

  /** Key of the run counter (next to the catalog's control keys). */
  static runKey(prefix: string, sessionId: string, counter: 'transcode' | 'capture' = 'transcode'): string {
    return `${prefix}:live:${sessionId}:${counter === 'capture' ? 'capture-run' : 'run'}`;
  }

  /** Subscribes to the control channel. */
  async open(): Promise<void> {
    const sub = this.redis.duplicate({ connectionName: 'classcast-live-control', maxRetriesPerRequest: null });
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, message: string) => {
      if (message === this.sessionId) this.wake();
    });
    await sub.subscribe(liveControlKeys.channel(this.prefix));
    this.sub = sub;
  }

  async read(): Promise<LiveControlState> {
    const [epoch, state] = await this.redis.mget(liveControlKeys.epoch(this.prefix, this.sessionId), liveControlKeys.state(this.prefix, this.sessionId));
    const n = Number(epoch);
    return {
      epoch: Number.isInteger(n) && n >= 0 ? n : 0,
      state: states.includes(state as LiveSessionState) ? (state as LiveSessionState) : null,
    };
  }

  /** Resolves on the next announced change of this session, after `ms`, or when `signal` aborts. */
  waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** A new run number, higher than every earlier one of the session (on any worker). */
  async claimRun(): Promise<number> {
    const key = LiveControl.runKey(this.prefix, this.sessionId, this.counter);
    const [[, run]] = (await this.redis.multi().incr(key).expire(key, ttlS).exec()) as [[Error | null, number], [Error | null, number]];
    return Number(run);
  }

  /** Whether `run` is still the session's latest run (no other worker has taken the job over). */
  async isLatestRun(run: number): Promise<boolean> {
    return Number(await this.redis.get(LiveControl.runKey(this.prefix, this.sessionId, this.counter))) === run;
  }

  /** The ingest's capture of the session has uploaded its last segment (the session is over). */
  async markCaptureEnded(): Promise<void> {
    await this.redis.set(`${this.prefix}:live:${this.sessionId}:capture-ended`, '1', 'EX', ttlS);
  }

  /**
   * Waits (bounded) until the capture has uploaded its last segment; false after `ms` (an ingest that
   * died never says so: what it uploaded is used).
   */
  async waitCaptureEnded(ms: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!(await this.redis.exists(`${this.prefix}:live:${this.sessionId}:capture-ended`))) {
      if (Date.now() >= deadline || signal?.aborted) return false;
      await new Promise((r) => setTimeout(r, 250));
    }
    return true;
  }

  /**
   * The transcoder's beat after each slot it lists: the end of its newest slot (wall clock, ms), and
   * the ladder generation its playlists belong to, read back (src/pipeline/live-ladder-fallback.ts).
   */
  async ladderBeat(endMs: number): Promise<number> {
    const gen = Number(await this.redis.get(this.ladderKey('gen'))) || 0;
    await this.redis.multi().set(this.ladderKey('beat'), String(endMs), 'EX', ttlS).set(this.ladderKey('used'), String(gen), 'EX', ttlS).exec();
    return gen;
  }

  /** The ladder as the capture sees it: the end of the transcoder's newest slot (null: none yet), the generation, the newest one a transcoder wrote playlists for (-1: none). */
  async ladderState(): Promise<{ beatEndMs: number | null; generation: number; used: number }> {
    const [beat, gen, used] = await this.redis.mget(this.ladderKey('beat'), this.ladderKey('gen'), this.ladderKey('used'));
    return { beatEndMs: beat === null ? null : Number(beat), generation: Number(gen) || 0, used: used === null ? -1 : Number(used) };
  }

  /** Records the freeze of generation `g` (once) and starts generation g + 1; false when it was frozen already. */
  async freezeLadder(g: number, freeze: string): Promise<boolean> {
    const set = await this.redis.set(this.ladderKey(`freeze:${g}`), freeze, 'EX', ttlS, 'NX');
    if (set !== 'OK') return false;
    await this.redis.set(this.ladderKey('gen'), String(g + 1), 'EX', ttlS);
    return true;
  }

  /** The recorded freezes of generations below `generation`, in order (missing ones skipped). */
  async ladderFreezes(generation: number): Promise<string[]> {
    if (generation <= 0) return [];
    const raw = await this.redis.mget(...Array.from({ length: generation }, (_, g) => this.ladderKey(`freeze:${g}`)));
    return raw.filter((x): x is string => x !== null);
  }

  async close(): Promise<void> {
    for (const w of [...this.waiters]) w();
    this.sub?.disconnect();
    this.sub = undefined;
  }

  private ladderKey(what: string): string {
    return `${this.prefix}:live:${this.sessionId}:ladder:${what}`;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
