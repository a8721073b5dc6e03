import { useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { staff } from '../api/staff-client.ts';
import { useApi } from '../lib/use-api.ts';
import { ErrorNote } from './error-note.tsx';
import { ct, t } from '../i18n/zh-CN.ts';

interface Q {
  id: string;
  text: string;
  displayName: string;
  stage: { label: string } | string;
  subject: { label: string } | string;
}

const label = (v: { label: string } | string): string => (typeof v === 'string' ? v : v.label);

/** Open questions of the teacher's stage and subject, each with an answer box. */
export function TeachQuestions() {
  const qs = useApi(() => staff<{ items: Q[] }>('staffQuestions'), []);
  if (qs.error) return <ErrorNote message={qs.error.message} onRetry={qs.reload} />;
  if (!qs.data) return <p class="muted">{t.loading}</p>;
  if (!qs.data.items.length) return <p class="muted">{ct.noQuestions}</p>;
  return <ul class="item-list">{qs.data.items.map((q) => <Question key={q.id} q={q} onDone={qs.reload} />)}</ul>;
}

function Question({ q, onDone }: { q: Q; onDone: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const text = String(new FormData(e.currentTarget as HTMLFormElement).get('text') ?? '');
    try {
      await staff('answer', { params: { id: q.id }, body: { text } });
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  return (
    <li class="item">
      <p class="note">{label(q.stage)} · {label(q.subject)} · {q.displayName}</p>
      <p class="lesson__description">{q.text}</p>
      {error && <ErrorNote message={error} />}
      <form class="form" onSubmit={submit}>
        <label class="field"><span>{ct.answer}</span><textarea name="text" required placeholder={ct.answerPlaceholder} /></label>
        <button type="submit" class="button button--small">{ct.send}</button>
      </form>
    </li>
  );
}
