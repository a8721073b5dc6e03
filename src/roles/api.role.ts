import { ResponseCache } from '../api/response-cache.ts';
import { keysChannel } from '../infra/key-announcements.ts';
import { liveChannels } from '../services/live.service.ts';
import { apiApp } from './api-app.ts';
import { playbackGateway } from './gateway.role.ts';
import { listenHttp } from './http-server.ts';
import { startRole, type RoleContext, type Stop, type Stops } from './role.ts';

/**
 * The catalog's background duties in an API process: its public answers cached and dropped on every
 * announced change, job results applied, live sessions whose publisher did not come back ended.
 */
async function startCatalogDuties({ config, log, parts, services }: RoleContext, stops: Stops): Promise<ResponseCache> {
  const { pubsub, queues } = parts;
  // public catalog answers: dropped on every announced change to what students see, from any process
  const catalogCache = new ResponseCache(config.CATALOG_CACHE_MB * 1024 * 1024, () => pubsub.healthy, {
    freshMs: config.CATALOG_CACHE_FRESH_S * 1000, staleMs: config.CATALOG_CACHE_STALE_S * 1000,
  });
  services.access.onChange(() => catalogCache.invalidate());
  await pubsub.subscribe(liveChannels.sessions, () => catalogCache.invalidate());
  await pubsub.subscribe(keysChannel, () => catalogCache.invalidate());
  await services.access.start();
  // the catalog applies job results (workers never touch the database)
  services.results.listen(queues, (lessonId) => services.access.invalidate(lessonId));

  // sessions whose publisher did not come back in time end here (every API process may sweep: idempotent)
  const sweep = setInterval(() => {
    services.live.sweep().catch((err) => log.warn({ err }, 'live sweep failed'));
  }, config.LIVE_SWEEP_INTERVAL_MS);
  sweep.unref();
  stops.add(async () => clearInterval(sweep));
  return catalogCache;
}

/** The API role: the catalog's duties, then one HTTP server where the playback gateway answers before the Express app. */
export function startApiRole(ctx: RoleContext, version: string): Promise<{ url: string; stop: Stop }> {
  return startRole(ctx.log, async (stops) => {
    const catalogCache = await startCatalogDuties(ctx, stops);
    const corsOrigins = ctx.config.CORS_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean);
    const app = apiApp(ctx, { catalogCache, corsOrigins, version });
    // the playback gateway takes its requests before Express sees them (src/api/gateway.routes.ts)
    const gateway = playbackGateway(ctx, corsOrigins);
    const server = stops.keep(await listenHttp(ctx.config, (req, res) => {
      if (!gateway(req, res)) app(req, res);
    }));
    ctx.log.info({ url: server.url }, 'API listening');
    return { url: server.url };
  });
}
