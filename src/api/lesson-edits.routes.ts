import { z } from 'zod';
import type { Request } from 'express';
import type { RouteRegistry } from './route-registry.ts';
import type { LessonEditsService } from '../services/lesson-edits.service.ts';
import type { LessonsService } from '../services/lessons.service.ts';
import { patchLessonBody, reviewBody, uuidParam } from './schemas.ts';
import type { ReviewService } from '../services/review.service.ts';

export interface LessonEditRouteDeps {
  edits: LessonEditsService;
  review: ReviewService;
  lessons: LessonsService;
  baseUrl: (req: Request) => string;
}

/** Teachers edit their lessons; reviewers decide on edits of approved text. */
export function registerLessonEditRoutes(r: RouteRegistry, d: LessonEditRouteDeps): void {
  r.add({
    method: 'patch', path: '/api/v1/lessons/:id', tag: 'lessons', auth: ['teacher'], summary: 'Edit a lesson (approved text becomes a pending change for the reviewer)',
    params: uuidParam, body: patchLessonBody, errors: [404, 409],
    handler: async ({ params, body, principal, req }) => {
      const id = params.id;
      const edit = await d.edits.edit(principal!, id, body);
      return { ...(await d.lessons.getForStaff(principal!, id, d.baseUrl(req))), edit };
    },
  });
  r.add({
    method: 'get', path: '/api/v1/lessons/:id/edits', tag: 'lessons', auth: ['teacher', 'reviewer', 'operator', 'admin', 'district_admin'], summary: 'The lesson\'s pending edit and the latest decision on one',
    params: uuidParam, errors: [404],
    handler: async ({ params, principal }) => {
      const l = await d.lessons.rowForStaff(principal!, params.id);
      return d.edits.summary(l.id);
    },
  });
  r.add({
    method: 'get', path: '/api/v1/review/decisions', tag: 'review', auth: ['reviewer'], summary: 'My past decisions (recordings, live plans, edits, stops), newest first',
    query: z.strictObject({ before: z.coerce.number().int().min(1).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }),
    handler: ({ query, principal }) => d.review.pastDecisions(principal!, query),
  });
  r.add({
    method: 'get', path: '/api/v1/review/edits', tag: 'review', auth: ['reviewer'], summary: 'Pending edits of approved lessons of the reviewer\'s school, oldest first',
    handler: async ({ principal }) => ({ items: await d.edits.pendingForSchool(principal!) }),
  });
  r.add({
    method: 'post', path: '/api/v1/lesson-edits/:id/review', tag: 'review', auth: ['reviewer'], summary: 'Approve or reject a pending edit',
    params: uuidParam, body: reviewBody, errors: [404, 409],
    response: z.object({ state: z.string(), lessonId: z.string() }),
    handler: ({ params, body, principal }) => d.edits.decide(principal!, params.id, body.decision, body.reason),
  });
}
