import { randomUUID } from 'node:crypto';
import type { Db } from '../infra/db.ts';
import { ConflictError, InvalidError, NotFoundError } from '../domain/errors.ts';
import { stages, type Principal, type Stage } from '../domain/types.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import * as schools from '../infra/schools.repo.ts';
import type { SystemActor } from '../domain/audit-codes.ts';

export type School = schools.SchoolRecord;

/** Districts and schools. */
export class SchoolsService {
  constructor(private readonly db: Db) {}

  async createDistrict(code: string, name: string, actor: Principal | SystemActor = 'cli'): Promise<{ id: string; code: string; name: string }> {
    if (!/^[a-z0-9_-]{2,40}$/.test(code)) throw new InvalidError('invalid_code', 'district code must be 2-40 lower-case letters, digits, "_" or "-"', [{ field: 'code', message: 'invalid' }]);
    const id = randomUUID();
    await this.db.tx(async (q) => {
      if (await schools.districtCodeTaken(q, code)) throw new ConflictError('district_exists', `district ${code} already exists`);
      await schools.insertDistrict(q, { id, code, name });
      await writeAudit(q, { actor, entity: 'school', entityId: id, action: 'create_district' });
    });
    return { id, code, name };
  }

  async createSchool(input: { code: string; name: string; districtCode: string; stage: string }, actor: Principal | SystemActor = 'cli'): Promise<School> {
    if (!/^[a-z0-9_-]{2,40}$/.test(input.code)) throw new InvalidError('invalid_code', 'school code must be 2-40 lower-case letters, digits, "_" or "-"', [{ field: 'code', message: 'invalid' }]);
    if (!stages.includes(input.stage as Stage)) throw new InvalidError('validation_failed', `stage must be one of ${stages.join(', ')}`, [{ field: 'stage', message: 'invalid' }]);
    const d = await schools.findDistrictByCode(this.db, input.districtCode);
    if (!d) throw new NotFoundError('district_not_found', `district ${input.districtCode} not found`);
    const id = randomUUID();
    await this.db.tx(async (q) => {
      if (await schools.schoolCodeTaken(q, input.code)) throw new ConflictError('school_exists', `school ${input.code} already exists`);
      await schools.insertSchool(q, { id, code: input.code, name: input.name, districtId: d.id, stage: input.stage });
      await writeAudit(q, { actor, entity: 'school', entityId: id, action: 'create' });
    });
    return { id, code: input.code, name: input.name, stage: input.stage as Stage, district: d };
  }

  /** Creates a school, and its district first when that does not exist yet (as the CLI does). */
  async createSchoolInDistrict(input: { code: string; name: string; districtCode: string; districtName?: string; stage: string }, actor: Principal | SystemActor = 'cli'): Promise<School> {
    if (!(await schools.districtCodeTaken(this.db, input.districtCode))) {
      await this.createDistrict(input.districtCode, input.districtName ?? input.districtCode, actor);
    }
    return this.createSchool(input, actor);
  }

  /** Disables a school (its staff can no longer sign in; their tokens stop working) or enables it again. */
  async setDisabled(actor: Principal, schoolId: string, disabled: boolean): Promise<void> {
    await this.db.tx(async (q) => {
      const was = await schools.lockSchoolDisabled(q, schoolId);
      if (was === undefined) throw new NotFoundError('school_not_found', 'school not found');
      await schools.setSchoolDisabled(q, schoolId, disabled);
      await writeAudit(q, { actor, entity: 'school', entityId: schoolId, action: disabled ? 'disable' : 'enable', from: String(was), to: String(disabled) });
    });
  }

  /** Every school with its state and head count, for the admin console. */
  async listForAdmin(): Promise<(School & { disabled: boolean; users: number })[]> {
    return schools.listSchoolsWithHeadCount(this.db);
  }

  async list(): Promise<School[]> {
    return schools.listSchools(this.db);
  }
}
