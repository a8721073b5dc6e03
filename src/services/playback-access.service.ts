import type { Db } from '../infra/db.ts';
import type { PubSub } from '../infra/pubsub.ts';

const channel = 'visibility';

/**
 * Answers "which asset may the public play for this lesson?" per gateway request, from an in-memory
 * cache invalidated over Redis pub/sub whenever a publication changes (every API process drops its
 * entry within milliseconds; while the subscriber is down entries live only half a second).
 */
export class PlaybackAccessService {
  private readonly cache = new Map<string, { assetId: string | null; until: number }>();

  constructor(private readonly db: Db, private readonly pubsub: PubSub, private readonly ttlMs = 30_000) {}

  async start(): Promise<void> {
    await this.pubsub.subscribe(channel, (lessonId) => {
      if (lessonId === '*') this.cache.clear();
      else this.cache.delete(lessonId);
    });
  }

  /** Tells every API process that a lesson's visibility changed. */
  async invalidate(lessonId: string): Promise<void> {
    this.cache.delete(lessonId);
    await this.pubsub.publish(channel, lessonId);
  }

  /** The asset published on the portal for a lesson, or null. */
  async publishedAsset(lessonId: string): Promise<string | null> {
    const now = Date.now();
    const hit = this.cache.get(lessonId);
    if (hit && hit.until > now) return hit.assetId;
    const rows = await this.db.query<{ portal_asset_id: string | null }>('SELECT portal_asset_id FROM lessons WHERE id = $1 AND portal_published_at IS NOT NULL', [lessonId]);
    const assetId = rows[0]?.portal_asset_id ?? null;
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(lessonId, { assetId, until: now + (this.pubsub.healthy ? this.ttlMs : 500) });
    return assetId;
  }

  /** Whether an asset exists and finished processing (preview links). */
  async assetReady(assetId: string): Promise<boolean> {
    const rows = await this.db.query("SELECT 1 FROM assets WHERE id = $1 AND state = 'ready'", [assetId]);
    return rows.length > 0;
  }
}
