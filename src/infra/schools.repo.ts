import type { Queryable } from './db.ts';

/** A school's id and its district, by its code. */
export async function findSchoolByCode(q: Queryable, code: string): Promise<{ id: string; districtId: string } | undefined> {
  const rows = await q.query<{ id: string; district_id: string }>('SELECT id, district_id FROM schools WHERE code = $1', [code]);
  return rows[0] && { id: rows[0].id, districtId: rows[0].district_id };
}

/** A district by its code. */
export async function findDistrictByCode(q: Queryable, code: string): Promise<{ id: string; code: string; name: string } | undefined> {
  return (await q.query<{ id: string; code: string; name: string }>('SELECT id, code, name FROM districts WHERE code = $1', [code]))[0];
}
