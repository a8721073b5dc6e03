import type { Queryable } from './db.ts';
import type { CablePackageState, CableVerb } from '../domain/types.ts';

/** A lesson's title on the cable channel: its four ADI asset ids and the version last packaged. */
export interface CableTitle {
  lessonId: string;
  adiIds: { package: string; title: string; movie: string; poster: string };
  versionMajor: number;
  versionMinor: number;
  deliveredAssetId: string | null;
  createdAt: Date;
}

export interface PackageFile { name: string; key: string; size: number; md5: string }

/** One ADI package (a delivery or a DELETE) and how its packaging went. */
export interface CablePackage {
  id: string;
  lessonId: string;
  assetId: string;
  verb: CableVerb;
  versionMajor: number;
  versionMinor: number;
  state: CablePackageState;
  errorCode: string | null;
  error: string | null;
  files: PackageFile[] | null;
  runTimeS: number | null;
  createdAt: Date;
  updatedAt: Date;
}

interface TitleRow {
  lesson_id: string;
  adi_package: string;
  adi_title: string;
  adi_movie: string;
  adi_poster: string;
  version_major: number;
  version_minor: number;
  delivered_asset_id: string | null;
  created_at: Date;
}

interface PackageRow {
  id: string;
  lesson_id: string;
  asset_id: string;
  verb: CableVerb;
  version_major: number;
  version_minor: number;
  state: CablePackageState;
  error_code: string | null;
  error: string | null;
  files: PackageFile[] | null;
  run_time_s: number | null;
  created_at: Date;
  updated_at: Date;
}

const toPackage = (r: PackageRow): CablePackage => ({
  id: r.id, lessonId: r.lesson_id, assetId: r.asset_id, verb: r.verb, versionMajor: r.version_major, versionMinor: r.version_minor, state: r.state,
  errorCode: r.error_code, error: r.error, files: r.files, runTimeS: r.run_time_s, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** The lesson's cable title, held until the transaction ends, or undefined before its first package. */
export async function lockCableTitle(q: Queryable, lessonId: string): Promise<CableTitle | undefined> {
  const r = (await q.query<TitleRow>('SELECT * FROM cable_titles WHERE lesson_id = $1 FOR UPDATE', [lessonId]))[0];
  return r && {
    lessonId: r.lesson_id, adiIds: { package: r.adi_package, title: r.adi_title, movie: r.adi_movie, poster: r.adi_poster },
    versionMajor: r.version_major, versionMinor: r.version_minor, deliveredAssetId: r.delivered_asset_id, createdAt: r.created_at,
  };
}

/** The next number of the city's ADI asset id sequence. */
export async function nextCableAssetNumber(q: Queryable): Promise<number> {
  return Number((await q.query<{ n: number }>("SELECT nextval('cable_asset_id_seq') n"))[0].n);
}

export async function insertCableTitle(q: Queryable, lessonId: string, ids: CableTitle['adiIds']): Promise<void> {
  await q.query('INSERT INTO cable_titles (lesson_id, adi_package, adi_title, adi_movie, adi_poster) VALUES ($1, $2, $3, $4, $5)', [lessonId, ids.package, ids.title, ids.movie, ids.poster]);
}

/** The title's version after a delivery, and the version delivered. */
export async function writeTitleDelivered(q: Queryable, lessonId: string, major: number, minor: number, assetId: string): Promise<void> {
  await q.query('UPDATE cable_titles SET version_major = $2, version_minor = $3, delivered_asset_id = $4 WHERE lesson_id = $1', [lessonId, major, minor, assetId]);
}

/** The title's minor version after a DELETE package. */
export async function writeTitleMinor(q: Queryable, lessonId: string, minor: number): Promise<void> {
  await q.query('UPDATE cable_titles SET version_minor = $2 WHERE lesson_id = $1', [lessonId, minor]);
}

/** A new package, packaging. */
export async function insertPackage(q: Queryable, p: { id: string; lessonId: string; assetId: string; verb: CablePackage['verb']; major: number; minor: number }): Promise<void> {
  await q.query(
    "INSERT INTO cable_packages (id, lesson_id, asset_id, verb, version_major, version_minor, state) VALUES ($1, $2, $3, $4, $5, $6, 'packaging')",
    [p.id, p.lessonId, p.assetId, p.verb, p.major, p.minor],
  );
}

/** Packages changed after `since` (all when undefined), oldest change first, with their lesson's title. */
export async function packagesChangedSince(q: Queryable, since: Date | undefined, limit: number): Promise<(CablePackage & { title: string })[]> {
  const rows = await q.query<PackageRow & { title: string }>(
    `SELECT p.*, l.title FROM cable_packages p JOIN lessons l ON l.id = p.lesson_id
     WHERE ($1::timestamptz IS NULL OR p.updated_at > $1) ORDER BY p.updated_at, p.id LIMIT $2`,
    [since ?? null, limit],
  );
  return rows.map((r) => ({ ...toPackage(r), title: r.title }));
}

/** One package, held until the transaction ends, or undefined. */
export async function lockPackage(q: Queryable, packageId: string): Promise<CablePackage | undefined> {
  const r = (await q.query<PackageRow>('SELECT * FROM cable_packages WHERE id = $1 FOR UPDATE', [packageId]))[0];
  return r && toPackage(r);
}

export async function markPackageFailed(q: Queryable, packageId: string, error: string, errorCode: string | null): Promise<void> {
  await q.query("UPDATE cable_packages SET state = 'failed', error = $2, error_code = $3, updated_at = now() WHERE id = $1", [packageId, error, errorCode]);
}

export async function markPackageDelivered(q: Queryable, packageId: string, files: unknown, runTimeS: number | null): Promise<void> {
  await q.query("UPDATE cable_packages SET state = 'delivered', error = NULL, files = $2, run_time_s = $3, updated_at = now() WHERE id = $1", [packageId, JSON.stringify(files), runTimeS]);
}

/** A delivered DELETE package: the lesson's deliveries made up to then are withdrawn. */
export async function markDeliveriesWithdrawn(q: Queryable, lessonId: string, upTo: Date): Promise<void> {
  await q.query("UPDATE cable_packages SET state = 'withdrawn', updated_at = now() WHERE lesson_id = $1 AND verb = 'deliver' AND state = 'delivered' AND created_at <= $2", [lessonId, upTo]);
}
