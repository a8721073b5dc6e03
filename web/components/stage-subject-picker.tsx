import type { Taxonomy } from '../api/types.ts';
import { t } from '../i18n/zh-CN.ts';

/** 学段 then 学科 (subjects of other stages are not offered). `allowAll`: an empty choice means any. */
export function StageSubjectPicker({ tax, stage, subject, allowAll, idPrefix, onChange }: { tax: Taxonomy; stage?: string; subject?: string; allowAll: boolean; idPrefix: string; onChange: (v: { stage?: string; subject?: string }) => void }) {
  const subjects = tax.subjects.filter((s) => !s.stage || !stage || s.stage === stage);
  return (
    <div class="picker">
      <div class="field">
        <label for={`${idPrefix}-stage`}>{t.stage}</label>
        <select
          id={`${idPrefix}-stage`}
          value={stage ?? ''}
          required={!allowAll}
          onChange={(e) => {
            const s = (e.currentTarget as HTMLSelectElement).value || undefined;
            const keep = subject && tax.subjects.some((x) => x.code === subject && (!x.stage || x.stage === s));
            onChange({ stage: s, subject: keep ? subject : undefined });
          }}
        >
          <option value="">{allowAll ? t.filterAll : t.askChooseStage}</option>
          {tax.stages.map((s) => <option value={s.code}>{s.label}</option>)}
        </select>
      </div>
      <div class="field">
        <label for={`${idPrefix}-subject`}>{t.subject}</label>
        <select id={`${idPrefix}-subject`} value={subject ?? ''} required={!allowAll} onChange={(e) => onChange({ stage, subject: (e.currentTarget as HTMLSelectElement).value || undefined })}>
          <option value="">{allowAll ? t.filterAll : t.askChooseSubject}</option>
          {subjects.map((s) => <option value={s.code}>{s.label}</option>)}
        </select>
      </div>
    </div>
  );
}
