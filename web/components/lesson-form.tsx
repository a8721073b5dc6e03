import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { staff } from '../api/staff-client.ts';
import type { Taxonomy } from '../api/types.ts';
import { ErrorNote } from './error-note.tsx';
import { ct, t } from '../i18n/zh-CN.ts';

export interface EditableLesson {
  id: string;
  title: string;
  description: string;
  kind: 'recorded' | 'live';
  stage: { code: string };
  grade: { code: string };
  subject: { code: string };
  type: { code: string };
  edition: { code: string };
  scheduledStart: string | null;
  scheduledEnd: string | null;
}

/** `datetime-local` wants local time without a zone. */
const localInput = (iso: string | null): string => {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

/** Create or edit a lesson: title, description, taxonomy, schedule for live lessons. */
export function LessonForm({ tax, lesson, onSaved, onCancel }: { tax: Taxonomy; lesson?: EditableLesson; onSaved: (id: string, note: string) => void; onCancel?: () => void }) {
  const [kind, setKind] = useState<'recorded' | 'live'>(lesson?.kind ?? 'recorded');
  const [stage, setStage] = useState(lesson?.stage.code ?? tax.stages[0]?.code ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const get = (k: string) => String(f.get(k) ?? '');
    const body: Record<string, string> = {
      title: get('title'), description: get('description'), stage: get('stage'), grade: get('grade'), subject: get('subject'), type: get('type'), edition: get('edition'),
    };
    if (kind === 'live') {
      body.scheduledStart = new Date(get('scheduledStart')).toISOString();
      body.scheduledEnd = new Date(get('scheduledEnd')).toISOString();
    }
    setBusy(true);
    setError(null);
    try {
      if (lesson) {
        const r = await staff<{ id: string; edit: { pendingEdit: unknown } }>('editLesson', { params: { id: lesson.id }, body });
        onSaved(r.id, r.edit.pendingEdit ? ct.savedPending : ct.saved);
      } else {
        const r = await staff<{ id: string }>('createLesson', { body: { ...body, kind } });
        onSaved(r.id, ct.saved);
      }
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    } finally {
      setBusy(false);
    }
  };
  const grades = tax.grades.filter((g) => g.stage === stage);
  const subjects = tax.subjects.filter((s) => !s.stage || s.stage === stage);
  const select = (name: string, label: string, items: { code: string; label: string }[], value?: string, onChange?: (v: string) => void) => (
    <label class="field">
      <span>{label}</span>
      <select name={name} required value={value} onChange={onChange && ((e) => onChange((e.currentTarget as HTMLSelectElement).value))}>
        <option value="">{ct.choose}</option>
        {items.map((i) => <option key={i.code} value={i.code}>{i.label}</option>)}
      </select>
    </label>
  );
  return (
    <form class="form card" onSubmit={submit}>
      {error && <ErrorNote message={error} />}
      {!lesson && (
        <fieldset class="chips" aria-label={ct.kind}>
          <legend class="visually-hidden">{ct.kind}</legend>
          <button type="button" class="chip" aria-pressed={kind === 'recorded'} onClick={() => setKind('recorded')}>{ct.kindRecorded}</button>
          <button type="button" class="chip" aria-pressed={kind === 'live'} onClick={() => setKind('live')}>{ct.kindLive}</button>
        </fieldset>
      )}
      <label class="field">
        <span>{ct.title}</span>
        <input name="title" required maxLength={200} value={lesson?.title} />
      </label>
      <label class="field">
        <span>{ct.description}</span>
        <textarea name="description" maxLength={5000} value={lesson?.description} />
      </label>
      <div class="form-row">
        {select('stage', t.stage, tax.stages, stage, setStage)}
        {select('grade', t.grade, grades, lesson?.grade.code)}
        {select('subject', t.subject, subjects, lesson?.subject.code)}
        {select('type', t.type, tax.types, lesson?.type.code ?? (kind === 'live' ? 'live' : 'recorded'))}
        {select('edition', t.edition, tax.editions, lesson?.edition.code)}
      </div>
      {kind === 'live' && (
        <div class="form-row">
          <label class="field"><span>{ct.start}</span><input name="scheduledStart" type="datetime-local" required value={localInput(lesson?.scheduledStart ?? null)} /></label>
          <label class="field"><span>{ct.end}</span><input name="scheduledEnd" type="datetime-local" required value={localInput(lesson?.scheduledEnd ?? null)} /></label>
        </div>
      )}
      <div class="item__actions">
        <button type="submit" class="button" disabled={busy}>{lesson ? ct.save : ct.create}</button>
        {onCancel && <button type="button" class="button button--ghost" onClick={onCancel}>{ct.cancel}</button>}
      </div>
    </form>
  );
}
