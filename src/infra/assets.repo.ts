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
