import type { Principal } from './types.ts';

/** A timetable is a week of one school or of one district. */
export type TimetableScope = 'school' | 'district';

/** Whose timetable: its scope, school (school scope) and district. */
export interface TimetableOwner {
  scope: TimetableScope;
  school_id: string | null;
  district_id: string;
}

/** Which timetables someone may read, as a repository filters them. */
export type TimetableVisibility =
  | { kind: 'all' }
  | { kind: 'district'; districtId: string | null }
  | { kind: 'school'; schoolId: string | null; districtId: string | null }
  | { kind: 'none' };

/**
 * Readers: operators and admins all; a district admin their district's; teachers and reviewers their
 * school's and their district's.
 */
export function canReadTimetable(actor: Principal, t: TimetableOwner): boolean {
  switch (actor.role) {
    case 'admin':
    case 'operator':
      return true;
    case 'district_admin':
      return Boolean(actor.districtId) && actor.districtId === t.district_id;
    case 'teacher':
    case 'reviewer':
      return t.scope === 'school' ? actor.schoolId === t.school_id : Boolean(actor.districtId) && actor.districtId === t.district_id;
    default:
      return false;
  }
}

/** Editors: school timetables by the school's reviewers, the district admin and admins; district ones by the district admin and admins. */
export function canEditTimetable(actor: Principal, t: TimetableOwner): boolean {
  switch (actor.role) {
    case 'admin':
      return true;
    case 'district_admin':
      return Boolean(actor.districtId) && actor.districtId === t.district_id;
    case 'reviewer':
      return t.scope === 'school' && actor.schoolId === t.school_id;
    default:
      return false;
  }
}

/** canReadTimetable as a filter over many timetables. */
export function timetableVisibility(actor: Principal): TimetableVisibility {
  switch (actor.role) {
    case 'admin':
    case 'operator':
      return { kind: 'all' };
    case 'district_admin':
      return { kind: 'district', districtId: actor.districtId };
    case 'teacher':
    case 'reviewer':
      return { kind: 'school', schoolId: actor.schoolId, districtId: actor.districtId };
    default:
      return { kind: 'none' };
  }
}
