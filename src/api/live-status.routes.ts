import type { RouteRegistry } from './route-registry.ts';
import type { LiveStatusService } from '../services/live-status.service.ts';
import { uuidParam } from './schemas.ts';

/** The live panel of the consoles: is the teacher's encoder connected, and is its stream right. */
export function registerLiveStatusRoutes(r: RouteRegistry, live: LiveStatusService): void {
  r.add({
    method: 'get', path: '/api/v1/lessons/:id/live/status', tag: 'live', auth: ['teacher', 'reviewer', 'operator', 'admin'], summary: 'The stream as the ingest sees it: connected, bitrate, frame rate, keyframe interval, advice',
    params: uuidParam, errors: [404, 409],
    handler: ({ params, principal, res }) => {
      res.setHeader('Cache-Control', 'no-store');
      return live.status(principal!, params.id);
    },
  });
}
