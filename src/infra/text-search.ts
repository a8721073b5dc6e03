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

/** Which GIN-indexed bigrams of a row a search asks. */
export interface BigramIndex {
  /** the expression of the row's bigrams (by default its `search_bigrams` column) */
  bigrams?: string;
  /**
   * the expression holds every pair of characters of the row's text: a term of exactly two
   * characters is then in the text exactly when its one bigram is, and needs no LIKE
   */
  everyPair?: boolean;
}

/**
 * Adds the conditions of query `q` on the row alias `alias` to `where`, their values to `params`.
 * Returns whether the conditions ask the index (a term of one character cannot).
 */
export function textSearchWhere(alias: string, q: string | undefined, where: string[], params: unknown[], index: BigramIndex = {}): boolean {
  if (!q?.trim()) return false;
  const keys = new Set<string>();
  for (const term of q.trim().toLowerCase().split(/\s+/).slice(0, 5)) {
    const bigrams = searchBigrams(term);
    for (const b of bigrams) keys.add(b);
    if (index.everyPair && Array.from(term).length === 2) continue;
    params.push(`%${likeEscape(term)}%`);
    where.push(`${alias}.search_text LIKE $${params.length}`);
  }
  if (!keys.size) return false;
  // the GIN index narrows to rows holding every bigram; LIKE above keeps the result exact
  params.push([...keys]);
  where.push(`${index.bigrams ?? `${alias}.search_bigrams`} @> $${params.length}::text[]`);
  return true;
}
