import type { Redis } from 'ioredis';
import type { IngestStats } from './rtmp.ts';

export type IngestStream = IngestStats['streams'][number];

/** How long one report stays: a few missed reports and the stream counts as gone. */
const TTL_S = 8;

/**
 * The ingest's view of each publisher's stream, shared through Redis so that any API process can show
 * it to the teacher (the ingest role may run elsewhere). One short-lived key per lesson.
 */
export class LiveStatsStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private key(lessonId: string): string {
    return `${this.prefix}:live-stats:${lessonId}`;
  }

  /** Writes the latest figures of every stream this ingest carries. */
  async write(streams: IngestStream[], at = Date.now()): Promise<void> {
    if (!streams.length) return;
    const m = this.redis.multi();
    for (const s of streams) m.set(this.key(s.lessonId), JSON.stringify({ ...s, at }), 'EX', TTL_S);
    await m.exec();
  }

  /** The latest figures of a lesson's stream and when they were taken, if a publisher is on air. */
  async read(lessonId: string): Promise<(IngestStream & { at: number }) | undefined> {
    const raw = await this.redis.get(this.key(lessonId));
    return raw ? (JSON.parse(raw) as IngestStream & { at: number }) : undefined;
  }
}
