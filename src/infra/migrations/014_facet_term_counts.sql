-- Facets of a search for a word in most lessons read every matching search row of migration 012:
-- 学习, in each of 100,000 lessons, is 100,000 rows to fetch and group (20-25 ms of backend time), however
-- the index finds them. So the database also keeps, for the terms searched that matched many lessons,
-- the number of published lessons holding the term per taxonomy combination: such a search then reads a
-- few hundred counts. catalog.repo.ts decides which terms are kept (one term, found in many lessons);
-- statement triggers on lesson_search_cells keep their counts from then on, like migration 011's.

CREATE TABLE lesson_search_terms (
  term text PRIMARY KEY,
  kept_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE lesson_term_counts (
  term text NOT NULL REFERENCES lesson_search_terms ON DELETE CASCADE,
  cell integer NOT NULL,
  n integer NOT NULL,
  PRIMARY KEY (term, cell)
);

-- A row holds a kept term exactly when its text has the term as a substring: a term never holds
-- whitespace, and search texts are lower-cased like terms, so strpos says what the search rows' index
-- and LIKE say. A term's first counts are taken under SHARE on lesson_search_cells (catalog.repo.ts).
-- Writers of search rows hold ROW EXCLUSIVE on that table from their change to their commit, which
-- conflicts with SHARE, and this trigger reads the kept terms in a statement after that change (READ
-- COMMITTED: a fresh snapshot): a writer either committed before a term's first count (which sees its
-- rows) or reads the term here and counts its own rows. Order by key, as 011 does, so that concurrent
-- publications lock counts in the same order.
CREATE FUNCTION lesson_term_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO lesson_term_counts AS c (term, cell, n)
    SELECT t.term, r.cell, count(*) FROM new_rows r JOIN lesson_search_terms t ON strpos(r.search_text, t.term) > 0
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (term, cell) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO lesson_term_counts AS c (term, cell, n)
    SELECT t.term, r.cell, -count(*) FROM old_rows r JOIN lesson_search_terms t ON strpos(r.search_text, t.term) > 0
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (term, cell) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO lesson_term_counts AS c (term, cell, n)
    SELECT t.term, r.cell, sum(r.d) FROM (
      SELECT cell, search_text, 1 d FROM new_rows
      UNION ALL
      SELECT cell, search_text, -1 d FROM old_rows
    ) r JOIN lesson_search_terms t ON strpos(r.search_text, t.term) > 0
    GROUP BY 1, 2 HAVING sum(r.d) <> 0 ORDER BY 1, 2
    ON CONFLICT (term, cell) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER lesson_term_counts_insert AFTER INSERT ON lesson_search_cells REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lesson_term_counts_apply();

CREATE TRIGGER lesson_term_counts_update AFTER UPDATE ON lesson_search_cells REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lesson_term_counts_apply();

CREATE TRIGGER lesson_term_counts_delete AFTER DELETE ON lesson_search_cells REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lesson_term_counts_apply();
