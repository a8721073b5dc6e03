import type { Queryable } from './db.ts';
import type { Stage } from '../domain/types.ts';

/** A school's id, name and district, by its code. */
export async function findSchoolByCode(q: Queryable, code: string): Promise<{ id: string; name: string; districtId: string } | undefined> {
  const rows = await q.query<{ id: string; name: string; district_id: string }>('SELECT id, name, district_id FROM schools WHERE code = $1', [code]);
  return rows[0] && { id: rows[0].id, name: rows[0].name, districtId: rows[0].district_id };
}

/** A district by its code. */
export async function findDistrictByCode(q: Queryable, code: string): Promise<{ id: string; code: string; name: string } | undefined> {
  return (await q.query<{ id: string; code: string; name: string }>('SELECT id, code, name FROM districts WHERE code = $1', [code]))[0];
}

export interface SchoolRecord {
  id: string;
  code: string;
  name: string;
  stage: Stage;
  district: { id: string; code: string; name: string };
}

export async function districtCodeTaken(q: Queryable, code: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM districts WHERE code = $1', [code])).length > 0;
}

export async function schoolCodeTaken(q: Queryable, code: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM schools WHERE code = $1', [code])).length > 0;
}

export async function insertDistrict(q: Queryable, d: { id: string; code: string; name: string }): Promise<void> {
  await q.query('INSERT INTO districts (id, code, name) VALUES ($1, $2, $3)', [d.id, d.code, d.name]);
}

export async function insertSchool(q: Queryable, s: { id: string; code: string; name: string; districtId: string; stage: string }): Promise<void> {
  await q.query('INSERT INTO schools (id, code, name, district_id, stage) VALUES ($1, $2, $3, $4, $5)', [s.id, s.code, s.name, s.districtId, s.stage]);
}

/** Whether the school is disabled (undefined: no such school), holding its row until the transaction ends. */
export async function lockSchoolDisabled(q: Queryable, schoolId: string): Promise<boolean | undefined> {
  return (await q.query<{ disabled: boolean }>('SELECT disabled FROM schools WHERE id = $1 FOR UPDATE', [schoolId]))[0]?.disabled;
}

export async function setSchoolDisabled(q: Queryable, schoolId: string, disabled: boolean): Promise<void> {
  await q.query('UPDATE schools SET disabled = $2 WHERE id = $1', [schoolId, disabled]);
}

interface SchoolJoinRow { id: string; code: string; name: string; stage: Stage; d_id: string; d_code: string; d_name: string }
const toSchool = (r: SchoolJoinRow): SchoolRecord => ({ id: r.id, code: r.code, name: r.name, stage: r.stage, district: { id: r.d_id, code: r.d_code, name: r.d_name } });

/** Every school with its district, by code. */
export async function listSchools(q: Queryable): Promise<SchoolRecord[]> {
  const rows = await q.query<SchoolJoinRow>(
    'SELECT s.id, s.code, s.name, s.stage, d.id d_id, d.code d_code, d.name d_name FROM schools s JOIN districts d ON d.id = s.district_id ORDER BY s.code',
  );
  return rows.map(toSchool);
}

/** Every school with its district, whether it is disabled and how many users it has, by code. */
export async function listSchoolsWithHeadCount(q: Queryable): Promise<(SchoolRecord & { disabled: boolean; users: number })[]> {
  const rows = await q.query<SchoolJoinRow & { disabled: boolean; users: number }>(
    `SELECT s.id, s.code, s.name, s.stage, s.disabled, d.id d_id, d.code d_code, d.name d_name,
            (SELECT count(*)::int FROM users u WHERE u.school_id = s.id) users
     FROM schools s JOIN districts d ON d.id = s.district_id ORDER BY s.code`,
  );
  return rows.map((r) => ({ ...toSchool(r), disabled: r.disabled, users: Number(r.users) }));
}
