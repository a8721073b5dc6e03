import type Hls from 'hls.js';

/** A video rung of the lesson's ladder, as the quality menu lists it. */
export interface Rung {
  index: number;
  height: number;
  bitrate: number;
}

/** `auto` lets the player climb and fall with the link; a number pins one rung; `audio` plays sound only. */
export type Quality = 'auto' | 'audio' | number;

/** What the lesson's master playlist offers, as the player shows it. */
export interface Ladder {
  /** Video rungs from lowest to highest. */
  rungs: Rung[];
  /** An audio-only rendition exists (仅声音). */
  audioOnly: boolean;
  /** The lesson is sound alone: a radio-style live class has no picture variant at all. */
  soundOnly: boolean;
  /**
   * A live lesson no transcoder carries yet (all transcoders busy or down): the master offers only
   * the ingest's capture of the teacher's own stream, at its original quality. The engine watches the
   * master and moves to the ladder when a transcoder's rungs join it.
   */
  sourceOnly: boolean;
}

export interface EngineEvents {
  /** The ladder is known, or changed (a transcoder's rungs joined a live lesson played from its capture). */
  onLadder(ladder: Ladder): void;
  /** The rung now playing changed (undefined: audio only or unknown). */
  onRung(index: number | undefined): void;
  /** Playback cannot go on: `gone` when the gateway no longer serves the lesson (withdrawn, stopped). */
  onFatal(kind: 'gone' | 'network' | 'unsupported'): void;
}

export interface Engine {
  setQuality(q: Quality): void;
  /** Seconds between what is shown and now (live lessons with program date-time), or undefined. */
  delayS(): number | undefined;
  destroy(): void;
}

/** iPhone and iPad Safari play HLS themselves (and older ones have no Media Source Extensions). */
export function prefersNativeHls(video: HTMLVideoElement): boolean {
  const canNative = video.canPlayType('application/vnd.apple.mpegurl') !== '';
  const ios = /iP(hone|ad|od)/.test(navigator.userAgent) || (navigator.userAgent.includes('Macintosh') && navigator.maxTouchPoints > 1);
  const mse = typeof window.MediaSource !== 'undefined' || typeof (window as { ManagedMediaSource?: unknown }).ManagedMediaSource !== 'undefined';
  return canNative && (ios || !mse);
}

/** Whether a master playlist offers any picture (a variant with RESOLUTION or a video codec). */
export function hasPicture(master: string): boolean {
  return /RESOLUTION=|avc1|hvc1|hev1|av01|vp09/.test(master);
}

/**
 * Whether a master playlist offers only the ingest's capture of the publisher's stream: every variant
 * is in the capture's folder, `source/` (captureRendition in src/media/storage-keys.ts).
 */
export function isSourceOnly(master: string): boolean {
  const uris = master.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return uris.length > 0 && uris.every((u) => /^(\.\/)?source\//.test(u));
}

/** How often a live lesson played from its capture looks for the transcoder's ladder in its master. */
const ladderWatchMs = 5_000;

/** The audio-only variant of a master playlist (CODECS without a video codec and no RESOLUTION). */
export function audioVariantOf(master: string, masterUrl: string): string | undefined {
  const lines = master.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('#EXT-X-STREAM-INF:')) continue;
    const attrs = lines[i];
    const codecs = /CODECS="([^"]*)"/.exec(attrs)?.[1] ?? '';
    if (/RESOLUTION=/.test(attrs) || /avc1|hvc1|hev1|av01|vp09/.test(codecs) || !/mp4a|ac-3|ec-3/.test(codecs)) continue;
    const uri = lines.slice(i + 1).find((l) => l.trim() && !l.startsWith('#'));
    if (uri) return new URL(uri.trim(), masterUrl).toString();
  }
  return undefined;
}

/** Starting rung and bandwidth guess: low unless the phone says its link is fast (Network Information API). */
function startHints(): { startLevel: number; estimate: number } {
  const c = (navigator as { connection?: { downlink?: number; effectiveType?: string; saveData?: boolean } }).connection;
  if (c?.downlink && c.effectiveType === '4g' && !c.saveData && c.downlink >= 5) return { startLevel: -1, estimate: c.downlink * 1e6 * 0.7 };
  return { startLevel: 0, estimate: 400_000 };
}

/** Plays a master playlist in `video` through hls.js (where MSE exists) or the browser's own HLS. */
export async function createEngine(video: HTMLVideoElement, masterUrl: string, live: boolean, ev: EngineEvents): Promise<Engine> {
  let audioUrl: string | undefined;
  let soundOnly = false;
  let sourceOnly = false;
  /** Reads the master (from the HTTP cache when fresh): sound alone, capture only, its audio-only variant. */
  const readMaster = async (): Promise<string | undefined> => {
    try {
      const res = await fetch(masterUrl);
      if (res.status === 404) ev.onFatal('gone');
      if (!res.ok) return undefined;
      const text = await res.text();
      soundOnly = !hasPicture(text);
      sourceOnly = live && isSourceOnly(text);
      audioUrl = audioVariantOf(text, masterUrl);
      return text;
    } catch {
      return undefined; // the player reports its own errors
    }
  };
  /**
   * While a live lesson plays from its capture, looks at its master now and then; once a transcoder's
   * rungs are in it, `reopen` plays the ladder (players read a master once and would never see them).
   */
  let watch: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const watchForLadder = (reopen: () => void): void => {
    clearTimeout(watch);
    if (!sourceOnly || stopped) return;
    watch = setTimeout(async () => {
      const text = await readMaster();
      if (stopped) return;
      if (text !== undefined && !sourceOnly) reopen();
      else watchForLadder(reopen);
    }, ladderWatchMs);
  };
  const stopWatching = (): void => {
    stopped = true;
    clearTimeout(watch);
  };
  if (prefersNativeHls(video)) {
    await readMaster();
    const announce = (): void => ev.onLadder({ rungs: [], audioOnly: Boolean(audioUrl), soundOnly, sourceOnly });
    announce();
    video.src = masterUrl;
    const onError = (): void => ev.onFatal('network');
    video.addEventListener('error', onError);
    const reopen = (): void => {
      const wasPaused = video.paused;
      video.src = masterUrl;
      if (!wasPaused) void video.play().catch(() => undefined);
      announce();
    };
    watchForLadder(reopen);
    return {
      setQuality(q) {
        const at = video.currentTime;
        const wasPaused = video.paused;
        video.src = q === 'audio' && audioUrl ? audioUrl : masterUrl;
        if (!live) video.currentTime = at;
        if (!wasPaused) void video.play().catch(() => undefined);
      },
      delayS() {
        const start = (video as HTMLVideoElement & { getStartDate?: () => Date }).getStartDate?.();
        if (!live || !start || Number.isNaN(start.getTime())) return undefined;
        return Math.max(0, (Date.now() - (start.getTime() + video.currentTime * 1000)) / 1000);
      },
      destroy() {
        stopWatching();
        video.removeEventListener('error', onError);
        video.removeAttribute('src');
        video.load();
      },
    };
  }

  const HlsCtor = (await import('hls.js/light')).default as typeof Hls;
  if (!HlsCtor.isSupported()) {
    ev.onFatal('unsupported');
    return { setQuality() {}, delayS: () => undefined, destroy() {} };
  }
  let hls: Hls | undefined;
  let quality: Quality = 'auto';
  const hints = startHints();
  const open = (url: string, startPosition: number, level: number): void => {
    hls?.destroy();
    const h = new HlsCtor({
      startLevel: level,
      startPosition,
      abrEwmaDefaultEstimate: hints.estimate,
      // a phone screen needs no 720p: the rung is capped to the player's size (and pixel ratio)
      capLevelToPlayerSize: true,
      // a 3G student pays for every byte: buffer half a minute ahead, not more
      maxBufferLength: 20,
      maxMaxBufferLength: 40,
      backBufferLength: 30,
      liveSyncDurationCount: 3,
      enableWorker: true,
    });
    hls = h;
    h.on(HlsCtor.Events.MANIFEST_PARSED, async () => {
      if (url !== masterUrl) return;
      // hls.js drops audio-only variants from its levels: read the master (from the HTTP cache) for it
      await readMaster();
      ev.onLadder({ rungs: h.levels.map((l, index) => ({ index, height: l.height, bitrate: l.bitrate })).filter((r) => r.height > 0), audioOnly: Boolean(audioUrl), soundOnly, sourceOnly });
      if (h === hls && quality === 'auto') watchForLadder(reopenLadder);
    });
    h.on(HlsCtor.Events.LEVEL_SWITCHED, (_e, d) => ev.onRung(url === masterUrl ? d.level : undefined));
    h.on(HlsCtor.Events.ERROR, (_e, d) => {
      if (!d.fatal) return;
      const code = (d.response as { code?: number } | undefined)?.code;
      if (code === 404 || code === 410) ev.onFatal('gone');
      else if (d.type === HlsCtor.ErrorTypes.MEDIA_ERROR) h.recoverMediaError();
      else ev.onFatal('network');
    });
    h.loadSource(url);
    h.attachMedia(video);
  };
  /** The transcoder's ladder arrived while playing the capture: play the master again, now with its rungs. */
  const reopenLadder = (): void => {
    if (quality === 'audio') return;
    const wasPaused = video.paused;
    open(masterUrl, -1, hints.startLevel);
    if (!wasPaused) void video.play().catch(() => undefined);
  };
  open(masterUrl, -1, hints.startLevel);
  return {
    setQuality(q) {
      const prev = quality;
      quality = q;
      if (q === 'audio') {
        if (!audioUrl || prev === 'audio') return;
        const wasPaused = video.paused;
        open(audioUrl, live ? -1 : video.currentTime, -1);
        ev.onRung(undefined);
        if (!wasPaused) void video.play().catch(() => undefined);
        return;
      }
      if (prev === 'audio') {
        const wasPaused = video.paused;
        open(masterUrl, live ? -1 : video.currentTime, q === 'auto' ? hints.startLevel : q);
        if (!wasPaused) void video.play().catch(() => undefined);
        if (q !== 'auto') hls!.once(HlsCtor.Events.MANIFEST_PARSED, () => { if (hls) hls.currentLevel = q; });
        return;
      }
      if (hls) hls.currentLevel = q === 'auto' ? -1 : q;
    },
    delayS() {
      if (!live || !hls) return undefined;
      const at = hls.playingDate;
      if (at) return Math.max(0, (Date.now() - at.getTime()) / 1000);
      return Number.isFinite(hls.latency) ? hls.latency : undefined;
    },
    destroy() {
      stopWatching();
      hls?.destroy();
      hls = undefined;
    },
  };
}
