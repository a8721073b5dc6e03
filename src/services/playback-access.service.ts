import type { Db } from '../infra/db.ts';
import type { PubSub } from '../infra/pubsub.ts';
import { liveChannels } from './live.service.ts';
import { KeyAnnouncements, keysChannel } from '../infra/key-announcements.ts';
import { hlsPrefix, posterKey, storyboardImageKey, storyboardVttKey } from '../media/storage-keys.ts';
import { portalAssetFiles, readyAssetFiles, type AssetFiles } from '../infra/assets.repo.ts';

/** Where an asset's files are in storage (uploads under assets/{id}/, live recordings under live/{session}/). */
export interface AssetLocation {
  assetId: string;
  hlsRoot: string;
  posterKey: string;
  storyboardImageKey: string;
  storyboardVttKey: string;
}

function location(r: AssetFiles): AssetLocation {
  const str = (k: string): string | undefined => (typeof r.media?.[k] === 'string' ? (r.media[k] as string) : undefined);
  const root = r.hlsRoot ?? hlsPrefix(r.id);
  return {
    assetId: r.id,
    hlsRoot: root,
    posterKey: str('posterKey') ?? (r.hlsRoot ? `${root}poster.jpg` : posterKey(r.id)),
    storyboardImageKey: str('storyboardImageKey') ?? (r.hlsRoot ? `${root}storyboard.jpg` : storyboardImageKey(r.id)),
    storyboardVttKey: str('storyboardVttKey') ?? (r.hlsRoot ? `${root}storyboard.vtt` : storyboardVttKey(r.id)),
  };
}

const channel = 'visibility';

/**
 * Answers "which asset may the public play for this lesson?" per gateway request, from an in-memory
 * cache invalidated over Redis pub/sub whenever a publication changes (every API process drops its
 * entry within milliseconds; while the subscriber is down entries live only half a second).
 */
export class PlaybackAccessService {
  private readonly cache = new Map<string, { asset: AssetLocation | null; until: number }>();
  private readonly listeners: ((lessonId: string) => void)[] = [];
  private readonly live = new Map<string, { root: string | undefined; until: number }>();
  /** Bumped by every change: an answer read from the database before a change is not kept after it. */
  private epoch = 0;

  constructor(private readonly db: Db, private readonly pubsub: PubSub, private readonly ttlMs = 30_000) {}

  async start(): Promise<void> {
    await this.pubsub.subscribe(channel, (lessonId) => this.forget(lessonId));
    // a session starting, dropping, ending or being stopped (kick), or its lesson's keys changing
    const drop = (lessonId: string) => {
      this.epoch++;
      this.live.delete(lessonId);
    };
    for (const ch of [liveChannels.sessions, liveChannels.kick]) await this.pubsub.subscribe(ch, drop);
    await this.pubsub.subscribe(keysChannel, (msg) => drop(KeyAnnouncements.parse(msg)?.lessonId ?? ''));
  }

  /** Runs on every announced change, made here or in another process (the catalog's response cache). */
  onChange(listener: (lessonId: string) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Tells every API process that what the public sees of a lesson changed: publish, withdraw, a new
   * published version, an edit of its public text.
   */
  async invalidate(lessonId: string): Promise<void> {
    this.forget(lessonId);
    await this.pubsub.publish(channel, lessonId);
  }

  private forget(lessonId: string): void {
    this.epoch++;
    if (lessonId === '*') this.cache.clear();
    else this.cache.delete(lessonId);
    for (const l of this.listeners) l(lessonId);
  }

  /**
   * publishedAsset's answer when it is held in memory and still current (the same entry publishedAsset
   * would return, dropped by the same announcements), else undefined: the gateway answers a known
   * lesson without waiting on a promise.
   */
  knownPublishedAsset(lessonId: string): AssetLocation | null | undefined {
    const hit = this.cache.get(lessonId);
    return hit && hit.until > Date.now() ? hit.asset : undefined;
  }

  /** The asset published on the portal for a lesson, or null. */
  async publishedAsset(lessonId: string): Promise<AssetLocation | null> {
    const now = Date.now();
    const known = this.knownPublishedAsset(lessonId);
    if (known !== undefined) return known;
    const epoch = this.epoch;
    const files = await portalAssetFiles(this.db, lessonId);
    const asset = files ? location(files) : null;
    if (epoch !== this.epoch) return asset;
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(lessonId, { asset, until: now + (this.pubsub.healthy ? this.ttlMs : 500) });
    return asset;
  }

  /**
   * The storage root of what students may watch live for a lesson (`load` asks the catalog), kept
   * like publishedAsset: until the next announced live change for the lesson, or half a second while
   * the subscriber is down. A stop announces a kick, so the gate closes in every process at once.
   */
  async liveRoot(lessonId: string, load: (lessonId: string) => Promise<string | undefined>): Promise<string | undefined> {
    const now = Date.now();
    const known = this.knownLiveRoot(lessonId);
    if (known) return known.root;
    const epoch = this.epoch;
    const root = await load(lessonId);
    if (epoch !== this.epoch) return root;
    if (this.live.size > 50_000) this.live.clear();
    // a session that ended by itself closes on its own clock (two minutes later): never keep it long
    this.live.set(lessonId, { root, until: now + (this.pubsub.healthy ? Math.min(this.ttlMs, 5000) : 500) });
    return root;
  }

  /** liveRoot's answer when it is held in memory and still current (`root` undefined: not on air), else undefined. */
  knownLiveRoot(lessonId: string): { root: string | undefined } | undefined {
    const hit = this.live.get(lessonId);
    return hit && hit.until > Date.now() ? hit : undefined;
  }

  /** A processed asset's location (preview links), or null while it is not ready. */
  async readyAsset(assetId: string): Promise<AssetLocation | null> {
    const files = await readyAssetFiles(this.db, assetId);
    return files ? location(files) : null;
  }
}
