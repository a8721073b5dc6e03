import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../infra/db.ts';
import { ForbiddenError, InvalidError, NotFoundError } from '../domain/errors.ts';
import { initialStatus, type LessonStatus } from '../domain/lesson-state.ts';
import type { AssetRow, LessonRow, Principal } from '../domain/types.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import type { Taxonomy, TaxonomyKind, TaxonomyService } from './taxonomy.service.ts';
import type { UrlSigner } from './url-signer.ts';
import { encodeCursor } from '../infra/cursor.ts';
import { isUuid } from '../domain/ids.ts';
import type { PublicLesson } from '../domain/public-lesson.ts';
import { findLesson, insertLesson } from '../infra/lessons.repo.ts';
import { findAsset } from '../infra/assets.repo.ts';
import { listPublications } from '../infra/publications.repo.ts';
import * as catalog from '../infra/catalog.repo.ts';
import type { CatalogRow, FacetCell, StaffScope } from '../infra/catalog.repo.ts';

export interface LessonInput {
  title: string;
  description?: string;
  kind: 'recorded' | 'live';
  stage: string;
  grade: string;
  subject: string;
  type: string;
  edition: string;
  scheduledStart?: string;
  scheduledEnd?: string;
}

export interface PublicFilters {
  stage?: string[];
  grade?: string[];
  subject?: string[];
  type?: string[];
  edition?: string[];
  q?: string;
}

/** Progress of the current version's processing, read from the queue while it runs. */
export type ProgressReader = (asset: AssetRow) => Promise<number | undefined>;

export const facetKinds: TaxonomyKind[] = [...catalog.catalogDimensions];

export const searchText = (title: string, description: string): string => `${title}\n${description}`.toLowerCase();


/** Lessons: creation by teachers, the public catalog (published on the portal only) and staff views. */
export class LessonsService {
  constructor(
    private readonly db: Db,
    private readonly taxonomy: TaxonomyService,
    private readonly preview: UrlSigner,
    private readonly opts: { previewTtlS: number; progress?: ProgressReader },
  ) {}

  /** Creates a lesson of the teacher's own school: `draft`, or `scheduled` for a live one. */
  async create(actor: Principal, input: LessonInput): Promise<LessonRow> {
    if (actor.role !== 'teacher' || !actor.schoolId) throw new ForbiddenError('teacher_only', 'only teachers create lessons');
    await this.taxonomy.validateLesson(input);
    const { start, end } = validateSchedule(input);
    const id = randomUUID();
    const status = initialStatus(input.kind);
    const description = input.description ?? '';
    await this.db.tx(async (q) => {
      await insertLesson(q, {
        id, title: input.title, description, kind: input.kind, school_id: actor.schoolId!, teacher_id: actor.userId, stage: input.stage, grade: input.grade,
        subject: input.subject, type: input.type, edition: input.edition, status, scheduled_start: start, scheduled_end: end,
      }, searchText(input.title, description));
      await writeAudit(q, { actor, entity: 'lesson', entityId: id, action: 'create', to: status });
    });
    return this.row(id);
  }

  async row(id: string, q: Queryable = this.db): Promise<LessonRow> {
    const l = await findLesson(q, id);
    if (!l) throw new NotFoundError('lesson_not_found', 'lesson not found');
    return l;
  }

  /** The lesson if this staff member may see it; otherwise NotFound (existence does not leak). */
  async rowForStaff(actor: Principal, id: string, q: Queryable = this.db): Promise<LessonRow> {
    if (!isUuid(id)) throw new NotFoundError('lesson_not_found', 'lesson not found');
    const l = await catalog.findLessonWithDistrict(q, id);
    if (!l || !canSee(actor, l, l.district_id)) throw new NotFoundError('lesson_not_found', 'lesson not found');
    return l;
  }

  /** Public catalog list: only lessons with an approved version published on the portal. */
  async listPublic(filters: PublicFilters, cursor: string | undefined, limit: number, baseUrl: string): Promise<{ items: PublicLesson[]; nextCursor: string | null }> {
    const rows = await catalog.publishedLessonsPage(this.db, { codes: Object.fromEntries(Object.entries(await this.filterValues(filters)).map(([k, v]) => [k, [...v]])), text: filters.q }, cursor, limit);
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const tax = await this.taxonomy.get();
    const last = page[page.length - 1];
    return {
      items: page.map((r) => publicLesson(r, tax, baseUrl)),
      nextCursor: more && last?.portal_published_at ? encodeCursor(last.portal_published_at, last.id) : null,
    };
  }

  /**
   * Facet counts over the public catalog; each dimension counts with the other dimensions' filters
   * applied (not its own), the total with all of them. One read of counts per taxonomy combination:
   * without a text search the counts the database keeps (migration 011), with one the combinations of
   * the matching lessons; the filters then apply to those few thousand rows here.
   */
  async facets(filters: PublicFilters): Promise<Record<TaxonomyKind, { code: string; label: string; count: number }[]> & { total: number }> {
    const [tax, wanted] = await Promise.all([this.taxonomy.get(), this.filterValues(filters)]);
    let cells: FacetCell[];
    if (filters.q?.trim()) {
      cells = await catalog.matchingFacetCells(this.db, filters.q);
    } else {
      cells = await catalog.publishedFacetCells(this.db);
    }
    const matches = (c: FacetCell, except?: TaxonomyKind) => facetKinds.every((k) => k === except || !wanted[k] || wanted[k].has(c[k]));
    const out = { total: 0 } as Record<TaxonomyKind, { code: string; label: string; count: number }[]> & { total: number };
    for (const kind of facetKinds) {
      const counts = new Map<string, number>();
      for (const c of cells) if (matches(c, kind)) counts.set(c[kind], (counts.get(c[kind]) ?? 0) + c.n);
      out[kind] = tax[kind].map((i) => ({ code: i.code, label: i.label, count: counts.get(i.code) ?? 0 })).filter((i) => i.count > 0);
    }
    for (const c of cells) if (matches(c)) out.total += c.n;
    return { total: out.total, ...Object.fromEntries(facetKinds.map((k) => [k, out[k]])) } as typeof out;
  }

  /** Public detail: NotFound unless published on the portal, or a live lesson approved for air. */
  async getPublic(id: string, baseUrl: string): Promise<PublicLesson & { storyboard: { vtt: string } | null; live?: { onAir: boolean; hls: string | null } }> {
    if (!isUuid(id)) throw new NotFoundError('lesson_not_found', 'lesson not found');
    const r = await catalog.findPublicLesson(this.db, id);
    if (!r) throw new NotFoundError('lesson_not_found', 'lesson not found');
    // the storyboard (seek-bar thumbnails) of the published version, through the gateway like the video
    const out = { ...publicLesson(r, await this.taxonomy.get(), baseUrl), storyboard: r.portal_published_at ? { vtt: `${baseUrl}/play/${r.id}/storyboard.vtt` } : null };
    if (r.kind !== 'live') return out;
    return { ...out, live: { onAir: Boolean(r.on_air), hls: r.on_air ? `${baseUrl}/live/${r.id}/master.m3u8` : null } };
  }

  /** Staff detail: the public shape plus status, processing and a signed preview link. */
  async getForStaff(actor: Principal, id: string, baseUrl: string): Promise<StaffLesson> {
    // one snapshot: a result applied between these reads showed a lesson still 处理中 beside its version ready
    const { l, row, asset, publications } = await this.db.tx(async (q) => {
      await q.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const l = await this.rowForStaff(actor, id, q);
      const row = (await catalog.findStaffLesson(q, l.id))!;
      const asset = l.current_asset_id ? await findAsset(q, l.current_asset_id) : undefined;
      return { l, row, asset, publications: await listPublications(q, l.id) };
    });
    const base = publicLesson(row, await this.taxonomy.get(), baseUrl);
    let progress = asset?.progress ?? 0;
    if (asset && (asset.state === 'processing' || asset.state === 'queued') && this.opts.progress) progress = (await this.opts.progress(asset).catch(() => undefined)) ?? progress;
    const previewAsset = asset?.state === 'ready' ? asset.id : l.approved_asset_id;
    const preview = previewAsset ? this.preview.sign(previewAsset, this.opts.previewTtlS) : undefined;
    return {
      ...base,
      playback: l.portal_published_at ? base.playback : null,
      status: l.status,
      statusReason: l.status_reason,
      published: publications.map((p) => ({ channel: p.channel, state: p.state, assetId: p.assetId, publishedAt: p.publishedAt })),
      currentAssetId: l.current_asset_id,
      approvedAssetId: l.approved_asset_id,
      processing: asset ? { state: asset.state, progress: Math.max(0, Math.min(100, Math.round(progress))), error: asset.error, errorCode: asset.error_code ?? null, version: asset.version } : null,
      preview: preview ? { hls: `${baseUrl}/preview/${preview.token}/master.m3u8`, expiresAt: preview.expiresAt.toISOString() } : null,
    };
  }

  /** Lessons a staff member works on: a teacher's own, a reviewer's school's, everything for city roles. */
  async listForStaff(actor: Principal, filters: { status?: LessonStatus[] }, limit: number, baseUrl: string): Promise<StaffListItem[]> {
    let scope: StaffScope;
    if (actor.role === 'teacher') scope = { teacherId: actor.userId };
    else if (actor.role === 'reviewer') scope = { schoolId: actor.schoolId };
    else if (actor.role === 'district_admin') scope = { districtId: actor.districtId };
    else if (actor.role === 'operator' || actor.role === 'admin') scope = 'all';
    else return [];
    const rows = await catalog.staffLessons(this.db, scope, filters.status, limit);
    const tax = await this.taxonomy.get();
    return rows.map((r) => ({ ...publicLesson(r, tax, baseUrl), playback: r.portal_published_at ? publicLesson(r, tax, baseUrl).playback : null, status: r.status, statusReason: r.status_reason }));
  }

  /** The codes each filtered dimension accepts (a type includes its children). */
  private async filterValues(f: PublicFilters): Promise<Partial<Record<TaxonomyKind, Set<string>>>> {
    const out: Partial<Record<TaxonomyKind, Set<string>>> = {};
    for (const kind of facetKinds) {
      const values = f[kind];
      if (!values?.length) continue;
      out[kind] = new Set(kind === 'type' ? (await Promise.all(values.map((v) => this.taxonomy.typeWithChildren(v)))).flat() : values);
    }
    return out;
  }

}

/** Who may see a lesson in staff views: its teacher, its school's reviewers, its district admin, city roles. */
export function canSee(actor: Principal, l: Pick<LessonRow, 'teacher_id' | 'school_id'>, districtId?: string): boolean {
  switch (actor.role) {
    case 'operator':
    case 'admin':
      return true;
    case 'reviewer':
      return actor.schoolId === l.school_id;
    case 'teacher':
      return actor.userId === l.teacher_id;
    case 'district_admin':
      return Boolean(districtId) && actor.districtId === districtId;
    default:
      return false;
  }
}

/** Start and end of a live lesson: both required, in order, at most 12 hours apart. */
export function validateSchedule(input: Pick<LessonInput, 'kind' | 'scheduledStart' | 'scheduledEnd'>): { start: Date | null; end: Date | null } {
  const start = input.scheduledStart ? new Date(input.scheduledStart) : null;
  const end = input.scheduledEnd ? new Date(input.scheduledEnd) : null;
  if (input.kind === 'live') {
    const errors: { field: string; message: string }[] = [];
    if (!start) errors.push({ field: 'scheduledStart', message: 'required for a live lesson' });
    if (!end) errors.push({ field: 'scheduledEnd', message: 'required for a live lesson' });
    if (start && end && end <= start) errors.push({ field: 'scheduledEnd', message: 'must be after scheduledStart' });
    if (start && end && end.getTime() - start.getTime() > 12 * 3600_000) errors.push({ field: 'scheduledEnd', message: 'a live lesson lasts at most 12 hours' });
    if (errors.length) throw new InvalidError('validation_failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
  }
  return { start, end };
}

export interface StaffListItem extends PublicLesson {
  status: LessonStatus;
  statusReason: string | null;
}

export interface StaffLesson extends StaffListItem {
  published: { channel: string; state: string; assetId: string; publishedAt: string | null }[];
  currentAssetId: string | null;
  approvedAssetId: string | null;
  processing: { state: string; progress: number; error: string | null; errorCode: string | null; version: number } | null;
  preview: { hls: string; expiresAt: string } | null;
}

function term(tax: Taxonomy, kind: TaxonomyKind, code: string): { code: string; label: string } {
  return { code, label: tax[kind].find((i) => i.code === code)?.label ?? code };
}

function publicLesson(r: CatalogRow, tax: Taxonomy, baseUrl: string): PublicLesson {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    kind: r.kind,
    school: { id: r.school_id, code: r.school_code, name: r.school_name },
    teacher: { name: r.teacher_name },
    stage: term(tax, 'stage', r.stage),
    grade: term(tax, 'grade', r.grade),
    subject: term(tax, 'subject', r.subject),
    type: term(tax, 'type', r.type),
    edition: term(tax, 'edition', r.edition),
    scheduledStart: r.scheduled_start?.toISOString() ?? null,
    scheduledEnd: r.scheduled_end?.toISOString() ?? null,
    publishedAt: r.portal_published_at?.toISOString() ?? null,
    durationS: r.duration_s ?? null,
    poster: r.portal_published_at ? `${baseUrl}/play/${r.id}/poster.jpg` : null,
    playback: r.portal_published_at ? { hls: `${baseUrl}/play/${r.id}/master.m3u8` } : null,
  };
}
