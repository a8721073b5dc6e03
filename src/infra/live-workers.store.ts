import type { Redis } from 'ioredis';

/** What a live transcoder is doing with one session it holds. */
export type TranscoderSessionState = 'starting' | 'transcoding' | 'source_unusable';

/** One live worker's heartbeat: its slots and the sessions it holds. */
export interface LiveWorkerBeat {
  workerId: string;
  host: string;
  pid: number;
  /** Live sessions this worker transcodes at once (its LIVE_CONCURRENCY). */
  slots: number;
  sessions: { sessionId: string; lessonId: string; since: number; state: TranscoderSessionState; problem?: string }[];
  startedAt: number;
  /** When this beat was written (ms). */
  at: number;
}

/**
 * Live workers' heartbeats in Redis (issue 11 item 3): one key per worker that expires unless renewed,
 * so a worker killed without a word drops out of the fleet within its time to live; an index of the
 * worker ids lets any API process list them without SCAN. Each beat also stamps, per session it
 * holds, when a transcoder was last seen with it (how long a session has waited since).
 */
export class LiveWorkersStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private get index(): string {
    return `${this.prefix}:live-workers`;
  }

  private key(workerId: string): string {
    return `${this.prefix}:live-worker:${workerId}`;
  }

  private seenKey(sessionId: string): string {
    return `${this.prefix}:live:${sessionId}:transcoder-seen`;
  }

  /** Writes a worker's beat, alive for `ttlS` seconds unless written again. */
  async beat(b: LiveWorkerBeat, ttlS: number): Promise<void> {
    const m = this.redis.multi().set(this.key(b.workerId), JSON.stringify(b), 'EX', ttlS).zadd(this.index, b.at + ttlS * 1000, b.workerId);
    for (const s of b.sessions) m.set(this.seenKey(s.sessionId), String(b.at), 'EX', 86_400);
    await m.exec();
  }

  /** A worker that stops on purpose leaves the fleet at once. */
  async remove(workerId: string): Promise<void> {
    await this.redis.multi().del(this.key(workerId)).zrem(this.index, workerId).exec();
  }

  /** The live workers alive now (their beat has not expired), oldest first. */
  async alive(now = Date.now()): Promise<LiveWorkerBeat[]> {
    await this.redis.zremrangebyscore(this.index, '-inf', String(now));
    const ids = await this.redis.zrange(this.index, '0', '-1');
    if (!ids.length) return [];
    const raw = await this.redis.mget(ids.map((id) => this.key(id)));
    const gone = ids.filter((_, i) => raw[i] === null);
    if (gone.length) await this.redis.zrem(this.index, ...gone);
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as LiveWorkerBeat).sort((a, b) => a.startedAt - b.startedAt);
  }

  /** When a transcoder was last seen holding each session (ms), where one was. */
  async lastSeen(sessionIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (!sessionIds.length) return out;
    const raw = await this.redis.mget(sessionIds.map((id) => this.seenKey(id)));
    sessionIds.forEach((id, i) => {
      if (raw[i] !== null) out.set(id, Number(raw[i]));
    });
    return out;
  }
}
