import { useState } from 'preact/hooks';
import { t } from '../i18n/zh-CN.ts';
import { Icon } from './icon.tsx';

/** A search form; `onSearch` gets the trimmed words. */
export function SearchBox({ initial = '', label = t.searchLabel, placeholder = t.searchPlaceholder, onSearch }: { initial?: string; label?: string; placeholder?: string; onSearch: (q: string) => void }) {
  const [q, setQ] = useState(initial);
  return (
    <form
      class="search-box"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(q.trim());
      }}
    >
      <label class="visually-hidden" for="search-q">{label}</label>
      <input id="search-q" type="search" enterKeyHint="search" maxLength={100} value={q} placeholder={placeholder} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} />
      <button type="submit" class="button">
        <Icon name="search" />
        <span>{t.searchButton}</span>
      </button>
    </form>
  );
}
