import type { LessonStatus } from './lesson-state.ts';

export const roles = ['teacher', 'reviewer', 'operator', 'admin', 'district_admin', 'cable'] as const;
export type Role = (typeof roles)[number];
export const schoolRoles: Role[] = ['teacher', 'reviewer'];
export const cityRoles: Role[] = ['operator', 'admin'];

export const stages = ['primary', 'junior', 'senior', 'vocational'] as const;
export type Stage = (typeof stages)[number];

export const channels = ['portal', 'cable'] as const;
export type Channel = (typeof channels)[number];

/** A media version's processing state (assets.state). */
export const assetStates = ['uploading', 'queued', 'processing', 'ready', 'failed'] as const;
export type AssetState = (typeof assetStates)[number];

/** A lesson's state on one channel (publications.state). */
export const publicationStates = ['published', 'withdrawn'] as const;
export type PublicationState = (typeof publicationStates)[number];

/** A cable package: what it asks of the cable system (verb) and how far it got (state). */
export const cableVerbs = ['deliver', 'delete'] as const;
export type CableVerb = (typeof cableVerbs)[number];
export const cablePackageStates = ['packaging', 'delivered', 'failed', 'withdrawn'] as const;
export type CablePackageState = (typeof cablePackageStates)[number];

/** The authenticated staff member behind a request. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  schoolId: string | null;
  districtId: string | null;
}

export interface LessonRow {
  id: string;
  title: string;
  description: string;
  kind: 'recorded' | 'live';
  school_id: string;
  teacher_id: string;
  stage: string;
  grade: string;
  subject: string;
  type: string;
  edition: string;
  status: LessonStatus;
  status_reason: string | null;
  scheduled_start: Date | null;
  scheduled_end: Date | null;
  current_asset_id: string | null;
  approved_asset_id: string | null;
  portal_published_at: Date | null;
  portal_asset_id: string | null;
  live_stopped_at?: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface AssetRow {
  id: string;
  lesson_id: string;
  version: number;
  origin: 'upload' | 'live';
  state: AssetState;
  source_key: string | null;
  source_name: string | null;
  source_bytes: number | null;
  progress: number;
  error: string | null;
  /** Machine code of `error` (src/domain/processing-failures.ts). */
  error_code: string | null;
  duration_s: number | null;
  media: Record<string, unknown> | null;
  hls_root?: string | null;
  created_at: Date;
  updated_at: Date;
}
