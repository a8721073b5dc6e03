import { useState } from 'preact/hooks';
import { ct } from '../i18n/zh-CN.ts';

/** A rejection always has a reason; the common ones are one tap away. */
export function RejectForm({ onReject }: { onReject: (reason: string) => void }) {
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const submit = (e: Event) => {
    e.preventDefault();
    if (!reason.trim()) return setMissing(true);
    onReject(reason.trim());
  };
  return (
    <form class="form" onSubmit={submit}>
      <div class="chips">
        {ct.commonReasons.map((r) => <button key={r} type="button" class="chip" aria-pressed={reason === r} onClick={() => { setReason(r); setMissing(false); }}>{r}</button>)}
      </div>
      <label class="field">
        <span>{ct.rejectReason}</span>
        <textarea name="reason" value={reason} required aria-invalid={missing} onInput={(e) => setReason((e.currentTarget as HTMLTextAreaElement).value)} />
      </label>
      {missing && <p class="advice" role="alert">{ct.rejectReasonRequired}</p>}
      <button type="submit" class="button button--small button--danger">{ct.reject}</button>
    </form>
  );
}
