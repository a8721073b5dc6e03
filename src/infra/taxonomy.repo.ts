import type { Queryable } from './db.ts';
import type { TaxonomySeedItem } from '../domain/taxonomy-seed.ts';

/** Every taxonomy item with its kind, in each kind's display order. */
export async function listTaxonomyItems(q: Queryable): Promise<{ kind: string; item: TaxonomySeedItem }[]> {
  const rows = await q.query<{ kind: string; code: string; label: string; stage: string | null; parent: string | null }>(
    'SELECT kind, code, label, stage, parent FROM taxonomy ORDER BY kind, sort, code',
  );
  return rows.map((r) => {
    const item: TaxonomySeedItem = { code: r.code, label: r.label };
    if (r.stage) item.stage = r.stage;
    if (r.parent) item.parent = r.parent;
    return { kind: r.kind, item };
  });
}

/** Inserts an item at position `sort` of its kind; `ifAbsent` leaves an existing code alone instead of failing. */
export async function insertTaxonomyItem(q: Queryable, kind: string, item: TaxonomySeedItem, sort: number, ifAbsent = false): Promise<void> {
  await q.query(
    `INSERT INTO taxonomy (kind, code, label, stage, parent, sort) VALUES ($1, $2, $3, $4, $5, $6)${ifAbsent ? ' ON CONFLICT (kind, code) DO NOTHING' : ''}`,
    [kind, item.code, item.label, item.stage ?? null, item.parent ?? null, sort],
  );
}

/** The position after the last item of a kind (1 for an empty kind). */
export async function nextTaxonomySort(q: Queryable, kind: string): Promise<number> {
  const max = await q.query<{ m: number | null }>('SELECT max(sort) m FROM taxonomy WHERE kind = $1', [kind]);
  return (max[0]?.m ?? 0) + 1;
}
