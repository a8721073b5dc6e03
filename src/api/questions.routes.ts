import { pipeline } from 'node:stream/promises';
import type { Request } from 'express';
import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { QuestionsService } from '../services/questions.service.ts';
import { cursor, safeText, taxonomyCode, uuid } from './text.schemas.ts';

export interface QuestionRouteDeps {
  questions: QuestionsService;
  baseUrl: (req: Request) => string;
  /** Largest decoded image, bytes (the base64 text is 4/3 of it). */
  maxImageBytes: number;
  maxImages: number;
}

const idParam = z.strictObject({ id: uuid });
const search = z.string().max(100, 'at most 100 characters');

const publicQuery = z.strictObject({
  stage: taxonomyCode.optional(),
  subject: taxonomyCode.optional(),
  lesson: uuid.optional(),
  q: search.optional(),
  cursor: cursor.optional(),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
const staffQuery = publicQuery.extend({
  state: z.enum(['open', 'answered', 'hidden', 'all']).default('open'),
});
const imageParams = z.strictObject({ id: uuid, n: z.coerce.number().int().min(0).max(9) });
const imageQuery = z.strictObject({
  exp: z.coerce.number().int().min(0).max(2 ** 32).optional(),
  sig: z.string().max(64).regex(/^[A-Za-z0-9_-]+$/).optional(),
});
const answerBody = z.strictObject({ text: safeText({ min: 1, max: 5000, multiline: true }) });
const visibilityBody = z
  .strictObject({ hidden: z.boolean(), reason: safeText({ min: 1, max: 500, multiline: true }).optional() })
  .refine((b) => !b.hidden || b.reason !== undefined, { message: 'hiding needs a reason', path: ['reason'] });

const term = z.object({ code: z.string(), label: z.string() });
const answerOut = z.object({ id: z.string(), text: z.string(), teacher: z.object({ name: z.string(), school: z.string().nullable() }), createdAt: z.string(), updatedAt: z.string(), edited: z.boolean() });
const questionOut = z.object({
  id: z.string(), stage: term, subject: term, lesson: z.object({ id: z.string(), title: z.string().nullable() }).nullable(),
  text: z.string(), displayName: z.string(),
  images: z.array(z.object({ url: z.string(), type: z.string(), width: z.number(), height: z.number() })),
  createdAt: z.string(), answeredAt: z.string().nullable(), answers: z.array(answerOut),
});

/** Online Q&A: public questions and asking, teachers' answers, moderation. */
export function registerQuestionRoutes(r: RouteRegistry, d: QuestionRouteDeps): void {
  const maxB64 = Math.ceil(d.maxImageBytes / 3) * 4;
  const askBody = z.strictObject({
    stage: taxonomyCode.optional(),
    subject: taxonomyCode.optional(),
    lessonId: uuid.optional(),
    text: safeText({ min: 2, max: 2000, multiline: true }),
    displayName: safeText({ min: 1, max: 40, multiline: false }),
    images: z
      .array(
        z.string()
          .max(maxB64 + 40, `an image may be at most ${Math.floor(d.maxImageBytes / 1024)} KiB`)
          .regex(/^(?:data:image\/[a-z0-9.+-]+;base64,)?[A-Za-z0-9+/]+={0,2}$/, 'must be a base64-encoded image (optionally a data: URL)'),
      )
      .max(d.maxImages, `at most ${d.maxImages} images`)
      .optional(),
  });

  r.add({
    method: 'get', path: '/api/v1/questions', tag: 'qa', auth: 'public', summary: 'Answered questions with their answers, newest first',
    query: publicQuery, response: z.object({ items: z.array(questionOut), nextCursor: z.string().nullable() }),
    handler: ({ query, req }) => d.questions.listPublic(query, query.cursor, query.limit, d.baseUrl(req)),
  });
  r.add({
    method: 'post', path: '/api/v1/questions', tag: 'qa', auth: 'public', summary: 'Ask a question (no account; rate limited per address)',
    body: askBody, status: 201, errors: [413, 429],
    handler: ({ body, req }) => d.questions.ask(body, req.ip ?? 'unknown'),
  });
  r.add({
    method: 'get', path: '/api/v1/questions/:id', tag: 'qa', auth: 'public', summary: 'An answered question',
    params: idParam, errors: [404], response: questionOut,
    handler: ({ params, req }) => d.questions.getPublic(params.id, d.baseUrl(req)),
  });
  r.add({
    method: 'get', path: '/api/v1/questions/:id/images/:n', tag: 'qa', auth: 'public', summary: 'A question\'s picture (public once answered, else by signed link)',
    params: imageParams, query: imageQuery, errors: [404],
    handler: async ({ params, query, res }) => {
      const img = await d.questions.image(params.id, params.n, query.exp !== undefined && query.sig ? { exp: query.exp, sig: query.sig } : undefined);
      res.status(200);
      res.setHeader('Content-Type', img.type);
      res.setHeader('Content-Length', String(img.bytes));
      res.setHeader('Content-Disposition', 'inline');
      res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
      res.setHeader('Cache-Control', img.signed ? 'private, max-age=300' : 'public, max-age=300');
      await pipeline(img.body, res);
    },
  });
  r.add({
    method: 'get', path: '/api/v1/staff/questions', tag: 'qa', auth: ['teacher', 'reviewer', 'operator', 'admin'], summary: 'Questions to answer or moderate',
    query: staffQuery,
    handler: ({ query, principal, req }) => d.questions.listForStaff(principal!, query, query.cursor, query.limit, d.baseUrl(req)),
  });
  r.add({
    method: 'post', path: '/api/v1/questions/:id/answers', tag: 'qa', auth: ['teacher'], summary: 'Answer a question of your stage',
    params: idParam, body: answerBody, status: 201, errors: [404, 409],
    handler: ({ params, body, principal }) => d.questions.answer(principal!, params.id, body.text),
  });
  r.add({
    method: 'patch', path: '/api/v1/answers/:id', tag: 'qa', auth: ['teacher'], summary: 'Edit your answer',
    params: idParam, body: answerBody, errors: [404, 409],
    handler: ({ params, body, principal }) => d.questions.editAnswer(principal!, params.id, body.text),
  });
  r.add({
    method: 'put', path: '/api/v1/questions/:id/visibility', tag: 'qa', auth: ['reviewer', 'operator', 'admin'], summary: 'Hide a question (with a reason) or show it again',
    params: idParam, body: visibilityBody, errors: [404, 409],
    handler: ({ params, body, principal, req }) => d.questions.setQuestionHidden(principal!, params.id, body.hidden, body.reason, d.baseUrl(req)),
  });
  r.add({
    method: 'put', path: '/api/v1/answers/:id/visibility', tag: 'qa', auth: ['reviewer', 'operator', 'admin'], summary: 'Hide an answer (with a reason) or show it again',
    params: idParam, body: visibilityBody, errors: [404, 409],
    handler: ({ params, body, principal }) => d.questions.setAnswerHidden(principal!, params.id, body.hidden, body.reason),
  });
}

/** JSON body limit of POST /api/v1/questions: the pictures as base64 plus the text. */
export function askBodyLimitBytes(maxImageBytes: number, maxImages: number): number {
  return maxImages * (Math.ceil(maxImageBytes / 3) * 4 + 64) + 64 * 1024;
}
