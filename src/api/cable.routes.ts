import { z } from 'zod';
import type { RouteRegistry } from './route-registry.ts';
import type { CableService } from '../services/cable.service.ts';

const feedQuery = z.strictObject({
  since: z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** The cable VOD system's feed of ADI packages. */
export function registerCableRoutes(r: RouteRegistry, cable: CableService): void {
  r.add({
    method: 'get', path: '/api/v1/cable/packages', tag: 'cable', auth: ['operator', 'admin', 'cable'], summary: 'Cable packages and their state, changed since a time',
    query: feedQuery,
    handler: async ({ query, res }) => {
      // signed links inside: nothing in between may keep them
      res.setHeader('Cache-Control', 'no-store');
      return cable.feed(query.since ? new Date(query.since) : undefined, query.limit);
    },
  });
}
