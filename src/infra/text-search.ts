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

/**
 * Adds the conditions of query `q` on the row alias `alias` to `where`, their values to `params`;
 * `bigrams` is the GIN-indexed expression of the row's bigrams (by default its `search_bigrams`).
 * Returns whether the conditions ask the index (a term of one character cannot).
 */
export function textSearchWhere(alias: string, q: string | undefined, where: string[], params: unknown[], bigrams = `${alias}.search_bigrams`): boolean {
  if (!q?.trim()) return false;
  const keys = new Set<string>();
  for (const term of q.trim().toLowerCase().split(/\s+/).slice(0, 5)) {
    params.push(`%${likeEscape(term)}%`);
    where.push(`${alias}.search_text LIKE $${params.length}`);
    for (const b of searchBigrams(term)) keys.add(b);
  }
  if (!keys.size) return false;
  // the GIN index narrows to rows holding every bigram; LIKE above keeps the result exact
  params.push([...keys]);
  where.push(`${bigrams} @> $${params.length}::text[]`);
  return true;
}
