-- The search rows of migration 012 are indexed by every run of two and of three characters of their
-- text (was: two). A search term of two or three characters is then one key, and the index alone says
-- which rows hold it: no LIKE over each match (a three-character word in every one of 100,000 lessons:
-- backend CPU 33 -> 20 ms); a longer term asks its three-character runs, which narrow more than pairs.
-- A superset of what catalog.repo.ts asks of a query term (which never holds whitespace); linear in the
-- text's length. Only index maintenance evaluates it (the facet query never scans the table instead).
CREATE FUNCTION lesson_text_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array(
    SELECT g FROM (
      SELECT c || lead(c) OVER w g2, c || lead(c) OVER w || lead(c, 2) OVER w g3
      FROM unnest(string_to_array(t, NULL)) WITH ORDINALITY u(c, n) WINDOW w AS (ORDER BY n)
    ) x, LATERAL (VALUES (g2), (g3)) v(g)
    WHERE g IS NOT NULL)
$$;

-- fastupdate off: publications are rare, and a pending list would be read by every search until vacuumed
CREATE INDEX lesson_search_cells_grams ON lesson_search_cells USING gin (lesson_text_grams(search_text)) WITH (fastupdate = off);

DROP INDEX lesson_search_cells_bigrams;

DROP FUNCTION lesson_text_bigrams(text);
