import type { Request, Response } from 'express';
import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { TimetablesService } from '../services/timetables.service.ts';
import { parseBound, type ScheduleService } from '../services/schedule.service.ts';
import { timetableCsv, timetableHtml } from '../formats/timetable-export.ts';
import type { Role } from '../domain/types.ts';
import { cursor, dateOrInstant, isoInstant, monday, orgCode, safeText, taxonomyCode, uuid } from './text.schemas.ts';

export interface TimetableRouteDeps {
  timetables: TimetablesService;
  schedule: ScheduleService;
  baseUrl: (req: Request) => string;
}

const readers: Role[] = ['teacher', 'reviewer', 'operator', 'admin', 'district_admin'];
const editors: Role[] = ['reviewer', 'district_admin', 'admin'];

const scheduleQuery = z.strictObject({
  school: orgCode.optional(),
  grade: taxonomyCode.optional(),
  from: dateOrInstant.optional(),
  to: dateOrInstant.optional(),
  cursor: cursor.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const icsQuery = z.strictObject({ school: orgCode.optional(), grade: taxonomyCode.optional() });

const idParam = z.strictObject({ id: uuid });
const entryParams = z.strictObject({ id: uuid, entryId: uuid });
const audience = safeText({ min: 0, max: 100, multiline: false });
const note = safeText({ min: 0, max: 500, multiline: true });

const createBody = z.strictObject({
  scope: z.enum(['school', 'district']),
  school: orgCode.optional(),
  district: orgCode.optional(),
  weekStart: monday,
  title: safeText({ min: 0, max: 100, multiline: false }).optional(),
});
const listQuery = z.strictObject({
  school: orgCode.optional(),
  district: orgCode.optional(),
  week: monday.optional(),
  status: z.enum(['draft', 'published']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const addEntryBody = z.strictObject({ lessonId: uuid, audience: audience.optional(), note: note.optional(), startsAt: isoInstant.optional(), endsAt: isoInstant.optional() });
const updateEntryBody = z
  .strictObject({ audience: audience.optional(), note: note.optional(), startsAt: isoInstant.optional(), endsAt: isoInstant.optional() })
  .refine((b) => Object.keys(b).length > 0, 'name at least one field to change');
const cancelBody = z.strictObject({ reason: safeText({ min: 1, max: 500, multiline: true }) });
const publishBody = z.strictObject({
  lateReason: safeText({ min: 1, max: 1000, multiline: true }).optional(),
  note: safeText({ min: 0, max: 1000, multiline: true }).optional(),
});
const exportQuery = z.strictObject({ version: z.coerce.number().int().min(1).max(100_000).optional() });
const lateQuery = z.strictObject({
  from: dateOrInstant.optional(),
  to: dateOrInstant.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const term = z.object({ code: z.string(), label: z.string() });
const scheduleItem = z.object({
  lessonId: z.string(), uid: z.string(), title: z.string(), description: z.string(),
  school: z.object({ code: z.string(), name: z.string() }), stage: term, grade: term, subject: term,
  teacher: z.object({ name: z.string() }), audience: z.array(z.string()),
  start: z.string(), end: z.string(), state: z.enum(['upcoming', 'on_air', 'ended']), watchUrl: z.string(),
});

function sendFile(res: Response, type: string, filename: string, body: string, disposition: 'inline' | 'attachment'): void {
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Disposition', `${disposition}; filename="${filename}"`);
  res.setHeader('Cache-Control', 'private, no-cache');
  res.status(200).send(body);
}

/** Timetables (staff) and the public schedule feeds. */
export function registerTimetableRoutes(r: RouteRegistry, d: TimetableRouteDeps): void {
  r.add({
    method: 'get', path: '/api/v1/schedule', tag: 'schedule', auth: 'public', summary: 'Approved live lessons of a period (times in Asia/Shanghai)',
    query: scheduleQuery, errors: [404], response: z.object({ from: z.string(), to: z.string(), items: z.array(scheduleItem), nextCursor: z.string().nullable() }),
    handler: ({ query, req }) => d.schedule.list(query, d.baseUrl(req)),
  });
  r.add({
    method: 'get', path: '/api/v1/schedule.ics', tag: 'schedule', auth: 'public', summary: 'iCalendar feed of a school\'s or a grade\'s live lessons (subscribable)',
    query: icsQuery, errors: [404],
    handler: async ({ query, req, res }) => {
      const feed = await d.schedule.ics(query, d.baseUrl(req));
      res.setHeader('ETag', feed.etag);
      res.setHeader('Cache-Control', 'public, max-age=300');
      if (req.headers['if-none-match'] === feed.etag) {
        res.status(304).end();
        return;
      }
      const file = `classcast-${[query.school, query.grade].filter(Boolean).join('-')}.ics`;
      res.setHeader('Content-Type', 'text/calendar; charset=utf-8');
      res.setHeader('Content-Disposition', `inline; filename="${file}"`);
      res.status(200).send(feed.body);
    },
  });
  r.add({
    method: 'post', path: '/api/v1/timetables', tag: 'timetables', auth: editors, summary: 'Draft the timetable of a school\'s or a district\'s week',
    body: createBody, status: 201, errors: [409],
    handler: ({ body, principal }) => d.timetables.create(principal!, body),
  });
  r.add({
    method: 'get', path: '/api/v1/timetables', tag: 'timetables', auth: readers, summary: 'List timetables',
    query: listQuery,
    handler: async ({ query, principal }) => ({ items: await d.timetables.list(principal!, query) }),
  });
  r.add({
    method: 'get', path: '/api/v1/timetables/:id', tag: 'timetables', auth: readers, summary: 'A timetable with its entries and unpublished changes',
    params: idParam, errors: [404],
    handler: ({ params, principal }) => d.timetables.get(principal!, params.id),
  });
  r.add({
    method: 'post', path: '/api/v1/timetables/:id/entries', tag: 'timetables', auth: editors, summary: 'Add a lesson to a timetable',
    params: idParam, body: addEntryBody, status: 201, errors: [404, 409],
    handler: ({ params, body, principal }) => d.timetables.addEntry(principal!, params.id, body),
  });
  r.add({
    method: 'patch', path: '/api/v1/timetables/:id/entries/:entryId', tag: 'timetables', auth: editors, summary: 'Change a timetable entry (audience, note, time)',
    params: entryParams, body: updateEntryBody, errors: [404, 409],
    handler: ({ params, body, principal }) => d.timetables.updateEntry(principal!, params.id, params.entryId, body),
  });
  r.add({
    method: 'post', path: '/api/v1/timetables/:id/entries/:entryId/cancel', tag: 'timetables', auth: editors, summary: 'Cancel a timetable entry (and a live lesson not yet on air)',
    params: entryParams, body: cancelBody, errors: [404, 409],
    handler: ({ params, body, principal }) => d.timetables.cancelEntry(principal!, params.id, params.entryId, body.reason),
  });
  r.add({
    method: 'delete', path: '/api/v1/timetables/:id/entries/:entryId', tag: 'timetables', auth: editors, summary: 'Remove an entry that was never published',
    params: entryParams, status: 204, errors: [404, 409],
    handler: async ({ params, principal }) => { await d.timetables.removeEntry(principal!, params.id, params.entryId); },
  });
  r.add({
    method: 'post', path: '/api/v1/timetables/:id/publish', tag: 'timetables', auth: editors, summary: 'Publish the timetable as its next version',
    params: idParam, body: publishBody, status: 201, errors: [404, 409],
    handler: ({ params, body, principal }) => d.timetables.publish(principal!, params.id, body),
  });
  r.add({
    method: 'get', path: '/api/v1/timetables/:id/versions', tag: 'timetables', auth: readers, summary: 'Published versions of a timetable and their changes',
    params: idParam, errors: [404],
    handler: async ({ params, principal }) => ({ items: await d.timetables.versions(principal!, params.id) }),
  });
  r.add({
    method: 'get', path: '/api/v1/timetables/:id/week.csv', tag: 'timetables', auth: readers, summary: 'The week as CSV (weekly filing)',
    params: idParam, query: exportQuery, errors: [404],
    handler: async ({ params, query, principal, res }) => {
      const doc = await d.timetables.document(principal!, params.id, query.version);
      sendFile(res, 'text/csv; charset=utf-8', `timetable-${doc.owner.code}-${doc.weekStart}${doc.version ? `-v${doc.version}` : '-draft'}.csv`, timetableCsv(doc), 'attachment');
    },
  });
  r.add({
    method: 'get', path: '/api/v1/timetables/:id/week.html', tag: 'timetables', auth: readers, summary: 'The week as a printable HTML page (weekly filing)',
    params: idParam, query: exportQuery, errors: [404],
    handler: async ({ params, query, principal, res }) => {
      const doc = await d.timetables.document(principal!, params.id, query.version);
      // the page needs no script and no outside resource: forbid both
      res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      sendFile(res, 'text/html; charset=utf-8', `timetable-${doc.owner.code}-${doc.weekStart}.html`, timetableHtml(doc), 'inline');
    },
  });
  r.add({
    method: 'get', path: '/api/v1/reports/late-timetables', tag: 'timetables', auth: ['operator', 'admin', 'district_admin'], summary: 'Timetables published less than 3 days ahead',
    query: lateQuery,
    handler: async ({ query, principal }) => ({
      items: await d.timetables.lateReport(principal!, { from: query.from ? parseBound(query.from) : undefined, to: query.to ? parseBound(query.to) : undefined, limit: query.limit }),
    }),
  });
}

