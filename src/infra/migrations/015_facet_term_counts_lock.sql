-- A term's counts (migration 014) are first counted under SHARE on lesson_search_cells rather than in
-- a second count under EXCLUSIVE on lesson_search_terms, so the search that finds a term in many lessons
-- counts once (学习 at 100,000 lessons: its first search paid two counts, 100 ms on a busy machine).
-- Writers of search rows hold ROW EXCLUSIVE on lesson_search_cells from their change to their commit,
-- which conflicts with SHARE, and the trigger reads the kept terms in a statement after that change (READ
-- COMMITTED: a fresh snapshot): a writer either committed before a term's first count (which sees its
-- rows) or reads the term and counts its own rows. The writers' ROW SHARE on lesson_search_terms is no
-- longer needed: nothing takes EXCLUSIVE on it.
CREATE OR REPLACE FUNCTION lesson_term_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
