import type { Queryable } from './db.ts';
import type { AssetRow } from '../domain/types.ts';

/** One asset row, or undefined. */
export async function findAsset(q: Queryable, assetId: string): Promise<AssetRow | undefined> {
  return (await q.query<AssetRow>('SELECT * FROM assets WHERE id = $1', [assetId]))[0];
}

/** A processed version: ready, with its duration and what the worker measured. */
export async function markAssetReady(q: Queryable, assetId: string, durationS: number | null, media: unknown): Promise<void> {
  await q.query("UPDATE assets SET state = 'ready', progress = 100, error = NULL, error_code = NULL, duration_s = $2, media = $3, updated_at = now() WHERE id = $1", [assetId, durationS, JSON.stringify(media)]);
}

/** A version that could not be processed, with the reason a teacher reads and its machine code. */
export async function markAssetFailed(q: Queryable, assetId: string, error: string, errorCode: string | null): Promise<void> {
  await q.query("UPDATE assets SET state = 'failed', error = $2, error_code = $3, updated_at = now() WHERE id = $1", [assetId, error, errorCode]);
}

/** Records that a job result was applied; false when it already was (results are applied once). */
export async function claimJobResult(q: Queryable, resultKey: string): Promise<boolean> {
  const ins = await q.query('INSERT INTO applied_job_results (result_key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING result_key', [resultKey]);
  return ins.length > 0;
}

/** The number the lesson's next version gets (1 for the first). */
export async function nextAssetVersion(q: Queryable, lessonId: string): Promise<number> {
  const v = await q.query<{ v: number | null }>('SELECT max(version) v FROM assets WHERE lesson_id = $1', [lessonId]);
  return (v[0]?.v ?? 0) + 1;
}

/** A new version of a lesson: an upload (with its file name) or a live recording (with its HLS root). */
export async function insertAsset(q: Queryable, a: { id: string; lessonId: string; version: number; origin: AssetRow['origin']; state: AssetRow['state']; sourceName?: string; hlsRoot?: string }): Promise<void> {
  await q.query('INSERT INTO assets (id, lesson_id, version, origin, state, source_name, hls_root) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    a.id, a.lessonId, a.version, a.origin, a.state, a.sourceName ?? null, a.hlsRoot ?? null,
  ]);
}

/** A stored source waiting for its processing job. */
export async function markAssetQueued(q: Queryable, assetId: string, sourceKey: string, sourceBytes: number | null): Promise<void> {
  await q.query("UPDATE assets SET state = 'queued', source_key = $2, source_bytes = $3, updated_at = now() WHERE id = $1", [assetId, sourceKey, sourceBytes]);
}

/** Fails a version that is still queued or processing (a newer one replaces it). */
export async function failPendingAsset(q: Queryable, assetId: string, error: string): Promise<void> {
  await q.query("UPDATE assets SET state = 'failed', error = $2, updated_at = now() WHERE id = $1 AND state IN ('queued', 'processing')", [assetId, error]);
}

/** A live recording to be made from the captured source by a VOD transcode (its live HLS no longer counts). */
export async function markAssetQueuedFromCapture(q: Queryable, assetId: string, sourceKey: string): Promise<void> {
  await q.query("UPDATE assets SET state = 'queued', source_key = $2, hls_root = NULL, updated_at = now() WHERE id = $1", [assetId, sourceKey]);
}

/** What tells where a version's files are: its id, a live recording's HLS root, what the worker stored. */
export interface AssetFiles {
  id: string;
  hlsRoot: string | null;
  media: Record<string, unknown> | null;
}

type FilesRow = { id: string; hls_root: string | null; media: Record<string, unknown> | null };

/** The version a lesson is published with on the portal, or undefined while it is not. */
export async function portalAssetFiles(q: Queryable, lessonId: string): Promise<AssetFiles | undefined> {
  const r = (await q.query<FilesRow>(
    'SELECT a.id, a.hls_root, a.media FROM lessons l JOIN assets a ON a.id = l.portal_asset_id WHERE l.id = $1 AND l.portal_published_at IS NOT NULL',
    [lessonId],
  ))[0];
  return r && { id: r.id, hlsRoot: r.hls_root, media: r.media };
}

/** A processed version, or undefined while it is not ready. */
export async function readyAssetFiles(q: Queryable, assetId: string): Promise<AssetFiles | undefined> {
  const r = (await q.query<FilesRow>("SELECT id, hls_root, media FROM assets WHERE id = $1 AND state = 'ready'", [assetId]))[0];
  return r && { id: r.id, hlsRoot: r.hls_root, media: r.media };
}
