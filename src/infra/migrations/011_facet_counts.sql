-- Facet counts of the public catalog kept by the database itself: one row per combination of the five
-- taxonomy columns among lessons published on the portal (a few thousand rows at most, 720 for the
-- benchmark's 100,000 lessons), so facets without a text search read counts instead of scanning every
-- published lesson. Statement triggers on lessons add each statement's net change (transition tables),
-- whatever the statement (publish, withdraw, an accepted edit, a bulk insert), in key order so that
-- concurrent publications lock rows in the same order.
CREATE TABLE lesson_facet_counts (
  stage text NOT NULL,
  grade text NOT NULL,
  subject text NOT NULL,
  type text NOT NULL,
  edition text NOT NULL,
  n integer NOT NULL,
  PRIMARY KEY (stage, grade, subject, type, edition)
);

INSERT INTO lesson_facet_counts (stage, grade, subject, type, edition, n)
SELECT stage, grade, subject, type, edition, count(*) FROM lessons WHERE portal_published_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION lesson_facet_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO lesson_facet_counts AS c (stage, grade, subject, type, edition, n)
    SELECT stage, grade, subject, type, edition, count(*) FROM new_rows WHERE portal_published_at IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (stage, grade, subject, type, edition) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO lesson_facet_counts AS c (stage, grade, subject, type, edition, n)
    SELECT stage, grade, subject, type, edition, -count(*) FROM old_rows WHERE portal_published_at IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (stage, grade, subject, type, edition) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    -- most updates (status, timestamps) change no count: their +1 and -1 cancel and nothing is written
    INSERT INTO lesson_facet_counts AS c (stage, grade, subject, type, edition, n)
    SELECT stage, grade, subject, type, edition, sum(d) FROM (
      SELECT stage, grade, subject, type, edition, 1 d FROM new_rows WHERE portal_published_at IS NOT NULL
      UNION ALL
      SELECT stage, grade, subject, type, edition, -1 d FROM old_rows WHERE portal_published_at IS NOT NULL
    ) x GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (stage, grade, subject, type, edition) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER lesson_facet_counts_insert AFTER INSERT ON lessons REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lesson_facet_counts_apply();

CREATE TRIGGER lesson_facet_counts_update AFTER UPDATE ON lessons REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lesson_facet_counts_apply();

CREATE TRIGGER lesson_facet_counts_delete AFTER DELETE ON lessons REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lesson_facet_counts_apply();
