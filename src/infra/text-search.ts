/**
 * The one text search of the catalog and the Q&A (Chinese has no word boundaries): rows keep a
 * lower-cased `search_text` and its set of bigrams `search_bigrams` (GIN-indexed); a query of up to five
 * terms matches rows whose text holds every term as a substring, the bigrams narrowing first.
 */

/** Escapes LIKE wildcards so a search for "100%" means the characters, not a pattern. */
export const likeEscape = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Every overlapping two-character sequence without whitespace: the GIN-indexed search key. */
export function searchBigrams(text: string): string[] {
  const chars = Array.from(text.toLowerCase());
  const out = new Set<string>();
  for (let i = 0; i + 1 < chars.length; i++) {
    const bg = chars[i] + chars[i + 1];
    if (!/\s/.test(bg)) out.add(bg);
  }
  return [...out];
}

/** Which GIN-indexed keys of a row a search asks. */
export interface SearchIndex {
  /** the expression of the row's keys (by default its `search_bigrams` column) */
  keys?: string;
  /**
   * the keys are every run of two and of three characters of the row's text: a term of two or three
   * characters is then one key, in the text exactly when the key is (no LIKE); a longer one asks its
   * runs of three
   */
  runsOf2And3?: boolean;
}

/** The terms of query `q` a search matches (every one as a substring): up to five, lower-cased. */
export function searchTerms(q: string | undefined): string[] {
  if (!q?.trim()) return [];
  return q.trim().toLowerCase().split(/\s+/).slice(0, 5);
}

/** What the index is asked for one query term, and whether that alone is exact. */
function termKeys(term: string, index: SearchIndex): { keys: string[]; exact: boolean } {
  if (!index.runsOf2And3) return { keys: searchBigrams(term), exact: false };
  const chars = Array.from(term);
  if (chars.length < 2) return { keys: [], exact: false };
  if (chars.length <= 3) return { keys: [term], exact: true };
  return { keys: chars.slice(2).map((c, i) => chars[i] + chars[i + 1] + c), exact: false };
}

/**
 * Adds the conditions of query `q` on the row alias `alias` to `where`, their values to `params`.
 * Returns whether the conditions ask the index (a term of one character cannot).
 */
export function textSearchWhere(alias: string, q: string | undefined, where: string[], params: unknown[], index: SearchIndex = {}): boolean {
  const terms = searchTerms(q);
  if (!terms.length) return false;
  const keys = new Set<string>();
  for (const term of terms) {
    const t = termKeys(term, index);
    for (const k of t.keys) keys.add(k);
    if (t.exact) continue;
    params.push(`%${likeEscape(term)}%`);
    where.push(`${alias}.search_text LIKE $${params.length}`);
  }
  if (!keys.size) return false;
  // the GIN index narrows to rows holding every key; LIKE above keeps the result exact
  params.push([...keys]);
  where.push(`${index.keys ?? `${alias}.search_bigrams`} @> $${params.length}::text[]`);
  return true;
}
