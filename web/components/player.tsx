import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n/zh-CN.ts';
import { clock } from '../lib/format.ts';
import { createEngine, type Engine, type Quality, type Rung } from '../lib/playback-engine.ts';
import { Icon } from './icon.tsx';
import { LiveBadge } from './live-badge.tsx';
import { QualityMenu } from './quality-menu.tsx';
import { SeekBar } from './seek-bar.tsx';

export interface PlayerProps {
  src: string;
  live: boolean;
  poster?: string | null;
  storyboardUrl?: string;
  /** The lesson is no longer served (withdrawn, stopped): playback has ended for good. */
  onGone: () => void;
}

/**
 * The lesson player: hls.js (light build, loaded with this component) where Media Source Extensions
 * exist, the browser's own HLS on iOS; controls of our own so that each is a real button, range or
 * select (keyboard and screen readers work) and the seek bar can show storyboard thumbnails.
 */
export function Player({ src, live, poster, storyboardUrl, onGone }: PlayerProps) {
  const video = useRef<HTMLVideoElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const engine = useRef<Engine | null>(null);
  const [rungs, setRungs] = useState<Rung[]>([]);
  const [audioOnly, setAudioOnly] = useState(false);
  const [soundOnly, setSoundOnly] = useState(false);
  const [sourceOnly, setSourceOnly] = useState(false);
  const [quality, setQuality] = useState<Quality>('auto');
  const [rung, setRung] = useState<number | undefined>();
  const [paused, setPaused] = useState(true);
  const [started, setStarted] = useState(false);
  const [muted, setMuted] = useState(false);
  const [time, setTime] = useState(0);
  const [duration, setDuration] = useState(0);
  const [delay, setDelay] = useState<number | undefined>();
  const [failure, setFailure] = useState<string | null>(null);
  const [fullscreen, setFullscreen] = useState(false);

  useEffect(() => {
    const v = video.current!;
    let dead = false;
    createEngine(v, src, live, {
      onLadder: (l) => {
        if (dead) return;
        setRungs(l.rungs);
        setAudioOnly(l.audioOnly);
        setSoundOnly(l.soundOnly);
        setSourceOnly(l.sourceOnly);
      },
      onRung: (i) => !dead && setRung(i),
      onFatal: (kind) => {
        if (dead) return;
        if (kind === 'gone') {
          v.pause();
          engine.current?.destroy();
          onGone();
        } else setFailure(kind === 'unsupported' ? t.notSupported : t.playbackFailed);
      },
    }).then((e) => {
      if (dead) e.destroy();
      else {
        engine.current = e;
        // try to start at once; browsers that want a tap first keep the big play button
        void v.play().catch(() => undefined);
      }
    });
    const tick = setInterval(() => {
      if (!dead && live) setDelay(engine.current?.delayS());
    }, 2000);
    const onFs = (): void => setFullscreen(document.fullscreenElement === box.current);
    document.addEventListener('fullscreenchange', onFs);
    return () => {
      dead = true;
      clearInterval(tick);
      document.removeEventListener('fullscreenchange', onFs);
      engine.current?.destroy();
      engine.current = null;
    };
  }, [src, live]);

  const v = (): HTMLVideoElement => video.current!;
  const toggle = (): void => {
    if (v().paused) void v().play().catch(() => setFailure(t.playbackFailed));
    else v().pause();
  };
  const choose = (q: Quality): void => {
    setQuality(q);
    engine.current?.setQuality(q);
  };
  const seekBy = (d: number): void => {
    if (!live) v().currentTime = Math.max(0, Math.min(duration || Infinity, v().currentTime + d));
  };

  return (
    <div
      class={`player${quality === 'audio' || soundOnly ? ' player--audio' : ''}`}
      ref={box}
      role="group"
      aria-label={t.playerLabel}
      onKeyDown={(e) => {
        // keys on the player itself (not while a control that uses them has focus)
        const tag = (e.target as HTMLElement).tagName;
        if (tag === 'INPUT' || tag === 'SELECT' || tag === 'BUTTON') return;
        if (e.key === ' ' || e.key === 'k') { e.preventDefault(); toggle(); }
        else if (e.key === 'ArrowRight') seekBy(10);
        else if (e.key === 'ArrowLeft') seekBy(-10);
      }}
    >
      <video
        ref={video}
        class="player__video"
        playsInline
        preload="metadata"
        poster={poster ?? undefined}
        tabIndex={-1}
        onClick={toggle}
        onPlay={() => { setPaused(false); setStarted(true); setFailure(null); }}
        onPause={() => setPaused(true)}
        onTimeUpdate={(e) => setTime((e.currentTarget as HTMLVideoElement).currentTime)}
        onDurationChange={() => setDuration(Number.isFinite(v().duration) ? v().duration : 0)}
        onVolumeChange={() => setMuted(v().muted)}
      />
      {soundOnly ? <p class="player__audio-note">{t.soundOnlyLesson}</p> : quality === 'audio' && <p class="player__audio-note">{t.audioOnlyNote}</p>}
      {!started && !failure && (
        <button type="button" class="player__big-play" onClick={toggle}>
          <Icon name="play" /> {t.tapToPlay}
        </button>
      )}
      {failure && <p class="player__failure" role="alert">{failure}</p>}
      <div class="player__controls">
        <button type="button" class="player__button" onClick={toggle} aria-label={paused ? t.play : t.pause}>
          <Icon name={paused ? 'play' : 'pause'} />
        </button>
        {live ? (
          <div class="player__live">
            <LiveBadge />
            {delay !== undefined && <span class="player__delay">{t.liveDelay(Math.round(delay))}</span>}
          </div>
        ) : (
          <>
            <SeekBar time={time} duration={duration} storyboardUrl={storyboardUrl} onSeek={(s) => { v().currentTime = s; setTime(s); }} />
            <span class="player__time">{clock(time)} / {clock(duration)}</span>
          </>
        )}
        <button type="button" class="player__button" onClick={() => { v().muted = !v().muted; }} aria-label={muted ? t.unmute : t.mute}>
          <Icon name={muted ? 'muted' : 'volume'} />
        </button>
        {!soundOnly && !sourceOnly && (rungs.length > 0 || audioOnly) && <QualityMenu rungs={rungs} audioOnly={audioOnly} value={quality} playing={rung} onChange={choose} />}
        {typeof box.current?.requestFullscreen === 'function' && (
          <button
            type="button"
            class="player__button"
            aria-label={fullscreen ? t.exitFullscreen : t.fullscreen}
            onClick={() => (fullscreen ? void document.exitFullscreen() : void box.current!.requestFullscreen().catch(() => undefined))}
          >
            <Icon name="fullscreen" />
          </button>
        )}
        {/* the capture of a lesson no transcoder carries yet has no rungs to choose among: say so instead (a line of its own) */}
        {sourceOnly && !soundOnly && <p class="player__quality-note" role="status">{t.sourceQualityOnly}</p>}
      </div>
    </div>
  );
}
