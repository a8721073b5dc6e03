/**
 * Gap-only refill of a live recording (issue 11 item 1): which captured seconds the transcoder's
 * slots miss, and the recording's slots once the refilled stretches are spliced in. Pure: slots in,
 * slots out; src/pipeline/live-capture-recording.ts does the transcodes and the uploads.
 */
import { stretches, type LiveLedger, type LiveSlot, type LiveSlotPart } from './live-ledger.ts';

const endMs = (s: LiveSlot): number => s.pdtMs + Math.round(s.parts[0].durationS * 1000);

/**
 * The stretches of captured slots no transcoder slot covers, in order. The two timelines come from
 * two clocks (the ingest's and a worker's wall-clock estimates), so a captured slot counts as covered
 * when its middle falls inside a continuous stretch of transcoded slots: each border is then off by at
 * most half a segment plus the clocks' disagreement. A gap also ends where the capture itself has a
 * discontinuity (a reconnect may bring another picture), so each gap is one continuous source.
 */
export function missingStretches(transcoded: readonly LiveSlot[], captured: readonly LiveSlot[]): LiveSlot[][] {
  const covered = stretches(transcoded).map((st) => [st[0].pdtMs, endMs(st[st.length - 1])] as const);
  const out: LiveSlot[][] = [];
  let open = false;
  for (const s of captured) {
    const mid = s.pdtMs + (s.parts[0].durationS * 1000) / 2;
    if (covered.some(([a, b]) => mid >= a && mid < b)) {
      open = false;
      continue;
    }
    if (!open || s.discontinuity) out.push([]);
    out[out.length - 1].push(s);
    open = true;
  }
  return out;
}

/** A captured stretch to transcode again: the captured slots that hold it, and what of them to keep. */
export interface RefillGap {
  slots: LiveSlot[];
  /**
   * Where the missing span starts in the slots joined end to end, and its length, seconds: known when
   * both ledgers carry source times. Null: the whole slots (whose middles no transcoder slot covers).
   */
  trim: { startS: number; durationS: number } | null;
  /** Its start on the recording's clock (the transcoder's PROGRAM-DATE-TIME where it has one near). */
  startPdtMs: number;
}

/**
 * A missing span shorter than this is not refilled: two pulls' first frames a little apart, or the
 * capture's last segment, whose EXTINF (to its last sound) reaches past its last picture.
 */
export const minGapMs = 500;
/** Transcoded slots this close on the source timeline are one covered span (segment rounding). */
const joinMs = 100;

type Timed = Pick<LiveLedger, 'slots' | 'runs'>;
const srcEnd = (s: LiveSlot): number => s.srcMs! + Math.round(s.parts[0].durationS * 1000);

/**
 * The captured stretches the transcoder's recording misses. On the publisher's own timeline when every
 * slot of both ledgers knows its source time (src/media/source-time.ts): within one epoch (one publisher
 * connection, one timeline) the captured span minus the transcoded spans, to the millisecond, so the
 * spliced recording neither repeats nor drops what both have. Otherwise by the two wall clocks
 * (missingStretches: whole captured slots, off by the clocks' disagreement).
 */
export function refillGaps(transcoded: Timed, captured: Timed): RefillGap[] {
  const timed = [...transcoded.slots, ...captured.slots].every((s) => s.srcMs !== undefined);
  if (!timed) return missingStretches(transcoded.slots, captured.slots).map((slots) => ({ slots, trim: null, startPdtMs: slots[0].pdtMs }));
  const epochs = (l: Timed) => new Map(l.runs.map((r) => [r.run, r.epoch]));
  const tEpoch = epochs(transcoded);
  const cEpoch = epochs(captured);
  const out: RefillGap[] = [];
  for (const st of splitAt(stretches(captured.slots), (a, b) => cEpoch.get(a.run) !== cEpoch.get(b.run))) {
    const epoch = cEpoch.get(st[0].run);
    const covering = transcoded.slots.filter((s) => tEpoch.get(s.run) === epoch);
    for (const [a, b] of uncovered(st[0].srcMs!, srcEnd(st[st.length - 1]), covering)) {
      if (b - a < minGapMs) continue;
      const slots = st.filter((s) => s.srcMs! < b && srcEnd(s) > a);
      // the recording's clock where it has the transcoder's slots near; the capture's own otherwise
      const ref = nearestOnSource(covering, a) ?? slots[0];
      out.push({ slots, trim: { startS: Math.max(0, a - slots[0].srcMs!) / 1000, durationS: (b - a) / 1000 }, startPdtMs: ref.pdtMs + (a - ref.srcMs!) });
    }
  }
  return out;
}

/** [from, to) minus the source spans of the covering slots, in order. */
function uncovered(from: number, to: number, covering: readonly LiveSlot[]): [number, number][] {
  const spans = covering.map((s) => [s.srcMs!, srcEnd(s)] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  let at = from;
  for (const [a, b] of spans) {
    if (b <= at) continue;
    if (a >= to) break;
    if (a > at + joinMs) out.push([at, Math.min(a, to)]);
    at = Math.max(at, b);
  }
  if (at < to) out.push([at, to]);
  return out;
}

function nearestOnSource(slots: readonly LiveSlot[], ms: number): LiveSlot | undefined {
  return slots.reduce<LiveSlot | undefined>((best, s) => (!best || Math.abs(s.srcMs! - ms) < Math.abs(best.srcMs! - ms) ? s : best), undefined);
}

/** Each group split further wherever `apart` holds between neighbours. */
function splitAt(groups: LiveSlot[][], apart: (a: LiveSlot, b: LiveSlot) => boolean): LiveSlot[][] {
  return groups.flatMap((g) => {
    const out: LiveSlot[][] = [[g[0]]];
    for (let i = 1; i < g.length; i++) {
      if (apart(g[i - 1], g[i])) out.push([]);
      out[out.length - 1].push(g[i]);
    }
    return out;
  });
}

/** Seconds of a list of slots. */
export function slotSeconds(slots: readonly LiveSlot[]): number {
  return slots.reduce((t, s) => t + s.parts[0].durationS, 0);
}

/** A refilled stretch: the run that wrote its segments, its start on the session's clock, its segments per position. */
export interface RefilledStretch {
  run: number;
  startPdtMs: number;
  /** Per position: ffmpeg's segment number and each rendition's part (ledger rendition order). */
  positions: { seq: number; parts: LiveSlotPart[] }[];
}

/**
 * The recording's slots: the transcoder's stretches and the refilled ones in the order of their start,
 * renumbered from 0, a discontinuity wherever a stretch begins (new encoder, new timestamps: RFC 8216
 * 4.3.2.3), PROGRAM-DATE-TIME never earlier than the previous slot's end.
 */
export function spliceRefill(ledger: Pick<LiveLedger, 'slots'>, refills: readonly RefilledStretch[]): LiveSlot[] {
  type Piece = { start: number; slots: Omit<LiveSlot, 'msn' | 'discontinuity'>[]; firstDiscontinuity: boolean[] };
  const pieces: Piece[] = stretches(ledger.slots).map((st) => ({ start: st[0].pdtMs, slots: st, firstDiscontinuity: st.map((s, i) => i === 0 || s.discontinuity) }));
  for (const f of refills) {
    let at = f.startPdtMs;
    const slots = f.positions.map((p) => {
      const s = { run: f.run, seq: p.seq, pdtMs: at, parts: p.parts };
      at += Math.round(p.parts[0].durationS * 1000);
      return s;
    });
    if (slots.length) pieces.push({ start: f.startPdtMs, slots, firstDiscontinuity: slots.map((_, i) => i === 0) });
  }
  pieces.sort((a, b) => a.start - b.start);
  const out: LiveSlot[] = [];
  for (const piece of pieces) {
    piece.slots.forEach((s, i) => {
      const prev = out[out.length - 1];
      out.push({ msn: out.length, run: s.run, seq: s.seq, pdtMs: prev ? Math.max(s.pdtMs, endMs(prev)) : s.pdtMs, discontinuity: !!prev && piece.firstDiscontinuity[i], parts: s.parts });
    });
  }
  return out;
}
