import { useState } from 'preact/hooks';
import { api, ApiError } from '../api/client.ts';
import type { Taxonomy } from '../api/types.ts';
import { t } from '../i18n/zh-CN.ts';
import { shrinkImage } from '../lib/image-resize.ts';
import { StageSubjectPicker } from './stage-subject-picker.tsx';

/**
 * 我要提问: stage and subject (preselected when known), a name, the question and an optional photo.
 * The question stays hidden until a teacher answers it; the form says so.
 */
export function AskForm({ tax, stage: stage0, subject: subject0, lessonId, idPrefix = 'ask' }: { tax: Taxonomy; stage?: string; subject?: string; lessonId?: string; idPrefix?: string }) {
  const [sel, setSel] = useState<{ stage?: string; subject?: string }>({ stage: stage0, subject: subject0 });
  const [name, setName] = useState('');
  const [text, setText] = useState('');
  const [image, setImage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setError(null);
    if (!sel.stage) return setError(t.askChooseStage);
    if (!sel.subject) return setError(t.askChooseSubject);
    if (!name.trim()) return setError(t.askNameRequired);
    if (text.trim().length < 2) return setError(t.askTextTooShort);
    setBusy(true);
    try {
      // the lesson is named only while its own stage and subject are kept (the API checks they match)
      const sameAsLesson = lessonId && sel.stage === stage0 && sel.subject === subject0;
      await api.ask({ ...(sameAsLesson ? { lessonId } : { stage: sel.stage, subject: sel.subject }), displayName: name.trim(), text: text.trim(), images: image ? [image] : undefined });
      setSent(true);
      setText('');
      setImage(null);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'rate_limited' && err.retryAfterS) setError(t.askRateLimited(err.retryAfterS));
      else setError(err instanceof ApiError ? err.message : t.networkError);
    }
    setBusy(false);
  };
  return (
    <form class="ask-form" onSubmit={(e) => void submit(e)} aria-labelledby={`${idPrefix}-title`} noValidate>
      <h2 id={`${idPrefix}-title`}>{t.askTitle}</h2>
      <StageSubjectPicker tax={tax} stage={sel.stage} subject={sel.subject} allowAll={false} idPrefix={idPrefix} onChange={setSel} />
      <div class="field">
        <label for={`${idPrefix}-name`}>{t.askName}</label>
        <input id={`${idPrefix}-name`} type="text" maxLength={40} autoComplete="nickname" placeholder={t.askNameHint} value={name} onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
      </div>
      <div class="field">
        <label for={`${idPrefix}-text`}>{t.askText}</label>
        <textarea id={`${idPrefix}-text`} rows={4} maxLength={2000} placeholder={t.askTextHint} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      </div>
      <div class="field">
        <span class="field__title" aria-hidden="true">{t.askPicture}</span>
        {/* the browser's own file button speaks the browser's language: ours says it in Chinese */}
        <label class="button button--ghost file-pick">
          <input
            type="file"
            class="visually-hidden"
            accept="image/jpeg,image/png,image/webp"
            aria-label={t.askPicture}
            aria-describedby={`${idPrefix}-image-hint`}
            onChange={async (e) => {
              const input = e.currentTarget as HTMLInputElement;
              const file = input.files?.[0];
              if (!file) return setImage(null);
              try {
                const data = await shrinkImage(file);
                if (data.length > 2_700_000) throw new Error('large');
                setImage(data);
                setError(null);
              } catch (err) {
                setImage(null);
                setError((err as Error).message === 'large' ? t.askPictureTooLarge : t.askPictureUnreadable);
              }
              input.value = '';
            }}
          />
          {image ? t.askPictureChange : t.askPictureChoose}
        </label>
        <span class="hint" id={`${idPrefix}-image-hint`}>{t.askPictureHint}</span>
        {image && (
          <span class="ask-form__picked">
            <img class="ask-form__preview" src={image} alt="" />
            <button type="button" class="button button--ghost" onClick={() => setImage(null)}>{t.askPictureRemove}</button>
          </span>
        )}
      </div>
      {error && <p class="form-error" role="alert">{error}</p>}
      {sent && !error && <p class="form-ok" role="status">{t.askSent}</p>}
      <button type="submit" class="button" disabled={busy}>{busy ? t.askSending : t.askSubmit}</button>
    </form>
  );
}
