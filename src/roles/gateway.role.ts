import type { IncomingMessage, ServerResponse } from 'node:http';
import { assetTarget, gatewayHandler, liveTarget, objectCache } from '../api/gateway.routes.ts';
import type { RoleContext } from './role.ts';

/**
 * The playback gateway (/play, /live, /preview): answers players from storage behind the access
 * check, before Express sees the request. Returns false for a request that is not its own.
 */
export function playbackGateway({ config, log, parts, services }: RoleContext, corsOrigins: string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { access, preview, live } = services;
  return gatewayHandler({
    storage: parts.storage,
    log,
    corsOrigins,
    metrics: parts.metrics,
    cache: config.GATEWAY_CACHE_MB > 0 ? objectCache(config.GATEWAY_CACHE_MB * 1024 * 1024) : undefined,
    play: async (lessonId) => {
      const asset = await access.publishedAsset(lessonId);
      return asset ? assetTarget(asset, 'vod') : undefined;
    },
    preview: async (token) => {
      const grant = preview.verify(token);
      const asset = grant ? await access.readyAsset(grant.assetId) : null;
      return asset ? assetTarget(asset, 'preview') : undefined;
    },
    live: async (lessonId) => {
      const root = await access.liveRoot(lessonId, (id) => live.liveRoot(id));
      return root ? liveTarget(root) : undefined;
    },
  });
}
