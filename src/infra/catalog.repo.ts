import type { Db, Queryable } from './db.ts';
import { afterCursorWhere } from './cursor.ts';
import { searchTerms, textSearchWhere } from './text-search.ts';
import type { LessonRow } from '../domain/types.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';

/** A lesson with what its listings show beside it: school, teacher and the listed version's length. */
export type CatalogRow = LessonRow & { school_name: string; school_code: string; teacher_name: string; duration_s: number | null };

/** The five taxonomy columns the catalog filters on. */
export const catalogDimensions = ['stage', 'grade', 'subject', 'type', 'edition'] as const;
export type CatalogDimension = (typeof catalogDimensions)[number];

/** What the public catalog is filtered by: the accepted codes per dimension (all when missing) and a text search. */
export interface CatalogFilter {
  codes: Partial<Record<CatalogDimension, string[]>>;
  text?: string;
}

/** Lesson columns a response needs (never the search columns: their arrays cost time to parse). */
const lessonCols = ['id', 'title', 'description', 'kind', 'school_id', 'teacher_id', 'stage', 'grade', 'subject', 'type', 'edition', 'status', 'status_reason', 'scheduled_start', 'scheduled_end', 'current_asset_id', 'approved_asset_id', 'portal_published_at', 'portal_asset_id', 'created_at', 'updated_at']
  .map((c) => `l.${c}`)
  .join(', ');
const listed = `${lessonCols}, s.name school_name, s.code school_code, u.display_name teacher_name`;

/** How many of the newest lessons a filtered search walks before asking the search index. */
const searchWalkRows = 2000;

/**
 * A page of the public catalog (lessons published on the portal), newest first, after `cursor`: up to
 * `limit + 1` rows (one more says there is a next page).
 */
export async function publishedLessonsPage(q: Queryable, f: CatalogFilter, cursor: string | undefined, limit: number): Promise<CatalogRow[]> {
  const where = ['l.portal_published_at IS NOT NULL'];
  const params: unknown[] = [];
  for (const dim of catalogDimensions) {
    const codes = f.codes[dim];
    if (!codes) continue;
    params.push(codes);
    where.push(`l.${dim} = ANY($${params.length})`);
  }
  textSearchWhere('l', f.text, where, params);
  const published = where.length;
  afterCursorWhere(cursor, { at: 'l.portal_published_at', id: 'l.id' }, 'desc', where, params);
  const afterCursor = where.slice(published);
  params.push(limit + 1);
  const pageOf = (from: string, filtered: boolean) => q.query<CatalogRow>(
    `SELECT ${listed}, a.duration_s
     FROM ${from} JOIN schools s ON s.id = l.school_id JOIN users u ON u.id = l.teacher_id LEFT JOIN assets a ON a.id = l.portal_asset_id
     ${filtered ? '' : `WHERE ${where.join(' AND ')}`}
     ORDER BY l.portal_published_at DESC, l.id DESC LIMIT $${params.length}`,
    params,
  );
  // With one filter (or none) the (column, date) indexes give rows in order. With several, a rare
  // combination would make that walk the whole index: OFFSET 0 keeps the filtered set a subquery,
  // so the planner combines indexes first and sorts only what matched.
  const taxonomyDims = catalogDimensions.filter((k) => f.codes[k]).length;
  const searching = Boolean(f.text?.trim());
  let walk = searching && taxonomyDims >= 1;
  if (!searching && taxonomyDims >= 2) {
    // ... but they still read a lesson per match of the most selective column (6,250 pages for
    // subject=math of 100,000: 9 ms) even when the combination has no lesson, or so many that the
    // newest lessons hold a page. The counts of migration 011 say how many it has: with none, no lesson
    // is read; with enough that the newest `searchWalkRows` should hold a page, they are tried first,
    // as for a search below.
    const cellParams: unknown[] = [];
    const cell = catalogDimensions.filter((k) => f.codes[k]).map((k) => { cellParams.push(f.codes[k]); return `${k} = ANY($${cellParams.length})`; });
    const [{ n, total }] = await q.query<{ n: number; total: number }>(
      `SELECT coalesce(sum(n) FILTER (WHERE ${cell.join(' AND ')}), 0)::int n, coalesce(sum(n), 0)::int total FROM lesson_facet_counts`,
      cellParams,
    );
    if (n === 0) return [];
    walk = n * searchWalkRows >= (limit + 1) * total;
  }
  if (walk) {
    // A search for a common word with a filter matches thousands, and sorting those costs more than
    // walking the newest lessons until a page is found; the planner takes a search's bigrams as
    // independent and cannot tell the two apart. So the newest `searchWalkRows` lessons are tried
    // first: when they hold a whole page it is the page (the first matches in order); otherwise the
    // indexes answer.
    const stretch = ['l.portal_published_at IS NOT NULL', ...afterCursor];
    const walked = await pageOf(`(SELECT * FROM (SELECT * FROM lessons l WHERE ${stretch.join(' AND ')} ORDER BY l.portal_published_at DESC, l.id DESC LIMIT ${searchWalkRows}) l WHERE ${where.join(' AND ')}) l`, true);
    if (walked.length > limit) return walked;
  }
  const fenced = taxonomyDims + (searching ? 1 : 0) >= 2;
  return pageOf(fenced ? `(SELECT * FROM lessons l WHERE ${where.join(' AND ')} OFFSET 0) l` : 'lessons l', fenced);
}

/** How many published lessons have one combination of the five taxonomy columns. */
export type FacetCell = Record<CatalogDimension, string> & { n: number };

/** Every combination among all published lessons, from the counts triggers keep (migration 011). */
export function publishedFacetCells(q: Queryable): Promise<FacetCell[]> {
  return q.query<FacetCell>('SELECT stage, grade, subject, type, edition, n FROM lesson_facet_counts WHERE n > 0');
}

/**
 * Published lessons a one-term search must match before the database keeps the term's counts (migration
 * 014): counting fewer search rows takes about a millisecond, while 100,000 take 20 ms and more.
 */
const keepTermFromLessons = 2000;
/** At most this many terms are kept: each costs every publication and edit a substring test. */
const keptTermsMax = 1000;

/**
 * Every combination among the published lessons matching a text search. A search of one term whose
 * counts the database keeps (migration 014) reads them. Any other is counted over the narrow rows
 * migration 012 keeps (a combination's number and the search text, indexed by its runs of two and
 * three characters, migration 013): a word in a fifth of the lessons reads a fifth of the pages lessons
 * would, and groups one integer; a term of two or three characters is one key, found by the index alone
 * (no LIKE). A one-term search found so in `keepTermFromLessons` lessons or more has its term's counts
 * kept from then on.
 */
export async function matchingFacetCells(db: Db, text: string): Promise<FacetCell[]> {
  const terms = searchTerms(text);
  const term = terms.length === 1 ? terms[0] : undefined;
  if (term) {
    const kept = await db.query<FacetCell & { n: number | null }>(
      `SELECT c.stage, c.grade, c.subject, c.type, c.edition, k.n
       FROM lesson_search_terms t LEFT JOIN (lesson_term_counts k JOIN lesson_facet_counts c ON c.cell = k.cell) ON k.term = t.term AND k.n > 0
       WHERE t.term = $1`,
      [term],
    );
    // one row without a count: kept, and in no published lesson now
    if (kept.length) return kept.filter((c): c is FacetCell => c.n !== null);
  }
  const where: string[] = [];
  const params: unknown[] = [];
  const indexed = textSearchWhere('s', text, where, params, { keys: 'lesson_text_grams(s.search_text)', runsOf2And3: true });
  const count = (q: Queryable) => q.query<FacetCell & { cell: number }>(
    `SELECT m.cell, c.stage, c.grade, c.subject, c.type, c.edition, m.n
     FROM (SELECT s.cell, count(*)::int n FROM lesson_search_cells s WHERE ${where.join(' AND ')} GROUP BY s.cell) m
     JOIN lesson_facet_counts c ON c.cell = m.cell`,
    params,
  );
  if (term) {
    // A one-term search is counted while no search row may change (SHARE holds their writers back;
    // searches still read), so that its counts can be kept from this very count: a writer committed
    // before it, or its next statement reads the kept term and counts its own rows (migration 014).
    // NOWAIT: while a writer has not committed, or (auto)vacuum works on the rows (its lock conflicts
    // with SHARE and it may hold it for seconds), the search is counted without the lock at once, not
    // kept, and a later one keeps it.
    try {
      return await db.tx(async (q) => {
        await matchingRowsPlan(q, indexed);
        await q.query('LOCK TABLE lesson_search_cells IN SHARE MODE NOWAIT');
        const cells = await count(q);
        if (cells.reduce((sum, c) => sum + c.n, 0) >= keepTermFromLessons) await keepTerm(q, term, cells);
        return cells;
      });
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
    }
  }
  return db.tx(async (q) => {
    await matchingRowsPlan(q, indexed);
    return count(q);
  });
}

/**
 * How the search rows are counted. The planner takes a search's keys as independent and may expect
 * most rows to match; it must still ask the index, as a scan would compute every row's keys, and group
 * by hash (sorting thousands of numbers to group them costs more). No parallel workers: the leader
 * builds the whole bitmap and the plan saved it no CPU (学习 at 100,000 lessons: 22 ms with a worker,
 * 19 without), while a busy machine made the wait for the worker double the time.
 */
async function matchingRowsPlan(q: Queryable, indexed: boolean): Promise<void> {
  await q.query(`SELECT set_config('enable_sort', 'off', true), set_config('enable_seqscan', $1, true), set_config('max_parallel_workers_per_gather', '0', true)`, [indexed ? 'off' : 'on']);
}

/** Keeps the counts of `term` from `cells`, counted while no search row could change (at most `keptTermsMax` terms). */
async function keepTerm(q: Queryable, term: string, cells: { cell: number; n: number }[]): Promise<void> {
  const added = await q.query(
    `INSERT INTO lesson_search_terms (term) SELECT $1 WHERE (SELECT count(*) FROM lesson_search_terms) < ${keptTermsMax} ON CONFLICT DO NOTHING RETURNING term`,
    [term],
  );
  if (!added.length) return;
  await q.query('INSERT INTO lesson_term_counts (term, cell, n) SELECT $1, u.cell, u.n FROM unnest($2::int[], $3::int[]) u(cell, n)', [term, cells.map((c) => c.cell), cells.map((c) => c.n)]);
}

/** A lesson the public may see (published on the portal, or live approved for air and not stopped), or undefined. */
export async function findPublicLesson(q: Queryable, lessonId: string): Promise<(CatalogRow & { on_air: boolean }) | undefined> {
  const rows = await q.query<CatalogRow & { on_air: boolean }>(
    `SELECT ${listed}, a.duration_s, (l.status = 'on_air') on_air
     FROM lessons l JOIN schools s ON s.id = l.school_id JOIN users u ON u.id = l.teacher_id LEFT JOIN assets a ON a.id = l.portal_asset_id
     WHERE l.id = $1 AND (l.portal_published_at IS NOT NULL
       OR (l.kind = 'live' AND l.status IN ('approved_for_air', 'on_air') AND l.live_stopped_at IS NULL))`,
    [lessonId],
  );
  return rows[0];
}

/** A lesson for staff, with the length of its published, else approved, else current version. */
export async function findStaffLesson(q: Queryable, lessonId: string): Promise<CatalogRow | undefined> {
  const rows = await q.query<CatalogRow>(
    `SELECT ${listed}, a.duration_s
     FROM lessons l JOIN schools s ON s.id = l.school_id JOIN users u ON u.id = l.teacher_id LEFT JOIN assets a ON a.id = coalesce(l.portal_asset_id, l.approved_asset_id, l.current_asset_id)
     WHERE l.id = $1`,
    [lessonId],
  );
  return rows[0];
}

/** A lesson with its school's district (who may see it), or undefined. */
export async function findLessonWithDistrict(q: Queryable, lessonId: string): Promise<(LessonRow & { district_id: string }) | undefined> {
  return (await q.query<LessonRow & { district_id: string }>(`SELECT ${lessonCols}, s.district_id FROM lessons l JOIN schools s ON s.id = l.school_id WHERE l.id = $1`, [lessonId]))[0];
}

/** Which lessons a staff listing covers: a teacher's, a school's, a district's, or all. */
export type StaffScope = { teacherId: string } | { schoolId: string | null } | { districtId: string | null } | 'all';

/** Lessons in a scope, optionally in some states, last changed first (no lengths: a listing does not show them). */
export async function staffLessons(q: Queryable, scope: StaffScope, statuses: LessonStatus[] | undefined, limit: number): Promise<CatalogRow[]> {
  const where: string[] = ['true'];
  const params: unknown[] = [];
  if (scope !== 'all') {
    const [col, v] = 'teacherId' in scope ? ['l.teacher_id', scope.teacherId] : 'schoolId' in scope ? ['l.school_id', scope.schoolId] : ['s.district_id', scope.districtId];
    params.push(v);
    where.push(`${col} = $${params.length}`);
  }
  if (statuses?.length) { params.push(statuses); where.push(`l.status = ANY($${params.length})`); }
  params.push(limit);
  return q.query<CatalogRow>(
    `SELECT ${listed}, NULL::float8 duration_s
     FROM lessons l JOIN schools s ON s.id = l.school_id JOIN users u ON u.id = l.teacher_id
     WHERE ${where.join(' AND ')} ORDER BY l.updated_at DESC, l.id DESC LIMIT $${params.length}`,
    params,
  );
}
