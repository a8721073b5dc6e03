import { useRef, useState } from 'preact/hooks';
import { t } from '../i18n/zh-CN.ts';
import { clock } from '../lib/format.ts';
import { cueAt, parseStoryboard, type StoryboardCue } from '../lib/storyboard.ts';

/**
 * The seek bar of a recorded lesson: a range input (arrow keys, Home/End and touch work as everywhere)
 * with the storyboard's thumbnail above the point under the finger, pointer or keyboard. The
 * storyboard is fetched on first use only, never before the video.
 */
export function SeekBar({ time, duration, storyboardUrl, onSeek }: { time: number; duration: number; storyboardUrl?: string; onSeek: (s: number) => void }) {
  const cues = useRef<StoryboardCue[] | null>(null);
  const loading = useRef(false);
  const [preview, setPreview] = useState<{ at: number; frac: number } | null>(null);
  const [, setLoaded] = useState(0);
  const load = (): void => {
    if (!storyboardUrl || loading.current) return;
    loading.current = true;
    fetch(storyboardUrl)
      .then((r) => (r.ok ? r.text() : ''))
      .then((vtt) => {
        cues.current = parseStoryboard(vtt, storyboardUrl);
        setLoaded((n) => n + 1);
      })
      .catch(() => undefined);
  };
  const at = (e: PointerEvent): void => {
    const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
    const frac = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    setPreview({ at: frac * duration, frac });
  };
  const cue = preview && cues.current?.length ? cueAt(cues.current, preview.at) : undefined;
  return (
    <div class="seek-bar" onPointerEnter={load} onPointerMove={at} onPointerLeave={() => setPreview(null)}>
      {preview && (
        <div class="seek-bar__preview" style={{ left: `${preview.frac * 100}%` }} aria-hidden="true">
          {cue && <div class="seek-bar__thumb" style={{ width: `${cue.w}px`, height: `${cue.h}px`, backgroundImage: `url("${cue.image}")`, backgroundPosition: `-${cue.x}px -${cue.y}px` }} />}
          <span>{clock(preview.at)}</span>
        </div>
      )}
      <input
        type="range"
        min={0}
        max={Math.max(duration, 0.1)}
        step={1}
        value={time}
        aria-label={t.seek}
        aria-valuetext={`${clock(time)} / ${clock(duration)}`}
        onFocus={load}
        onInput={(e) => {
          const v = Number((e.currentTarget as HTMLInputElement).value);
          setPreview({ at: v, frac: duration ? v / duration : 0 });
          onSeek(v);
        }}
        onBlur={() => setPreview(null)}
      />
    </div>
  );
}
