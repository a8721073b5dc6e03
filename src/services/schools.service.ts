import { randomUUID } from 'node:crypto';
import type { Db } from '../infra/db.ts';
import { ConflictError, InvalidError, NotFoundError } from '../domain/errors.ts';
import { stages, type Principal, type Stage } from '../domain/types.ts';
import { writeAudit } from '../infra/audit.repo.ts';

export interface School {
  id: string;
  code: string;
  name: string;
  stage: Stage;
  district: { id: string; code: string; name: string };
}

/** Districts and schools. */
export class SchoolsService {
  constructor(private readonly db: Db) {}

  async createDistrict(code: string, name: string, actor: Principal | string = 'cli'): Promise<{ id: string; code: string; name: string }> {
    if (!/^[a-z0-9_-]{2,40}$/.test(code)) throw new InvalidError('invalid_code', 'district code must be 2-40 lower-case letters, digits, "_" or "-"', [{ field: 'code', message: 'invalid' }]);
    const id = randomUUID();
    await this.db.tx(async (q) => {
      if ((await q.query('SELECT 1 FROM districts WHERE code = $1', [code])).length) throw new ConflictError('district_exists', `district ${code} already exists`);
      await q.query('INSERT INTO districts (id, code, name) VALUES ($1, $2, $3)', [id, code, name]);
      await writeAudit(q, { actor, entity: 'school', entityId: id, action: 'create_district' });
    });
    return { id, code, name };
  }

  async createSchool(input: { code: string; name: string; districtCode: string; stage: string }, actor: Principal | string = 'cli'): Promise<School> {
    if (!/^[a-z0-9_-]{2,40}$/.test(input.code)) throw new InvalidError('invalid_code', 'school code must be 2-40 lower-case letters, digits, "_" or "-"', [{ field: 'code', message: 'invalid' }]);
    if (!stages.includes(input.stage as Stage)) throw new InvalidError('validation_failed', `stage must be one of ${stages.join(', ')}`, [{ field: 'stage', message: 'invalid' }]);
    const d = (await this.db.query<{ id: string; code: string; name: string }>('SELECT id, code, name FROM districts WHERE code = $1', [input.districtCode]))[0];
    if (!d) throw new NotFoundError('district_not_found', `district ${input.districtCode} not found`);
    const id = randomUUID();
    await this.db.tx(async (q) => {
      if ((await q.query('SELECT 1 FROM schools WHERE code = $1', [input.code])).length) throw new ConflictError('school_exists', `school ${input.code} already exists`);
      await q.query('INSERT INTO schools (id, code, name, district_id, stage) VALUES ($1, $2, $3, $4, $5)', [id, input.code, input.name, d.id, input.stage]);
      await writeAudit(q, { actor, entity: 'school', entityId: id, action: 'create' });
    });
    return { id, code: input.code, name: input.name, stage: input.stage as Stage, district: d };
  }

  /** Creates a school, and its district first when that does not exist yet (as the CLI does). */
  async createSchoolInDistrict(input: { code: string; name: string; districtCode: string; districtName?: string; stage: string }, actor: Principal | string = 'cli'): Promise<School> {
    if (!(await this.db.query('SELECT 1 FROM districts WHERE code = $1', [input.districtCode])).length) {
      await this.createDistrict(input.districtCode, input.districtName ?? input.districtCode, actor);
    }
    return this.createSchool(input, actor);
  }

  /** Disables a school (its staff can no longer sign in; their tokens stop working) or enables it again. */
  async setDisabled(actor: Principal, schoolId: string, disabled: boolean): Promise<void> {
    await this.db.tx(async (q) => {
      const rows = await q.query<{ disabled: boolean }>('SELECT disabled FROM schools WHERE id = $1 FOR UPDATE', [schoolId]);
      if (!rows[0]) throw new NotFoundError('school_not_found', 'school not found');
      await q.query('UPDATE schools SET disabled = $2 WHERE id = $1', [schoolId, disabled]);
      await writeAudit(q, { actor, entity: 'school', entityId: schoolId, action: disabled ? 'disable' : 'enable', from: String(rows[0].disabled), to: String(disabled) });
    });
  }

  /** Every school with its state and head count, for the admin console. */
  async listForAdmin(): Promise<(School & { disabled: boolean; users: number })[]> {
    const rows = await this.db.query<{ id: string; code: string; name: string; stage: Stage; disabled: boolean; users: number; d_id: string; d_code: string; d_name: string }>(
      `SELECT s.id, s.code, s.name, s.stage, s.disabled, d.id d_id, d.code d_code, d.name d_name,
              (SELECT count(*)::int FROM users u WHERE u.school_id = s.id) users
       FROM schools s JOIN districts d ON d.id = s.district_id ORDER BY s.code`,
    );
    return rows.map((r) => ({ id: r.id, code: r.code, name: r.name, stage: r.stage, disabled: r.disabled, users: Number(r.users), district: { id: r.d_id, code: r.d_code, name: r.d_name } }));
  }

  async list(): Promise<School[]> {
    const rows = await this.db.query<{ id: string; code: string; name: string; stage: Stage; d_id: string; d_code: string; d_name: string }>(
      'SELECT s.id, s.code, s.name, s.stage, d.id d_id, d.code d_code, d.name d_name FROM schools s JOIN districts d ON d.id = s.district_id ORDER BY s.code',
    );
    return rows.map((r) => ({ id: r.id, code: r.code, name: r.name, stage: r.stage, district: { id: r.d_id, code: r.d_code, name: r.d_name } }));
  }
}
