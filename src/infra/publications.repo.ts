import type { Queryable } from './db.ts';
import type { Channel } from '../domain/types.ts';

export interface PublicationRecord {
  channel: Channel;
  state: 'published' | 'withdrawn';
  assetId: string;
  publishedAt: string | null;
  withdrawnAt: string | null;
}

/** The state and version of a lesson's publication on a channel, or undefined when it never was published there. */
export async function findPublication(q: Queryable, lessonId: string, channel: Channel): Promise<{ state: string; assetId: string } | undefined> {
  const r = (await q.query<{ state: string; asset_id: string }>('SELECT state, asset_id FROM publications WHERE lesson_id = $1 AND channel = $2', [lessonId, channel]))[0];
  return r && { state: r.state, assetId: r.asset_id };
}

/** Publishes (or re-publishes) a version on a channel, by whom, now. */
export async function writePublished(q: Queryable, lessonId: string, channel: Channel, assetId: string, userId: string): Promise<void> {
  await q.query(
    `INSERT INTO publications (lesson_id, channel, asset_id, state, published_by, published_at) VALUES ($1, $2, $3, 'published', $4, now())
     ON CONFLICT (lesson_id, channel) DO UPDATE SET asset_id = EXCLUDED.asset_id, state = 'published', published_by = EXCLUDED.published_by, published_at = now(), withdrawn_by = NULL, withdrawn_at = NULL`,
    [lessonId, channel, assetId, userId],
  );
}

/** Withdraws a channel's publication, by whom, now. */
export async function writeWithdrawn(q: Queryable, lessonId: string, channel: Channel, userId: string): Promise<void> {
  await q.query("UPDATE publications SET state = 'withdrawn', withdrawn_by = $3, withdrawn_at = now() WHERE lesson_id = $1 AND channel = $2", [lessonId, channel, userId]);
}

/** The lesson's channels that are published now, with their versions. */
export async function activePublications(q: Queryable, lessonId: string): Promise<{ channel: Channel; assetId: string }[]> {
  const rows = await q.query<{ channel: Channel; asset_id: string }>("SELECT channel, asset_id FROM publications WHERE lesson_id = $1 AND state = 'published'", [lessonId]);
  return rows.map((r) => ({ channel: r.channel, assetId: r.asset_id }));
}

/** Points a channel's publication at another version, published now. */
export async function movePublication(q: Queryable, lessonId: string, channel: Channel, assetId: string): Promise<void> {
  await q.query('UPDATE publications SET asset_id = $3, published_at = now() WHERE lesson_id = $1 AND channel = $2', [lessonId, channel, assetId]);
}

/** Every publication of a lesson, by channel. */
export async function listPublications(q: Queryable, lessonId: string): Promise<PublicationRecord[]> {
  const rows = await q.query<{ channel: Channel; state: 'published' | 'withdrawn'; asset_id: string; published_at: Date | null; withdrawn_at: Date | null }>(
    'SELECT channel, state, asset_id, published_at, withdrawn_at FROM publications WHERE lesson_id = $1 ORDER BY channel', [lessonId]);
  return rows.map((r) => ({ channel: r.channel, state: r.state, assetId: r.asset_id, publishedAt: r.published_at?.toISOString() ?? null, withdrawnAt: r.withdrawn_at?.toISOString() ?? null }));
}
