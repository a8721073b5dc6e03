import { randomUUID } from 'node:crypto';
import type { Db } from '../infra/db.ts';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from '../domain/errors.ts';
import { planEdit, publicFields, type EditField, type PublicField } from '../domain/lesson-state.ts';
import type { LessonRow, Principal } from '../domain/types.ts';
import { changeStatus } from './lesson-store.ts';
import { editFieldColumns as columns, lockLesson, writeLessonFields } from '../infra/lessons.repo.ts';
import * as edits from '../infra/lesson-edits.repo.ts';
import type { EditRecord } from '../infra/lesson-edits.repo.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { searchText, validateSchedule } from './lessons.service.ts';
import type { TaxonomyKind, TaxonomyService } from './taxonomy.service.ts';

/** What a teacher may change with PATCH /lessons/{id}. */
export interface LessonPatch {
  title?: string;
  description?: string;
  stage?: string;
  grade?: string;
  subject?: string;
  type?: string;
  edition?: string;
  scheduledStart?: string | null;
  scheduledEnd?: string | null;
}

type Value = string | null;

const editFields = Object.keys(columns) as EditField[];
const taxonomyFields: readonly string[] = ['stage', 'grade', 'subject', 'type', 'edition'];

const valueOf = (l: LessonRow, f: EditField): Value => {
  const v = l[columns[f]];
  return v instanceof Date ? v.toISOString() : (v as Value) ?? null;
};
const normalise = (f: EditField, v: string | null | undefined): Value => {
  if (v === undefined || v === null) return null;
  return f === 'scheduledStart' || f === 'scheduledEnd' ? new Date(v).toISOString() : v;
};

export interface EditChange {
  field: PublicField;
  from: string;
  to: string;
  /** labels of taxonomy codes, for the reviewer's diff */
  fromLabel?: string;
  toLabel?: string;
}

export interface PendingEdit {
  id: string;
  lessonId: string;
  lessonTitle: string;
  teacher: string;
  proposedAt: string;
  changes: EditChange[];
}

export interface EditResult {
  /** fields written now */
  applied: EditField[];
  /** fields waiting for the reviewer (null: nothing pending) */
  pendingEdit: { id: string; fields: PublicField[] } | null;
  status: string;
}

/** Called after a lesson's stored fields changed (caches, the ingest's key windows). */
export type LessonChanged = (lessonId: string) => Promise<void>;

/**
 * Edits of lessons by their teacher (PATCH /lessons/{id}) under the state machine's edit rules, and
 * the reviewer's decisions on edits of approved text. Every edit and decision is audited in the
 * transaction that makes it.
 */
export class LessonEditsService {
  constructor(
    private readonly db: Db,
    private readonly taxonomy: TaxonomyService,
    private readonly onChanged: LessonChanged,
  ) {}

  /** Applies a teacher's edit of their own lesson: written now, pending for the reviewer, or refused (409). */
  async edit(actor: Principal, lessonId: string, patch: LessonPatch): Promise<EditResult> {
    if (actor.role !== 'teacher') throw new ForbiddenError('teacher_only', 'only the lesson\'s teacher edits it');
    const result = await this.db.tx(async (q) => {
      const l = await lockLesson(q, lessonId);
      if (l.teacher_id !== actor.userId) throw new NotFoundError('lesson_not_found', 'lesson not found');
      const pending = await edits.lockPendingEdit(q, l.id);
      // what the teacher wants the lesson to read: the stored lesson, the pending edit, this patch
      const wanted = new Map<EditField, Value>();
      for (const f of editFields) wanted.set(f, valueOf(l, f));
      for (const [f, v] of Object.entries(pending?.changes ?? {})) wanted.set(f as EditField, v);
      for (const f of editFields) if (patch[f] !== undefined) wanted.set(f, normalise(f, patch[f]));
      const changed = editFields.filter((f) => wanted.get(f) !== valueOf(l, f));
      const touched = editFields.filter((f) => patch[f] !== undefined && wanted.get(f) !== valueOf(l, f));
      if (!touched.length && !(pending && editFields.some((f) => patch[f] !== undefined))) {
        return { applied: [], pendingEdit: pending ? { id: pending.id, fields: Object.keys(pending.changes) as PublicField[] } : null, status: l.status, stored: false };
      }
      const plan = planEdit(l.kind, l.status, changed, { approvedBefore: l.approved_asset_id !== null, hasRecording: l.current_asset_id !== null });
      await this.validate(l, wanted);

      const applied = plan.direct;
      if (applied.length) {
        const textChanged = applied.some((f) => f === 'title' || f === 'description');
        await writeLessonFields(q, l.id, Object.fromEntries(applied.map((f) => [f, wanted.get(f)])), textChanged ? searchText(wanted.get('title') ?? '', wanted.get('description') ?? '') : undefined);
        await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'edit', data: { changes: Object.fromEntries(applied.map((f) => [f, { from: valueOf(l, f), to: wanted.get(f) }])) } });
      }
      if (plan.event) await changeStatus(q, l, plan.event, actor, null, { cause: 'edit', fields: changed });

      let pendingEdit: EditResult['pendingEdit'] = null;
      if (pending) await edits.markEditSuperseded(q, pending.id);
      if (plan.pending.length) {
        const id = randomUUID();
        const changes = Object.fromEntries(plan.pending.map((f) => [f, wanted.get(f)]));
        const previous = Object.fromEntries(plan.pending.map((f) => [f, valueOf(l, f)]));
        await edits.insertPendingEdit(q, { id, lessonId: l.id, changes, previous, proposedBy: actor.userId });
        await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'edit_proposed', data: { editId: id, supersedes: pending?.id ?? null, changes: Object.fromEntries(plan.pending.map((f) => [f, { from: previous[f], to: changes[f] }])) } });
        pendingEdit = { id, fields: plan.pending };
      } else if (pending) {
        await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: 'edit_withdrawn', data: { editId: pending.id } });
      }
      return { applied, pendingEdit, status: l.status, stored: applied.length > 0 || plan.event !== undefined };
    });
    if (result.stored) await this.onChanged(lessonId);
    return { applied: result.applied, pendingEdit: result.pendingEdit, status: result.status };
  }

  /** Pending text edits of the reviewer's school, oldest first, as diffs. */
  async pendingForSchool(actor: Principal): Promise<PendingEdit[]> {
    if (actor.role !== 'reviewer' || !actor.schoolId) throw new ForbiddenError('reviewer_only', 'only a school reviewer decides on edits');
    const rows = await edits.pendingEditsOfSchool(this.db, actor.schoolId);
    const labels = await this.labels();
    return rows.map((r) => ({ id: r.id, lessonId: r.lessonId, lessonTitle: r.lessonTitle, teacher: r.teacherName, proposedAt: r.proposedAt.toISOString(), changes: diff(r, labels) }));
  }

  /** The reviewer accepts (the lesson then reads the new text) or rejects (with a reason) a pending edit. */
  async decide(actor: Principal, editId: string, decision: 'approve' | 'reject', reason: string | undefined): Promise<{ state: string; lessonId: string }> {
    if (actor.role !== 'reviewer' || !actor.schoolId) throw new ForbiddenError('reviewer_only', 'only a reviewer of the lesson\'s school decides on its edits');
    if (decision === 'reject' && !reason?.trim()) throw new InvalidError('rejection_reason_required', 'a rejection needs a reason', [{ field: 'reason', message: 'required when rejecting' }]);
    const out = await this.db.tx(async (q) => {
      const e = await edits.findEdit(q, editId);
      if (!e) throw new NotFoundError('edit_not_found', 'edit not found');
      const l = await lockLesson(q, e.lessonId);
      if (l.school_id !== actor.schoolId) throw new NotFoundError('edit_not_found', 'edit not found');
      const row = (await edits.findEdit(q, editId, true))!;
      if (row.state !== 'pending') throw new ConflictError('edit_already_decided', `this edit was already ${row.state}`, { status: row.state });
      if (decision === 'approve') {
        const fields = Object.keys(row.changes).filter((f): f is PublicField => (publicFields as readonly string[]).includes(f));
        const merged = { ...Object.fromEntries(publicFields.map((f) => [f, valueOf(l, f)])), ...row.changes } as Record<PublicField, string>;
        await this.taxonomy.validateLesson(merged);
        const text = searchText(merged.title, merged.description);
        await writeLessonFields(q, l.id, Object.fromEntries(fields.map((f) => [f, merged[f]])), text);
      }
      const state = decision === 'approve' ? 'approved' as const : 'rejected' as const;
      await edits.writeEditDecision(q, editId, state, actor.userId, reason ?? null);
      await writeAudit(q, { actor, entity: 'lesson', entityId: l.id, action: decision === 'approve' ? 'edit_approved' : 'edit_rejected', reason: reason ?? null, data: { editId, changes: row.changes, previous: row.previous } });
      return { state, lessonId: l.id };
    });
    if (out.state === 'approved') await this.onChanged(out.lessonId);
    return out;
  }

  /** The lesson's pending edit and its latest decided one, for its staff view. */
  async summary(lessonId: string): Promise<{ pending: { id: string; proposedAt: string; changes: EditChange[] } | null; lastDecision: { state: string; reason: string | null; decidedAt: string } | null }> {
    const { pending: p, lastDecided: d } = await edits.pendingAndLastDecidedEdit(this.db, lessonId);
    const labels = p ? await this.labels() : undefined;
    return {
      pending: p ? { id: p.id, proposedAt: p.proposedAt.toISOString(), changes: diff(p, labels!) } : null,
      lastDecision: d ? { state: d.state, reason: d.reason, decidedAt: d.decidedAt!.toISOString() } : null,
    };
  }

  private async validate(l: LessonRow, wanted: Map<EditField, Value>): Promise<void> {
    const w = (f: EditField) => wanted.get(f) ?? '';
    if (!w('title').trim()) throw new InvalidError('title_required', 'a lesson needs a title', [{ field: 'title', message: 'required' }]);
    await this.taxonomy.validateLesson({ stage: w('stage'), grade: w('grade'), subject: w('subject'), type: w('type'), edition: w('edition') });
    validateSchedule({ kind: l.kind, scheduledStart: wanted.get('scheduledStart') ?? undefined, scheduledEnd: wanted.get('scheduledEnd') ?? undefined });
  }

  private async labels(): Promise<Map<string, string>> {
    const tax = await this.taxonomy.get();
    const m = new Map<string, string>();
    for (const kind of taxonomyFields as TaxonomyKind[]) for (const i of tax[kind]) m.set(`${kind}:${i.code}`, i.label);
    return m;
  }
}

function diff(r: EditRecord, labels: Map<string, string>): EditChange[] {
  return publicFields.filter((f) => f in r.changes).map((f) => {
    const c: EditChange = { field: f, from: r.previous[f] ?? '', to: r.changes[f] ?? '' };
    if (taxonomyFields.includes(f)) {
      c.fromLabel = labels.get(`${f}:${c.from}`) ?? c.from;
      c.toLabel = labels.get(`${f}:${c.to}`) ?? c.to;
    }
    return c;
  });
}
