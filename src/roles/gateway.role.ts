import type { IncomingMessage, ServerResponse } from 'node:http';
import { assetTarget, gatewayHandler, liveTarget, objectCache, type GatewayTarget } from '../api/gateway.routes.ts';
import type { AssetLocation } from '../services/playback-access.service.ts';
import type { RoleContext } from './role.ts';

/**
 * The playback gateway (/play, /live, /preview): answers players from storage behind the access
 * check, before Express sees the request. Returns false for a request that is not its own. An access
 * answer already in memory (PlaybackAccessService, dropped on every announced change) is given at once,
 * with its target made once per asset or live root, not per request.
 */
export function playbackGateway({ config, log, parts, services }: RoleContext, corsOrigins: string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { access, preview, live } = services;
  const vodTargets = new WeakMap<AssetLocation, GatewayTarget>();
  const vod = (asset: AssetLocation | null): GatewayTarget | undefined => {
    if (!asset) return undefined;
    let t = vodTargets.get(asset);
    if (!t) vodTargets.set(asset, (t = assetTarget(asset, 'vod')));
    return t;
  };
  const liveTargets = new Map<string, GatewayTarget>();
  const onAir = (root: string | undefined): GatewayTarget | undefined => {
    if (!root) return undefined;
    let t = liveTargets.get(root);
    if (!t) {
      if (liveTargets.size > 10_000) liveTargets.clear();
      liveTargets.set(root, (t = liveTarget(root)));
    }
    return t;
  };
  return gatewayHandler({
    storage: parts.storage,
    log,
    corsOrigins,
    metrics: parts.metrics,
    cache: config.GATEWAY_CACHE_MB > 0 ? objectCache(config.GATEWAY_CACHE_MB * 1024 * 1024) : undefined,
    play: (lessonId) => {
      const known = access.knownPublishedAsset(lessonId);
      return known !== undefined ? vod(known) : access.publishedAsset(lessonId).then(vod);
    },
    preview: async (token) => {
      const grant = preview.verify(token);
      const asset = grant ? await access.readyAsset(grant.assetId) : null;
      return asset ? assetTarget(asset, 'preview') : undefined;
    },
    live: (lessonId) => {
      const known = access.knownLiveRoot(lessonId);
      return known ? onAir(known.root) : access.liveRoot(lessonId, (id) => live.liveRoot(id)).then(onAir);
    },
  });
}
