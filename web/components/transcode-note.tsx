import { captureOnlyTeacherMessages, capacityText } from '../i18n/zh-CN.ts';

export interface TranscodeState {
  transcoded: boolean;
  reason: string | null;
  ahead: number | null;
}

/** Tells the teacher whether students get the ladder or only the original stream, and the true reason (live status `transcode`). */
export function TranscodeNote({ transcode }: { transcode: TranscodeState | null | undefined }) {
  if (!transcode) return null;
  if (transcode.transcoded) return <p class="note" data-testid="transcode-note">{capacityText.transcodedNote}</p>;
  const say = transcode.reason && Object.prototype.hasOwnProperty.call(captureOnlyTeacherMessages, transcode.reason)
    ? captureOnlyTeacherMessages[transcode.reason as keyof typeof captureOnlyTeacherMessages](transcode.ahead ?? 0)
    : capacityText.captureOnlyNote;
  return <p class="advice" data-testid="transcode-note">{say}</p>;
}
