import { useEffect, useState } from 'preact/hooks';
import { parseStoryboard, type StoryboardCue } from '../lib/storyboard.ts';
import { clock } from '../lib/format.ts';

/** Every storyboard thumbnail in a row: the reviewer scans the whole recording and jumps with one tap. */
export function StoryboardStrip({ vttUrl, onSeek }: { vttUrl: string; onSeek: (s: number) => void }) {
  const [cues, setCues] = useState<StoryboardCue[]>([]);
  useEffect(() => {
    let live = true;
    fetch(vttUrl).then((r) => (r.ok ? r.text() : '')).then((v) => live && setCues(parseStoryboard(v, vttUrl)), () => undefined);
    return () => {
      live = false;
    };
  }, [vttUrl]);
  if (!cues.length) return null;
  return (
    <div class="storyboard" data-testid="storyboard-strip">
      {cues.map((c) => (
        <button key={c.start} type="button" aria-label={clock(c.start)} title={clock(c.start)} onClick={() => onSeek(c.start)}>
          <span style={{ width: `${c.w}px`, height: `${c.h}px`, backgroundImage: `url("${c.image}")`, backgroundPosition: `-${c.x}px -${c.y}px` }} />
        </button>
      ))}
    </div>
  );
}
