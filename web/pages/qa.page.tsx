import { api } from '../api/client.ts';
import { AskForm } from '../components/ask-form.tsx';
import { ErrorNote } from '../components/error-note.tsx';
import { QuestionList } from '../components/question-list.tsx';
import { SearchBox } from '../components/search-box.tsx';
import { StageSubjectPicker } from '../components/stage-subject-picker.tsx';
import { t } from '../i18n/zh-CN.ts';
import { useApi } from '../lib/use-api.ts';
import { useTitle } from '../lib/use-title.ts';
import { navigate, useLocation } from '../router.ts';

/** 在线答疑: choose 学段 and 学科, browse and search answered questions, ask one. Choices in the URL. */
export function Page() {
  useTitle(t.qaTitle);
  const loc = useLocation();
  const p = new URLSearchParams(loc.search);
  const stage = p.get('stage') || undefined;
  const subject = p.get('subject') || undefined;
  const q = p.get('q')?.trim() || undefined;
  const tax = useApi(() => api.taxonomy(), []);
  const go = (v: { stage?: string; subject?: string; q?: string }): void => {
    const n = new URLSearchParams();
    for (const [k, val] of Object.entries(v)) if (val) n.set(k, val);
    const s = n.toString();
    navigate(s ? `/qa?${s}` : '/qa', { keepScroll: true });
  };
  return (
    <>
      <h1>{t.qaTitle}</h1>
      <p class="muted">{t.qaIntro}</p>
      {tax.error && <ErrorNote message={tax.error.message} onRetry={tax.reload} />}
      {tax.data && <StageSubjectPicker tax={tax.data} stage={stage} subject={subject} allowAll idPrefix="qa" onChange={(v) => go({ ...v, q })} />}
      <SearchBox key={q ?? ''} initial={q ?? ''} label={t.qaSearchLabel} placeholder={t.qaSearchPlaceholder} onSearch={(nq) => go({ stage, subject, q: nq || undefined })} />
      <div class="qa-layout">
        <QuestionList stage={stage} subject={subject} q={q} heading={t.qaListTitle} />
        {tax.data && <AskForm key={`${stage}-${subject}`} tax={tax.data} stage={stage} subject={subject} idPrefix="qa-ask" />}
      </div>
    </>
  );
}
