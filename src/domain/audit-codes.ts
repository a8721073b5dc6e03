import { lessonEvents } from './lesson-state.ts';

/**
 * What the audit log records: the kinds of thing changed, the actions, and the actors that are not a
 * signed-in person. The consoles translate every code (web/i18n/zh-CN.ts, complete by construction);
 * add a code here first, then its Chinese label, or the writer does not compile.
 */
export const auditEntities = [
  'lesson',
  'asset',
  'publication',
  'user',
  'school',
  'taxonomy',
  'token',
  'live_session',
  'question',
  'answer',
  'timetable',
  'cable_package',
] as const;
export type AuditEntity = (typeof auditEntities)[number];

export const auditActions = [
  // a lesson's state changes are the state machine's events (lesson-state.ts); an asset's processing
  // result uses two of them too (processing_succeeded, processing_failed)
  ...lessonEvents,
  'create',
  'add', // a taxonomy item
  'edit',
  'edit_proposed', // an approved lesson's public text: waits for the reviewer
  'edit_withdrawn',
  'edit_approved',
  'edit_rejected',
  'upload_started',
  'upload_aborted',
  'new_version', // a publication moves to the newly approved version
  'live_key_created',
  'live_key_rotated',
  'live_stopped',
  'publisher_reconnected',
  'ended',
  'recording_from_capture',
  'recording_ready',
  'recording_failed',
  'deliver', // cable: a package of a new version
  'delete', // cable: a withdrawal package
  'delivered',
  'failed',
  'add_entry',
  'update_entry',
  'cancel_entry',
  'remove_entry',
  'reschedule',
  'ask',
  'hide',
  'unhide',
  'create_district',
  'disable',
  'enable',
  'password_reset',
  'revoke_all',
] as const;
export type AuditAction = (typeof auditActions)[number];

/** Actors of the log that are services, the command line or the public, not staff: staff appear as `role:username`. */
export const systemActors = ['system', 'worker', 'ingest', 'public', 'cli', 'seed'] as const;
export type SystemActor = (typeof systemActors)[number];
