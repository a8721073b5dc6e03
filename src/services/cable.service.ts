import type { Db, Queryable } from '../infra/db.ts';
import type { Logger } from '../infra/logger.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { InvalidError } from '../domain/errors.ts';
import { failureCodeOf } from '../domain/processing-failures.ts';
import type { AssetRow, CablePackageState, CableVerb, LessonRow } from '../domain/types.ts';
import type { CablePackagePayload, CableProvider } from '../jobs/cable.job.ts';
import type { CableProfile } from '../../config/cable-profiles.ts';
import { formatAssetId } from '../media/adi-xml.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import type { TaxonomyService } from './taxonomy.service.ts';
import type { PublicationChange } from './publication.service.ts';

export interface CableOptions {
  assetIdPrefix: string;
  licenseDays: number;
  provider: CableProvider;
  profile: CableProfile;
  /** Lifetime of the signed download links in the feed, seconds. */
  linkTtlS: number;
}

/** Queues one packaging job. */
export type EnqueueCable = (payload: CablePackagePayload) => Promise<void>;

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
  files: { name: string; key: string; size: number; md5: string }[] | null;
  run_time_s: number | null;
  created_at: Date;
  updated_at: Date;
  title?: string;
}

/**
 * The cable VOD channel on the catalog side: a cable publication becomes an ADI package (a new approved
 * version bumps Version_Major, a re-delivery or withdrawal Version_Minor), a withdrawal a DELETE
 * package; the feed lists packages and their state with signed download links.
 */
export class CableService {
  constructor(
    private readonly db: Db,
    private readonly storage: ObjectStorage,
    private readonly taxonomy: TaxonomyService,
    private readonly enqueue: EnqueueCable,
    private readonly log: Logger,
    private readonly opts: CableOptions,
  ) {}

  /** Publication listener: cable publications and withdrawals become packages. */
  async onPublicationChange(c: PublicationChange): Promise<void> {
    if (c.channel !== 'cable') return;
    if (c.state === 'published') await this.deliver(c.lessonId, c.assetId);
    else await this.withdraw(c.lessonId, c.assetId);
  }

  async deliver(lessonId: string, assetId: string): Promise<string> {
    const { payload, packageId } = await this.db.tx(async (q) => {
      const title = await this.title(q, lessonId);
      const newVersion = title.delivered_asset_id !== assetId;
      const major = newVersion ? title.version_major + 1 : title.version_major;
      const minor = newVersion ? 0 : title.version_minor + 1;
      const packageId = `${title.adi_package}_v${major}_${minor}`;
      await q.query('UPDATE cable_titles SET version_major = $2, version_minor = $3, delivered_asset_id = $4 WHERE lesson_id = $1', [lessonId, major, minor, assetId]);
      await q.query(
        "INSERT INTO cable_packages (id, lesson_id, asset_id, verb, version_major, version_minor, state) VALUES ($1, $2, $3, 'deliver', $4, $5, 'packaging')",
        [packageId, lessonId, assetId, major, minor],
      );
      await writeAudit(q, { actor: 'system', entity: 'cable_package', entityId: packageId, action: 'deliver', to: 'packaging', data: { lessonId, assetId, major, minor } });
      return { packageId, payload: await this.payload(q, packageId, 'deliver', lessonId, assetId, title, major, minor) };
    });
    await this.enqueue(payload);
    this.log.info({ lessonId, packageId }, 'cable package queued');
    return packageId;
  }

  async withdraw(lessonId: string, assetId: string): Promise<string> {
    const { payload, packageId } = await this.db.tx(async (q) => {
      const title = await this.title(q, lessonId);
      const major = title.version_major;
      const minor = title.version_minor + 1;
      const packageId = `${title.adi_package}_v${major}_${minor}_delete`;
      await q.query('UPDATE cable_titles SET version_minor = $2 WHERE lesson_id = $1', [lessonId, minor]);
      await q.query(
        "INSERT INTO cable_packages (id, lesson_id, asset_id, verb, version_major, version_minor, state) VALUES ($1, $2, $3, 'delete', $4, $5, 'packaging')",
        [packageId, lessonId, title.delivered_asset_id ?? assetId, major, minor],
      );
      await writeAudit(q, { actor: 'system', entity: 'cable_package', entityId: packageId, action: 'delete', to: 'packaging', data: { lessonId, major, minor } });
      return { packageId, payload: await this.payload(q, packageId, 'delete', lessonId, title.delivered_asset_id ?? assetId, title, major, minor) };
    });
    await this.enqueue(payload);
    return packageId;
  }

  /** Packages changed since a time (the cable system polls this), oldest change first. */
  async feed(since: Date | undefined, limit: number): Promise<{ items: unknown[]; next: string | null }> {
    const rows = await this.db.query<PackageRow>(
      `SELECT p.*, l.title FROM cable_packages p JOIN lessons l ON l.id = p.lesson_id
       WHERE ($1::timestamptz IS NULL OR p.updated_at > $1) ORDER BY p.updated_at, p.id LIMIT $2`,
      [since ?? null, limit],
    );
    const items = await Promise.all(rows.map(async (r) => ({
      packageId: r.id,
      lessonId: r.lesson_id,
      title: r.title,
      verb: r.verb,
      version: { major: r.version_major, minor: r.version_minor },
      state: r.state,
      error: r.error,
      errorCode: r.error_code,
      runTimeS: r.run_time_s,
      createdAt: r.created_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
      files: r.state === 'failed' ? [] : await Promise.all((r.files ?? []).map(async (f) => ({
        name: f.name,
        size: f.size,
        md5: f.md5,
        url: await this.storage.presignedGet(this.storage.cableBucket, f.key, this.opts.linkTtlS),
      }))),
    })));
    const last = rows[rows.length - 1];
    return { items, next: rows.length === limit && last ? last.updated_at.toISOString() : null };
  }

  private async title(q: Queryable, lessonId: string): Promise<TitleRow> {
    const existing = (await q.query<TitleRow>('SELECT * FROM cable_titles WHERE lesson_id = $1 FOR UPDATE', [lessonId]))[0];
    if (existing) return existing;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const n = (await q.query<{ n: number }>("SELECT nextval('cable_asset_id_seq') n"))[0].n;
      ids.push(formatAssetId(this.opts.assetIdPrefix, Number(n)));
    }
    await q.query('INSERT INTO cable_titles (lesson_id, adi_package, adi_title, adi_movie, adi_poster) VALUES ($1, $2, $3, $4, $5)', [lessonId, ...ids]);
    return (await q.query<TitleRow>('SELECT * FROM cable_titles WHERE lesson_id = $1 FOR UPDATE', [lessonId]))[0];
  }

  private async payload(q: Queryable, packageId: string, verb: 'deliver' | 'delete', lessonId: string, assetId: string, t: TitleRow, major: number, minor: number): Promise<CablePackagePayload> {
    const l = (await q.query<LessonRow>('SELECT * FROM lessons WHERE id = $1', [lessonId]))[0];
    const a = (await q.query<AssetRow>('SELECT * FROM assets WHERE id = $1', [assetId]))[0];
    const tax = await this.taxonomy.get();
    const label = (kind: 'stage' | 'subject' | 'type', code: string) => tax[kind].find((i) => i.code === code)?.label ?? code;
    const type = tax.type.find((i) => i.code === l.type);
    const extra = type?.parent ? [[label('type', type.parent), type.label]] : [];
    const sourceKey = verb === 'deliver' ? bestSource(a) : undefined;
    if (verb === 'deliver' && !sourceKey) throw new InvalidError('no_source_to_package', 'the approved version has no source to package');
    const start = new Date();
    return {
      packageId,
      verb,
      lessonId,
      assetId,
      version: { major, minor },
      sourceKey,
      adiIds: { package: t.adi_package, title: t.adi_title, movie: t.adi_movie, poster: t.adi_poster },
      lesson: { title: l.title, description: l.description, stage: label('stage', l.stage), subject: label('subject', l.subject), extraCategories: extra },
      createdAt: t.created_at.toISOString(),
      license: { start: start.toISOString(), end: new Date(start.getTime() + this.opts.licenseDays * 86_400_000).toISOString() },
      provider: this.opts.provider,
      profile: this.opts.profile,
    };
  }
}

/** The best source of a version: the original upload, or the top rendition of a live recording. */
function bestSource(a: AssetRow): string | undefined {
  if (a.source_key) return a.source_key;
  const renditions = (a.media?.renditions ?? []) as { kind?: string; playlistKey?: string; name?: string; height?: number | null }[];
  const video = renditions.filter((r) => r.kind !== 'audio').sort((x, y) => (y.height ?? 0) - (x.height ?? 0));
  const top = video[0];
  if (top?.playlistKey) return top.playlistKey;
  if (top?.name && a.hls_root) return `${a.hls_root}${top.name}/index.m3u8`;
  return undefined;
}

/** A finished packaging job: the package's state, files and run time; a delivered DELETE marks earlier deliveries withdrawn. */
export async function applyCableResult(q: Queryable, r: JobResult): Promise<void> {
  const pkg = (await q.query<PackageRow>('SELECT * FROM cable_packages WHERE id = $1 FOR UPDATE', [r.subjectId]))[0];
  if (!pkg) return;
  if (!r.ok) {
    await q.query("UPDATE cable_packages SET state = 'failed', error = $2, error_code = $3, updated_at = now() WHERE id = $1", [pkg.id, r.error ?? 'packaging failed', failureCodeOf(r)]);
    await writeAudit(q, { actor: 'worker', entity: 'cable_package', entityId: pkg.id, action: 'failed', from: pkg.state, to: 'failed', reason: r.error ?? null });
    return;
  }
  const data = r.data as { files?: unknown; runTimeS?: number };
  await q.query("UPDATE cable_packages SET state = 'delivered', error = NULL, files = $2, run_time_s = $3, updated_at = now() WHERE id = $1", [pkg.id, JSON.stringify(data.files ?? []), data.runTimeS ?? null]);
  await writeAudit(q, { actor: 'worker', entity: 'cable_package', entityId: pkg.id, action: 'delivered', from: pkg.state, to: 'delivered' });
  if (pkg.verb === 'delete') {
    await q.query("UPDATE cable_packages SET state = 'withdrawn', updated_at = now() WHERE lesson_id = $1 AND verb = 'deliver' AND state = 'delivered' AND created_at <= $2", [pkg.lesson_id, pkg.created_at]);
  }
}
