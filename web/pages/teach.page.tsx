import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client.ts';
import { staff, type Me } from '../api/staff-client.ts';
import type { Taxonomy } from '../api/types.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from '../components/error-note.tsx';
import { LessonForm, type EditableLesson } from '../components/lesson-form.tsx';
import { UploadPanel } from '../components/upload-panel.tsx';
import { LivePanel } from '../components/live-panel.tsx';
import { TeachQuestions } from '../components/teach-questions.tsx';
import { SchoolTimetables } from '../components/school-timetables.tsx';
import { labelOf } from '../lib/code-labels.ts';
import { ct, lessonStatusLabels, processingFailureMessages, t } from '../i18n/zh-CN.ts';

interface StaffLesson extends EditableLesson {
  status: string;
  statusReason: string | null;
  processing: { state: string; progress: number; error: string | null; errorCode?: string | null } | null;
}

const badStates = new Set(['rejected', 'failed']);

/** Why a lesson failed or was sent back, in Chinese: the processing failure's code, or the reviewer's own words. */
function reasonOf(l: StaffLesson): string | null {
  const code = l.processing?.errorCode;
  if (l.status === 'failed' && code) return (processingFailureMessages as Record<string, string>)[code] ?? l.statusReason;
  return l.statusReason ?? l.processing?.error ?? null;
}
const busyStates = new Set(['processing', 'on_air']);
const nextStepOf = (status: string): string => labelOf(ct.nextStep, status, '');

/** The teacher's console: my lessons (states and progress without reload), create and edit, upload, live, questions, timetable. */
export function Page({ me }: { me: Me }) {
  const [tab, setTab] = useState<'lessons' | 'new' | 'questions' | 'timetable'>('lessons');
  const tax = useApi((): Promise<Taxonomy> => api.taxonomy(), []);
  const tabs = [['lessons', ct.tabLessons], ['new', ct.tabNew], ['questions', ct.tabQuestions], ['timetable', ct.tabTimetable]] as const;
  return (
    <>
      <h1 class="visually-hidden">{ct.teachTitle}</h1>
      <nav class="tabs" aria-label={ct.teachTitle}>
        {tabs.map(([k, label]) => <button key={k} type="button" class="chip" aria-pressed={tab === k} onClick={() => setTab(k)}>{label}</button>)}
      </nav>
      {tax.error && <ErrorNote message={tax.error.message} onRetry={tax.reload} />}
      {tab === 'lessons' && tax.data && <MyLessons tax={tax.data} />}
      {tab === 'new' && tax.data && <LessonForm tax={tax.data} onSaved={() => setTab('lessons')} />}
      {tab === 'questions' && <TeachQuestions />}
      {tab === 'timetable' && me.school && <SchoolTimetables school={me.school.code} me={me.displayName} />}
    </>
  );
}

function MyLessons({ tax }: { tax: Taxonomy }) {
  const [items, setItems] = useState<StaffLesson[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<{ id: string; part: Part } | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const list = (await staff<{ items: StaffLesson[] }>('myLessons', { query: { limit: 100 } })).items;
        // progress and failure reasons come with each lesson's detail: only for those still moving
        const detailed = await Promise.all(list.map((l) => (busyStates.has(l.status) || badStates.has(l.status) ? staff<StaffLesson>('lesson', { params: { id: l.id } }).catch(() => l) : l)));
        if (!live) return;
        setItems(detailed);
        setError(null);
        // poll while something is processing or on air; slowly otherwise (a reviewer may decide)
        timer = setTimeout(load, detailed.some((l) => busyStates.has(l.status)) ? 3000 : 15000);
      } catch (err) {
        if (!live) return;
        setError((err as Error).message || t.networkError);
        timer = setTimeout(load, 10000);
      }
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [n]);
  if (error && !items) return <ErrorNote message={error} onRetry={() => setN((x) => x + 1)} />;
  if (!items) return <p class="muted">{t.loading}</p>;
  if (!items.length) return <p class="muted">{ct.noLessons}</p>;
  return (
    <ul class="item-list">
      {items.map((l) => (
        <li key={l.id} class="item" data-testid="lesson-item">
          <div class="item__head">
            <span class="item__title">{l.title}</span>
            <span class={`state ${badStates.has(l.status) ? 'state--bad' : l.status === 'published' ? 'state--good' : ''}`} data-testid="lesson-status">{labelOf(lessonStatusLabels, l.status)}</span>
          </div>
          <p class="note">{l.kind === 'live' ? ct.kindLive : ct.kindRecorded} · {l.grade.code && tax.grades.find((g) => g.code === l.grade.code)?.label} · {tax.subjects.find((s) => s.code === l.subject.code)?.label}</p>
          {l.status === 'processing' && l.processing && (
            <div>
              <progress class="progress" max={100} value={l.processing.progress} aria-label={ct.progress(l.processing.progress)} />
              <p class="note">{ct.progress(l.processing.progress)}</p>
            </div>
          )}
          {badStates.has(l.status) && reasonOf(l) && <p class="reason">{ct.reasonLabel}：{reasonOf(l)}</p>}
          {nextStepOf(l.status) && <p class="note">{nextStepOf(l.status)}</p>}
          <div class="item__actions">
            {parts(l).map((p) => (
              <button key={p} type="button" class={`button button--small ${p === 'edit' ? 'button--ghost' : ''}`} aria-expanded={open?.id === l.id && open.part === p} onClick={() => setOpen(open?.id === l.id && open.part === p ? null : { id: l.id, part: p })}>
                {partLabel[p]}
              </button>
            ))}
          </div>
          {open?.id === l.id && parts(l).includes(open.part) && <LessonDetailPanel lesson={l} part={open.part} tax={tax} onChanged={() => setN((x) => x + 1)} />}
        </li>
      ))}
    </ul>
  );
}

type Part = 'live' | 'upload' | 'edit';
const partLabel: Record<Part, string> = { live: ct.liveOpen, upload: ct.upload, edit: ct.edit };
/** Live lessons keep their live view while the recording is made: the teacher sees the stream was stopped. */
const liveStates = new Set(['scheduled', 'approved_for_air', 'on_air', 'processing']);

/** What the teacher can open on a lesson, the likely one first: going live, uploading, editing the text. */
function parts(l: StaffLesson): Part[] {
  const out: Part[] = [];
  if (l.kind === 'live' && liveStates.has(l.status)) out.push('live');
  const canUpload = l.kind === 'recorded' ? !['processing', 'on_air'].includes(l.status) : ['failed', 'rejected', 'in_review', 'approved', 'published', 'withdrawn'].includes(l.status);
  if (canUpload) out.push('upload');
  out.push('edit');
  return out;
}

function LessonDetailPanel({ lesson, part, tax, onChanged }: { lesson: StaffLesson; part: Part; tax: Taxonomy; onChanged: () => void }) {
  const [note, setNote] = useState<string | null>(null);
  if (part === 'live') return <section class="card"><h2>{ct.live}</h2><LivePanel lessonId={lesson.id} keys={lesson.status !== 'processing'} /></section>;
  if (part === 'upload') return <section class="card"><h2>{ct.upload}</h2><UploadPanel lessonId={lesson.id} onDone={onChanged} /></section>;
  return (
    <div>
      {note && <p class="note" role="status">{note}</p>}
      <LessonForm tax={tax} lesson={lesson} onSaved={(_id, msg) => { setNote(msg); onChanged(); }} />
    </div>
  );
}
