import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { LessonsService } from '../services/lessons.service.ts';
import type { TaxonomyService } from '../services/taxonomy.service.ts';
import type { SchoolsService } from '../services/schools.service.ts';
import { facetsQuery, publicListQuery, taxonomyItemBody, taxonomyKindParam, uuidParam } from './schemas.ts';
import type { Request } from 'express';

export interface CatalogRouteDeps {
  lessons: LessonsService;
  taxonomy: TaxonomyService;
  schools: SchoolsService;
  baseUrl: (req: Request) => string;
}

const term = z.object({ code: z.string(), label: z.string() });
const lessonOut = z.object({
  id: z.string(), title: z.string(), description: z.string(), kind: z.enum(['recorded', 'live']),
  school: z.object({ id: z.string(), code: z.string(), name: z.string() }), teacher: z.object({ name: z.string() }),
  stage: term, grade: term, subject: term, type: term, edition: term,
  scheduledStart: z.string().nullable(), scheduledEnd: z.string().nullable(), publishedAt: z.string().nullable(),
  durationS: z.number().nullable(), poster: z.string().nullable(), playback: z.object({ hls: z.string() }).nullable(),
});

const lessonDetailOut = lessonOut.extend({
  storyboard: z.object({ vtt: z.string() }).nullable().optional(),
  live: z.object({ onAir: z.boolean(), hls: z.string().nullable() }).optional(),
});

/**
 * Lifetime of public catalog answers in browsers and the edge: they change only on publish, withdraw
 * and edit, but a withdrawn lesson must leave every page soon, so a few seconds, then a cheap
 * revalidation (304 from the response cache).
 */
const catalogMaxAgeS = 5;

/** The public catalog: lists, facets, detail, taxonomy. */
export function registerCatalogRoutes(r: RouteRegistry, d: CatalogRouteDeps): void {
  r.add({
    method: 'get', path: '/api/v1/lessons', tag: 'catalog', auth: 'public', summary: 'List published lessons',
    query: publicListQuery, publicCache: { maxAgeS: catalogMaxAgeS }, response: z.object({ items: z.array(lessonOut), nextCursor: z.string().nullable() }),
    handler: ({ query, req }) => d.lessons.listPublic(query, query.cursor, query.limit, d.baseUrl(req)),
  });
  r.add({
    method: 'get', path: '/api/v1/facets', tag: 'catalog', auth: 'public', summary: 'Facet counts of published lessons',
    query: facetsQuery, publicCache: { maxAgeS: catalogMaxAgeS },
    handler: ({ query }) => d.lessons.facets(query),
  });
  r.add({
    method: 'get', path: '/api/v1/lessons/:id', tag: 'catalog', auth: 'optional', summary: 'Lesson detail', params: uuidParam, errors: [404],
    response: lessonDetailOut, publicCache: { maxAgeS: catalogMaxAgeS },
    handler: async ({ params, principal, req }) => {
      if (principal) return d.lessons.getForStaff(principal, params.id, d.baseUrl(req)).catch(async (err) => {
        // staff without access to a lesson still see it as the public does
        if ((err as { status?: number }).status === 404) return d.lessons.getPublic(params.id, d.baseUrl(req));
        throw err;
      });
      return d.lessons.getPublic(params.id, d.baseUrl(req));
    },
  });
  r.add({
    method: 'get', path: '/api/v1/taxonomy', tag: 'catalog', auth: 'public', summary: 'Stages, grades, subjects, types and editions',
    handler: async () => {
      const t = await d.taxonomy.get();
      return { stages: t.stage, grades: t.grade, subjects: t.subject, types: t.type, editions: t.edition };
    },
  });
  r.add({
    method: 'post', path: '/api/v1/taxonomy/:kind', tag: 'catalog', auth: ['operator', 'admin'], summary: 'Add a taxonomy item',
    params: taxonomyKindParam, body: taxonomyItemBody, status: 201, errors: [409],
    handler: ({ params, body, principal }) => d.taxonomy.add(params.kind, body, principal!),
  });
  r.add({
    method: 'get', path: '/api/v1/schools', tag: 'catalog', auth: 'public', summary: 'Schools and their districts',
    handler: async () => ({ items: (await d.schools.list()).map((s) => ({ id: s.id, code: s.code, name: s.name, stage: s.stage, district: { code: s.district.code, name: s.district.name } })) }),
  });
}
