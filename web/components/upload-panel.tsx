import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { unfinishedUpload, uploadLesson, type UploadProgress } from '../lib/resumable-upload.ts';
import { ErrorNote } from './error-note.tsx';
import { ct, t } from '../i18n/zh-CN.ts';

/** Upload with a progress bar; resumes an upload of the same file left by a dropped connection or a closed tab. */
export function UploadPanel({ lessonId, onDone }: { lessonId: string; onDone: () => void }) {
  const [p, setP] = useState<UploadProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const ac = useRef<AbortController | null>(null);
  const left = unfinishedUpload(lessonId);
  useEffect(() => () => ac.current?.abort(), []);
  const pick = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    ac.current = new AbortController();
    setError(null);
    setDone(false);
    try {
      await uploadLesson(lessonId, file, setP, ac.current.signal);
      setDone(true);
      onDone();
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  const pct = p ? Math.floor((p.sent / p.total) * 100) : 0;
  return (
    <div class="upload">
      {left && !p && <p class="note">{ct.uploadAskFile(left.name)}</p>}
      <label class="field">
        <span>{ct.chooseFile}</span>
        <input type="file" name="media" accept="video/*,audio/*,.mp4,.mov,.mkv,.flv,.ts" onChange={pick} disabled={Boolean(p && !done && !error)} />
      </label>
      {p && !done && (
        <div role="status" aria-live="polite">
          <progress class="progress" max={100} value={pct} aria-label={ct.upload} />
          <p class="note">{p.waitingForNetwork ? ct.uploadRetrying : ct.uploading(pct)}{p.resumed ? ` ${ct.uploadResumed}` : ''}</p>
        </div>
      )}
      {done && <p class="note" role="status">{ct.uploadDone}</p>}
      {error && <ErrorNote message={error} />}
    </div>
  );
}
