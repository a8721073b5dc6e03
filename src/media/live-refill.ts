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
