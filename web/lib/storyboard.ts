/** One thumbnail of a storyboard: its time span and its cell in the sprite image. */
export interface StoryboardCue {
  start: number;
  end: number;
  image: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

const time = (s: string): number => {
  const parts = s.trim().split(':').map(Number);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
};

/** Parses a WebVTT thumbnail track (`image#xywh=x,y,w,h` cues); image URIs resolve against the track's URL. */
export function parseStoryboard(vtt: string, base: string): StoryboardCue[] {
  const cues: StoryboardCue[] = [];
  const lines = vtt.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^([\d:.]+)\s+-->\s+([\d:.]+)/.exec(lines[i]);
    if (!m) continue;
    const ref = /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec((lines[i + 1] ?? '').trim());
    if (!ref) continue;
    cues.push({ start: time(m[1]), end: time(m[2]), image: new URL(ref[1], base).toString(), x: +ref[2], y: +ref[3], w: +ref[4], h: +ref[5] });
  }
  return cues;
}

export function cueAt(cues: StoryboardCue[], s: number): StoryboardCue | undefined {
  let lo = 0;
  let hi = cues.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cues[mid].end <= s) lo = mid + 1;
    else if (cues[mid].start > s) hi = mid - 1;
    else return cues[mid];
  }
  return cues[cues.length - 1];
}

/** Each sprite's size as its cues tile it (the right and bottom edges of its furthest cells). */
export function sheetSizes(cues: StoryboardCue[]): Map<string, { width: number; height: number }> {
  const out = new Map<string, { width: number; height: number }>();
  for (const c of cues) {
    const s = out.get(c.image) ?? { width: 0, height: 0 };
    out.set(c.image, { width: Math.max(s.width, c.x + c.w), height: Math.max(s.height, c.y + c.h) });
  }
  return out;
}
