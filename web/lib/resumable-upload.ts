import { ApiError, messageFor } from '../api/client.ts';
import { csrfHeader, staff } from '../api/staff-client.ts';
import { t } from '../i18n/zh-CN.ts';

/**
 * The teacher's upload over the resumable multipart API (POST /uploads -> PUT parts -> complete).
 * The open upload is remembered in localStorage under the lesson and the file (name, size, date), so a
 * dropped connection, a reload or a closed tab resumes from the parts the server already has (it says
 * which: GET /uploads/{id}); while offline it waits for the browser to come back online.
 */
interface Saved {
  uploadId: string;
  name: string;
  size: number;
}

interface UploadView {
  uploadId: string;
  state: string;
  size: number;
  partSize: number;
  partCount: number;
  received: { partNumber: number; bytes: number }[];
  missing: number[];
}

const keyOf = (lessonId: string, f: { name: string; size: number; lastModified: number }): string => `classcast:upload:${lessonId}:${f.name}:${f.size}:${f.lastModified}`;

/** An unfinished upload of this lesson from an earlier visit (for "choose the same file again"). */
export function unfinishedUpload(lessonId: string): Saved | undefined {
  for (let i = 0; i < localStorage.length; i++) {
    const k = localStorage.key(i);
    if (k?.startsWith(`classcast:upload:${lessonId}:`)) {
      try {
        return JSON.parse(localStorage.getItem(k) ?? '') as Saved;
      } catch {
        localStorage.removeItem(k);
      }
    }
  }
  return undefined;
}

export interface UploadProgress {
  sent: number;
  total: number;
  resumed: boolean;
  waitingForNetwork: boolean;
}

/** Sends one part with upload progress (fetch has none); rejects on a network failure. */
function putPart(url: string, blob: Blob, onBytes: (n: number) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    for (const [k, v] of Object.entries(csrfHeader())) x.setRequestHeader(k, v);
    x.setRequestHeader('content-type', 'application/octet-stream');
    x.upload.onprogress = (e) => onBytes(e.loaded);
    x.onload = () => {
      if (x.status >= 200 && x.status < 300) return resolve();
      let code = 'internal_error';
      try {
        code = (JSON.parse(x.responseText) as { code?: string }).code ?? code;
      } catch {
        /* not a problem document */
      }
      reject(new ApiError(x.status, code as never, messageFor(code, x.status)));
    };
    x.onerror = () => reject(new ApiError(0, 'network_error', t.networkError));
    x.onabort = () => reject(new DOMException('aborted', 'AbortError'));
    signal.addEventListener('abort', () => x.abort(), { once: true });
    x.send(blob);
  });
}

const online = (): Promise<void> =>
  navigator.onLine ? new Promise((r) => setTimeout(r, 1500)) : new Promise((r) => window.addEventListener('online', () => r(), { once: true }));

/** Uploads `file` to the lesson, resuming a remembered upload of the same file; resolves when processing was queued. */
export async function uploadLesson(lessonId: string, file: File, onProgress: (p: UploadProgress) => void, signal: AbortSignal): Promise<void> {
  const key = keyOf(lessonId, file);
  let view: UploadView | undefined;
  let resumed = false;
  const saved = localStorage.getItem(key);
  if (saved) {
    try {
      const s = JSON.parse(saved) as Saved;
      view = await staff<UploadView>('uploadState', { params: { id: lessonId, uploadId: s.uploadId } });
      if (view.state !== 'open') view = undefined;
      else resumed = true;
    } catch {
      view = undefined;
    }
  }
  if (!view) {
    view = await staff<UploadView>('startUpload', { params: { id: lessonId }, body: { filename: file.name, size: file.size, contentType: file.type || undefined } });
    localStorage.setItem(key, JSON.stringify({ uploadId: view.uploadId, name: file.name, size: file.size } satisfies Saved));
  }
  const v = view;
  let done = v.received.reduce((n, p) => n + p.bytes, 0);
  const report = (extra = 0, waiting = false) => onProgress({ sent: Math.min(file.size, done + extra), total: file.size, resumed, waitingForNetwork: waiting });
  report();
  for (const part of v.missing) {
    const start = (part - 1) * v.partSize;
    const blob = file.slice(start, Math.min(file.size, start + v.partSize));
    for (;;) {
      if (signal.aborted) throw new DOMException('aborted', 'AbortError');
      try {
        await putPart(`/api/v1/lessons/${encodeURIComponent(lessonId)}/uploads/${encodeURIComponent(v.uploadId)}/parts/${part}`, blob, (n) => report(n), signal);
        break;
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 0) throw err;
        // a dropped connection: wait for the network and send this part again
        report(0, true);
        await online();
      }
    }
    done += blob.size;
    report();
  }
  for (;;) {
    try {
      await staff('completeUpload', { params: { id: lessonId, uploadId: v.uploadId } });
      break;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 0) throw err;
      report(0, true);
      await online();
    }
  }
  localStorage.removeItem(key);
}
