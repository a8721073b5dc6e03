import type { Redis } from 'ioredis';
import type { PubSub } from './pubsub.ts';

/** Pub/sub channel of changes to who may publish (message: `{seq}:{lessonId}`). */
export const keysChannel = 'live-keys';

/**
 * Changes to the publish decision (approval, key creation and rotation, stop, a moved timetable),
 * announced to every ingest process with an acknowledgement, so that a publish started right after
 * the API answered is decided on the new facts (issue 11 item 4: the 5 s refresh alone refused it).
 *
 * Ingest processes register with a heartbeat (a sorted set scored by expiry) and record the highest
 * announcement they have applied to their child's key cache; `announce` numbers the change, publishes
 * it and waits (bounded) until every registered ingest has applied it. An ingest that died without
 * leaving drops out of the set when its heartbeat expires; a slow one delays the answer by at most
 * `waitMs` and is logged by the caller, the periodic refresh still covers it.
 */
export class KeyAnnouncements {
  constructor(
    private readonly redis: Redis,
    private readonly pubsub: PubSub,
    private readonly prefix: string,
  ) {}

  private get seqKey(): string {
    return `${this.prefix}:live-keys:seq`;
  }

  private get ingestsKey(): string {
    return `${this.prefix}:ingests`;
  }

  private appliedKey(ingestId: string): string {
    return `${this.prefix}:ingest:${ingestId}:keys-applied`;
  }

  /** Announces a change of `lessonId`; resolves once every live ingest applied it (true) or after `waitMs` (false). */
  async announce(lessonId: string, waitMs = 3000): Promise<boolean> {
    const seq = await this.redis.incr(this.seqKey);
    await this.pubsub.publish(keysChannel, `${seq}:${lessonId}`);
    const deadline = Date.now() + waitMs;
    for (let pause = 5; ; pause = Math.min(50, pause * 2)) {
      const ids = await this.redis.zrangebyscore(this.ingestsKey, Date.now(), '+inf');
      if (!ids.length) return true;
      const applied = await this.redis.mget(...ids.map((id) => this.appliedKey(id)));
      if (applied.every((v) => Number(v) >= seq)) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /** The number of the latest announcement (a full refresh started after reading it covers it). */
  async latest(): Promise<number> {
    return Number(await this.redis.get(this.seqKey)) || 0;
  }

  /** Reads an announcement; undefined for a malformed message. A bare lesson id (older senders) has seq 0. */
  static parse(message: string): { seq: number; lessonId: string } | undefined {
    const m = /^(?:(\d+):)?([A-Za-z0-9_-]{1,128})$/.exec(message);
    return m ? { seq: Number(m[1] ?? 0), lessonId: m[2] } : undefined;
  }

  /** The ingest `ingestId` is alive for `ttlMs` more (call well within it). */
  async heartbeat(ingestId: string, ttlMs: number): Promise<void> {
    await this.redis.multi()
      .zadd(this.ingestsKey, Date.now() + ttlMs, ingestId)
      .zremrangebyscore(this.ingestsKey, '-inf', Date.now() - 60_000)
      .pexpire(this.appliedKey(ingestId), ttlMs * 10)
      .exec();
  }

  /** The ingest has applied every announcement up to `seq` (never lowers the mark). */
  async applied(ingestId: string, seq: number): Promise<void> {
    await this.redis.eval(
      "local v = tonumber(redis.call('GET', KEYS[1]) or '0') if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end return 1",
      1, this.appliedKey(ingestId), String(seq), String(600_000),
    );
  }

  /** The ingest stops: nobody waits for it any more. */
  async leave(ingestId: string): Promise<void> {
    await this.redis.multi().zrem(this.ingestsKey, ingestId).del(this.appliedKey(ingestId)).exec();
  }
}
