-- Chinese has no word boundaries: text search indexes every overlapping two-character sequence of
-- title + description (GIN on a text[]; needs no extension, works on PGlite too). A LIKE recheck
-- keeps results exact.
ALTER TABLE lessons ADD COLUMN search_bigrams text[] NOT NULL DEFAULT '{}';

UPDATE lessons SET search_bigrams = coalesce((
  SELECT array_agg(DISTINCT substr(search_text, i, 2))
  FROM generate_series(1, greatest(length(search_text) - 1, 0)) AS i
  WHERE substr(search_text, i, 2) !~ '\s'
), '{}');

CREATE INDEX lessons_public_bigrams ON lessons USING gin (search_bigrams) WHERE portal_published_at IS NOT NULL;
