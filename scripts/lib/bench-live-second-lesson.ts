/**
 * bench:live part 4 (issue 11 item 6): capture -> listed and fetchable at the gateway with the default
 * ladder, first with one lesson on air, then while a second lesson is on air too (its own barcode
 * publisher, same system; with the default LIVE_CONCURRENCY=1 the second one gets no transcoder and is
 * served its captured source). Median and p95 per lesson and phase, with the load average, against the
 * goal: median under 2.5 s.
 *
 * The measuring parts (system, lesson, barcode publisher, playlist poller, decoder) are bench-live.ts's
 * own, handed in, so both parts measure the same way.
 */
import os from 'node:os';

export interface Arrivals {
  length: number;
}

/** What part 4 borrows from bench-live.ts. */
export interface LatencyKit<R, A extends Arrivals> {
  startRig(dir: string, roles: { worker: boolean }, over: Record<string, string>): Promise<R>;
  url(r: R): string;
  stopRig(r: R): Promise<void>;
  liveLesson(r: R): Promise<{ id: string; publishUrl: string }>;
  startBarcodePublisher(url: string): { stop: () => Promise<void> };
  watchPlaylist(list: () => Promise<string | null>, fetchSeg: (uri: string) => Promise<Buffer | null>, until: () => boolean): Promise<A>;
  measure(arrivals: A): Promise<{ delays: number[] }>;
  /** Percentile and the seconds format of part 1's lines. */
  pct(xs: number[], p: number): number;
  fmtS(ms: number): string;
}

const goalMs = 2500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

/**
 * The top video variant of a lesson's live master: the ladder's largest rung once the transcoder has
 * written its master (`ladder`), else, after `timeoutMs` or when not waiting for a ladder, whatever the
 * master lists (the captured source while no transcoder is free).
 */
async function topVariant(base: string, id: string, timeoutMs: number, ladder: boolean): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let found: string | undefined;
  for (;;) {
    const res = await fetch(`${base}/live/${id}/master.m3u8`).catch(() => undefined);
    if (res?.status === 200) {
      const variants = [...(await res.text()).matchAll(/RESOLUTION=(\d+)x\d+.*\n(.+)/g)].sort((a, b) => Number(b[1]) - Number(a[1]));
      found = variants[0]?.[2].trim() ?? found;
      if (found && (!ladder || !found.startsWith('source/'))) return found;
    }
    if (Date.now() > deadline) {
      if (found) return found;
      throw new Error(`the live master of ${id} never listed a video variant`);
    }
    await sleep(200);
  }
}

const what = (variant: string): string => (variant.startsWith('source/') ? 'captured source' : `ladder, ${variant.slice(0, variant.indexOf('/'))}`);

/** Lists and fetches one lesson's playlist until `end`, and measures the delays of its frames. */
async function watchLesson<R, A extends Arrivals>(kit: LatencyKit<R, A>, base: string, id: string, variant: string, end: number): Promise<{ delays: number[]; segments: number }> {
  const folder = variant.slice(0, variant.lastIndexOf('/') + 1);
  const arrivals = await kit.watchPlaylist(
    async () => {
      const res = await fetch(`${base}/live/${id}/${variant}`);
      return res.status === 200 ? res.text() : null;
    },
    async (u) => {
      const res = await fetch(new URL(u, `${base}/live/${id}/${folder}`));
      return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
    },
    () => Date.now() > end,
  );
  return { delays: (await kit.measure(arrivals)).delays, segments: arrivals.length };
}

/** One measured lesson of part 4: what was measured and its median delay (ms; null: no frame measured). */
export interface LessonMedian {
  name: string;
  medianMs: number | null;
}

function row(kit: Pick<LatencyKit<unknown, Arrivals>, 'pct' | 'fmtS'>, name: string, m: { delays: number[]; segments: number }): LessonMedian {
  const { pct, fmtS } = kit;
  if (!m.delays.length) {
    console.log(`   ${name.padEnd(56)} no frames measured (${m.segments} segments)`);
    return { name, medianMs: null };
  }
  const med = pct(m.delays, 50);
  console.log(`   ${name.padEnd(56)} median ${fmtS(med)}  p95 ${fmtS(pct(m.delays, 95))}  (${m.delays.length} frames, ${m.segments} segments) -> goal ${fmtS(goalMs)} ${med < goalMs ? 'met' : 'NOT met'}`);
  return { name, medianMs: med };
}

/** Part 4's medians against the goal, for the run's summary. */
export function summariseSecondLesson(rows: readonly LessonMedian[], fmtS: (ms: number) => string): string[] {
  return rows.map((r) => `${r.name}: median ${r.medianMs === null ? 'not measured' : `${fmtS(r.medianMs)} -> goal ${fmtS(goalMs)} ${r.medianMs < goalMs ? 'met' : 'NOT met'}`}`);
}

/**
 * Part 4: one lesson on air for `seconds`, then a second one joins and both are measured for `seconds`.
 * Also prints how long the first lesson waited for its ladder (the transcoder's probe and start; the
 * captured source plays meanwhile), which the per-frame delays, measured once the ladder is listed, leave out.
 */
export async function partSecondLesson<R, A extends Arrivals>(dir: string, kit: LatencyKit<R, A>, o: { seconds: number; ladder: string }): Promise<LessonMedian[]> {
  const concurrency = process.env.LIVE_CONCURRENCY ?? '1';
  console.log(`\n4. capture -> listed and fetchable at the gateway with a second lesson on air (720p30 publishers, LIVE_LADDER=${o.ladder}, LIVE_CONCURRENCY=${concurrency}, ${o.seconds} s per phase)`);
  const r = await kit.startRig(dir, { worker: true }, { LIVE_LADDER: o.ladder, LIVE_CONCURRENCY: concurrency });
  const pubs: { stop: () => Promise<void> }[] = [];
  try {
    const base = kit.url(r);
    const a = await kit.liveLesson(r);
    const published = Date.now();
    pubs.push(kit.startBarcodePublisher(a.publishUrl));
    const va = await topVariant(base, a.id, 90_000, true);
    console.log(`   lesson 1 on air, its ladder listed ${kit.fmtS(Date.now() - published)} after the publisher started (the captured source plays before); measuring ${va} (load ${load()})`);
    const alone = await watchLesson(kit, base, a.id, va, Date.now() + o.seconds * 1000);
    const rows = [row(kit, `one lesson on air: lesson 1 (${what(va)})`, alone)];

    const b = await kit.liveLesson(r);
    pubs.push(kit.startBarcodePublisher(b.publishUrl));
    const vb = await topVariant(base, b.id, 90_000, false);
    // lesson 1's master may have gone to the source if its transcoder fell far behind meanwhile
    const va2 = await topVariant(base, a.id, 0, false);
    console.log(`   lesson 2 on air, measuring ${vb} (lesson 1: ${va2}; load ${load()})`);
    const end = Date.now() + o.seconds * 1000;
    const [one, two] = await Promise.all([watchLesson(kit, base, a.id, va2, end), watchLesson(kit, base, b.id, vb, end)]);
    rows.push(row(kit, `two lessons on air: lesson 1 (${what(va2)})`, one), row(kit, `two lessons on air: lesson 2 (${what(vb)})`, two));
    console.log(`   load average at the end: ${load()} (${os.cpus().length} cores)`);
    return rows;
  } finally {
    await Promise.all(pubs.map((p) => p.stop()));
    await kit.stopRig(r);
  }
}
