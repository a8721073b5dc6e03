import { z } from 'zod';
import type { Request } from 'express';
import type { RouteRegistry } from './route-registry.ts';
import type { LiveService } from '../services/live.service.ts';
import { uuidParam } from './schemas.ts';

/** Live lessons: OBS credentials, key rotation, stop, and what is on air now. */
export function registerLiveRoutes(r: RouteRegistry, live: LiveService, baseUrl: (req: Request) => string): void {
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/live', tag: 'live', auth: ['teacher'], summary: 'Get the RTMP server and stream key for OBS',
    params: uuidParam, errors: [404, 409],
    response: z.object({ rtmpUrl: z.string(), streamKey: z.string(), status: z.string(), approvedForAir: z.boolean(), allowedFrom: z.string(), allowedUntil: z.string() }),
    handler: async ({ params, principal, res }) => {
      // the stream key is a secret: never cached by anything in between
      res.setHeader('Cache-Control', 'no-store');
      return live.credentials(principal!, params.id);
    },
  });
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/live/rotate-key', tag: 'live', auth: ['teacher'], summary: 'Issue a new stream key (the old one stops working)',
    params: uuidParam, errors: [404, 409],
    handler: async ({ params, principal, res }) => {
      res.setHeader('Cache-Control', 'no-store');
      return live.rotateKey(principal!, params.id);
    },
  });
  r.add({
    method: 'post', path: '/api/v1/lessons/:id/live/stop', tag: 'live', auth: ['reviewer', 'operator', 'admin'], summary: 'Cut a live stream off now and refuse reconnects',
    params: uuidParam, body: z.strictObject({ reason: z.string().trim().min(1).max(500).optional() }).optional().default({}), errors: [404, 409],
    handler: ({ params, principal, body }) => live.stop(principal!, params.id, body?.reason),
  });
  r.add({
    method: 'get', path: '/api/v1/live', tag: 'live', auth: 'public', summary: 'Live lessons on air now',
    handler: ({ req, res }) => {
      res.setHeader('Cache-Control', 'public, max-age=5');
      return live.onAir(baseUrl(req));
    },
  });
}
