import type { Db, Queryable } from '../infra/db.ts';
import type { Logger } from '../infra/logger.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import type { JobResult } from '../jobs/job-types.ts';
import { InvalidError } from '../domain/errors.ts';
import { failureCodeOf } from '../domain/processing-failures.ts';
import type { AssetRow } from '../domain/types.ts';
import type { CablePackagePayload, CableProvider } from '../jobs/cable.job.ts';
import type { CableProfile } from '../../config/cable-profiles.ts';
import { formatAssetId } from '../media/adi-xml.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { findAsset } from '../infra/assets.repo.ts';
import { findLesson } from '../infra/lessons.repo.ts';
import * as cable from '../infra/cable.repo.ts';
import type { CableTitle } from '../infra/cable.repo.ts';
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
      const newVersion = title.deliveredAssetId !== assetId;
      const major = newVersion ? title.versionMajor + 1 : title.versionMajor;
      const minor = newVersion ? 0 : title.versionMinor + 1;
      const packageId = `${title.adiIds.package}_v${major}_${minor}`;
      await cable.writeTitleDelivered(q, lessonId, major, minor, assetId);
      await cable.insertPackage(q, { id: packageId, lessonId, assetId, verb: 'deliver', major, minor });
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
      const major = title.versionMajor;
      const minor = title.versionMinor + 1;
      const packageId = `${title.adiIds.package}_v${major}_${minor}_delete`;
      await cable.writeTitleMinor(q, lessonId, minor);
      await cable.insertPackage(q, { id: packageId, lessonId, assetId: title.deliveredAssetId ?? assetId, verb: 'delete', major, minor });
      await writeAudit(q, { actor: 'system', entity: 'cable_package', entityId: packageId, action: 'delete', to: 'packaging', data: { lessonId, major, minor } });
      return { packageId, payload: await this.payload(q, packageId, 'delete', lessonId, title.deliveredAssetId ?? assetId, title, major, minor) };
    });
    await this.enqueue(payload);
    return packageId;
  }

  /** Packages changed since a time (the cable system polls this), oldest change first. */
  async feed(since: Date | undefined, limit: number): Promise<{ items: unknown[]; next: string | null }> {
    const rows = await cable.packagesChangedSince(this.db, since, limit);
    const items = await Promise.all(rows.map(async (r) => ({
      packageId: r.id,
      lessonId: r.lessonId,
      title: r.title,
      verb: r.verb,
      version: { major: r.versionMajor, minor: r.versionMinor },
      state: r.state,
      error: r.error,
      errorCode: r.errorCode,
      runTimeS: r.runTimeS,
      createdAt: r.createdAt.toISOString(),
      updatedAt: r.updatedAt.toISOString(),
      files: r.state === 'failed' ? [] : await Promise.all((r.files ?? []).map(async (f) => ({
        name: f.name,
        size: f.size,
        md5: f.md5,
        url: await this.storage.presignedGet(this.storage.cableBucket, f.key, this.opts.linkTtlS),
      }))),
    })));
    const last = rows[rows.length - 1];
    return { items, next: rows.length === limit && last ? last.updatedAt.toISOString() : null };
  }

  private async title(q: Queryable, lessonId: string): Promise<CableTitle> {
    const existing = await cable.lockCableTitle(q, lessonId);
    if (existing) return existing;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(formatAssetId(this.opts.assetIdPrefix, await cable.nextCableAssetNumber(q)));
    await cable.insertCableTitle(q, lessonId, { package: ids[0], title: ids[1], movie: ids[2], poster: ids[3] });
    return (await cable.lockCableTitle(q, lessonId))!;
  }

  private async payload(q: Queryable, packageId: string, verb: 'deliver' | 'delete', lessonId: string, assetId: string, t: CableTitle, major: number, minor: number): Promise<CablePackagePayload> {
    const l = (await findLesson(q, lessonId))!;
    const a = (await findAsset(q, assetId))!;
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
      adiIds: t.adiIds,
      lesson: { title: l.title, description: l.description, stage: label('stage', l.stage), subject: label('subject', l.subject), extraCategories: extra },
      createdAt: t.createdAt.toISOString(),
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
  const pkg = await cable.lockPackage(q, r.subjectId);
  if (!pkg) return;
  if (!r.ok) {
    await cable.markPackageFailed(q, pkg.id, r.error ?? 'packaging failed', failureCodeOf(r));
    await writeAudit(q, { actor: 'worker', entity: 'cable_package', entityId: pkg.id, action: 'failed', from: pkg.state, to: 'failed', reason: r.error ?? null });
    return;
  }
  const data = r.data as { files?: unknown; runTimeS?: number };
  await cable.markPackageDelivered(q, pkg.id, data.files ?? [], data.runTimeS ?? null);
  await writeAudit(q, { actor: 'worker', entity: 'cable_package', entityId: pkg.id, action: 'delivered', from: pkg.state, to: 'delivered' });
  if (pkg.verb === 'delete') {
    await cable.markDeliveriesWithdrawn(q, pkg.lessonId, pkg.createdAt);
  }
}
