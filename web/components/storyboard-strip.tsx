import { useEffect, useState } from 'preact/hooks';
import { parseStoryboard, sheetSizes, type StoryboardCue } from '../lib/storyboard.ts';
import { clock } from '../lib/format.ts';

/**
 * Every storyboard thumbnail in a grid that fits the width it is given (three across on a phone,
 * eight or so beside a desktop preview): the reviewer scans the whole recording and jumps with one
 * tap. Each tile shows its cell of the sprite scaled with percentages of the sprite's size, so no
 * tile is cut or spills whatever width it gets.
 */
export function StoryboardStrip({ vttUrl, onSeek, label }: { vttUrl: string; onSeek: (s: number) => void; label: string }) {
  const [cues, setCues] = useState<StoryboardCue[]>([]);
  const [sheets, setSheets] = useState<Map<string, { width: number; height: number }>>(new Map());
  useEffect(() => {
    let live = true;
    fetch(vttUrl).then((r) => (r.ok ? r.text() : '')).then((v) => {
      if (!live) return;
      const parsed = parseStoryboard(v, vttUrl);
      setCues(parsed);
      // the grid the cues imply, corrected by the sprite's real size once it has loaded
      setSheets(sheetSizes(parsed));
      for (const url of new Set(parsed.map((c) => c.image))) {
        const img = new Image();
        img.onload = () => live && img.naturalWidth && setSheets((m) => new Map(m).set(url, { width: img.naturalWidth, height: img.naturalHeight }));
        img.src = url;
      }
    }, () => undefined);
    return () => {
      live = false;
    };
  }, [vttUrl]);
  if (!cues.length) return null;
  return (
    <div class="storyboard" data-testid="storyboard-strip" role="group" aria-label={label}>
      {cues.map((c) => {
        const sheet = sheets.get(c.image) ?? { width: c.x + c.w, height: c.y + c.h };
        const pos = (offset: number, tile: number, total: number) => (total > tile ? `${(offset / (total - tile)) * 100}%` : '0%');
        return (
          <button key={c.start} type="button" class="storyboard__tile" aria-label={clock(c.start)} onClick={() => onSeek(c.start)}>
            <span
              class="storyboard__image"
              data-cell={`${c.x},${c.y},${c.w},${c.h}`}
              style={{
                aspectRatio: `${c.w} / ${c.h}`,
                backgroundImage: `url("${c.image}")`,
                backgroundSize: `${(sheet.width / c.w) * 100}% ${(sheet.height / c.h) * 100}%`,
                backgroundPosition: `${pos(c.x, c.w, sheet.width)} ${pos(c.y, c.h, sheet.height)}`,
              }}
            />
            <span class="storyboard__time" aria-hidden="true">{clock(c.start)}</span>
          </button>
        );
      })}
    </div>
  );
}
