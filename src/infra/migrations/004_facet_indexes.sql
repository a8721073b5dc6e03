-- public catalog filters: a (column, date) index per facet column serves one-filter lists in order;
-- combinations go through bitmap AND of these and a top-N sort (see LessonsService.listPublic)
CREATE INDEX lessons_public_grade ON lessons (grade, portal_published_at DESC) WHERE portal_published_at IS NOT NULL;
CREATE INDEX lessons_public_type ON lessons (type, portal_published_at DESC) WHERE portal_published_at IS NOT NULL;
CREATE INDEX lessons_public_edition ON lessons (edition, portal_published_at DESC) WHERE portal_published_at IS NOT NULL;
