import { z } from 'zod';
import { lessonStatuses } from '../domain/lesson-state.ts';
import { channels } from '../domain/types.ts';
import { uuid } from './text.schemas.ts';

/** Request schemas shared by routes; strict objects so unknown fields are named and refused. */
export const uuidParam = z.strictObject({ id: uuid });

const code = z.string().min(1).max(64).regex(/^[a-z0-9_]+$/, 'must be a taxonomy code');
// sorted and without repeats: the same filter always reads the same (the response cache's key)
const csvCodes = z
  .string()
  .max(500)
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(code).max(20))
  .transform((a) => [...new Set(a)].sort());
// search is case-insensitive over whitespace-separated terms: spell equal searches alike
const searchQuery = z
  .string()
  .max(100)
  .transform((s) => s.trim().replace(/\s+/g, ' ').toLowerCase() || undefined);

export const publicListQuery = z.strictObject({
  stage: csvCodes.optional(),
  grade: csvCodes.optional(),
  subject: csvCodes.optional(),
  type: csvCodes.optional(),
  edition: csvCodes.optional(),
  q: searchQuery.optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const facetsQuery = publicListQuery.omit({ cursor: true, limit: true });

export const loginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(256),
  /** `cookie`: the token goes only into the httpOnly session cookie, not into the answer */
  session: z.enum(['cookie']).optional(),
});

const isoDate = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s), 'must be an ISO 8601 date-time');

export const createLessonBody = z.strictObject({
  title: z.string().trim().min(1).max(200),
  description: z.string().max(5000).optional(),
  kind: z.enum(['recorded', 'live']),
  stage: code,
  grade: code,
  subject: code,
  type: code,
  edition: code,
  scheduledStart: isoDate.optional(),
  scheduledEnd: isoDate.optional(),
});

export const patchLessonBody = createLessonBody.omit({ kind: true }).partial().refine((b) => Object.keys(b).length > 0, 'name at least one field to change');

export const reviewBody = z.strictObject({
  decision: z.enum(['approve', 'reject']),
  reason: z.string().trim().min(1).max(2000).optional(),
});

export const publicationBody = z.strictObject({ channel: z.enum(channels) });
export const publicationParams = z.strictObject({ id: uuidParam.shape.id, channel: z.enum(channels) });

export const staffListQuery = z.strictObject({
  status: z.string().max(200).transform((s) => s.split(',').filter(Boolean)).pipe(z.array(z.enum(lessonStatuses))).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const taxonomyKindParam = z.strictObject({ kind: z.enum(['stage', 'grade', 'subject', 'type', 'edition']) });
export const taxonomyItemBody = z.strictObject({
  code,
  label: z.string().trim().min(1).max(40),
  stage: code.optional(),
  parent: code.optional(),
});

export const auditQuery = z.strictObject({
  entity: z.string().max(40).optional(),
  entityId: z.string().max(100).optional(),
  /** who: the actor's username (or part of it) */
  actor: z.string().trim().max(64).optional(),
  /** what: the action (create, approve, publish, edit_proposed, ...) */
  action: z.string().trim().max(40).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  /** paging: entries older than this id */
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
