import { t } from '../i18n/zh-CN.ts';

export interface FacetOption {
  code: string;
  label: string;
  count?: number;
}

/**
 * One filter dimension as a row of toggle buttons (全部 + each value with its count). Buttons with
 * aria-pressed: one tap on a phone, Tab and Enter on a keyboard.
 */
export function FacetGroup({ title, options, value, onChange }: { title: string; options: FacetOption[]; value: string | undefined; onChange: (code: string | undefined) => void }) {
  return (
    <div class="facet-group" role="group" aria-label={title}>
      <span class="facet-group__title" aria-hidden="true">{title}</span>
      <div class="facet-group__options">
        <button type="button" class="chip" aria-pressed={!value} onClick={() => onChange(undefined)}>{t.filterAll}</button>
        {options.map((o) => (
          <button type="button" class="chip" aria-pressed={value === o.code} onClick={() => onChange(value === o.code ? undefined : o.code)}>
            {o.label}
            {o.count !== undefined && <span class="chip__count">{o.count}</span>}
          </button>
        ))}
      </div>
    </div>
  );
}
