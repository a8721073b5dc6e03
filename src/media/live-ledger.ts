/**
 * The ledger of a live session: every segment slot uploaded so far (across ffmpeg runs and workers),
 * the renditions and the runs. It lives in object storage next to the segments so that a worker that
 * replaces a dead one (BullMQ stalled-job recovery) continues the same playlists and the same
 * recording. Pure: types, zod schemas of the stored form, slot arithmetic; the handler does the I/O.
 *
 * A *slot* is one segment position of the session: the same media sequence number in every rendition
 * (one ffmpeg writes all renditions with keyframes at the same instants, so segment n of a run covers
 * the same time everywhere). A *run* is one ffmpeg pull: a publisher (re)connect, an ffmpeg restart or
 * a worker failover starts a new run, and its first slot carries a discontinuity.
 */
import { z } from 'zod';

/** One rendition's segment in a slot. */
export interface LiveSlotPart {
  durationS: number;
  bytes: number;
}

export interface LiveSlot {
  /** Media sequence number: position in the whole session, from 0. */
  msn: number;
  /** Run that wrote it (segment names carry it, so runs never overwrite each other). */
  run: number;
  /** ffmpeg's own segment number within the run. */
  seq: number;
  /** Wall-clock start, ms since the epoch (EXT-X-PROGRAM-DATE-TIME). */
  pdtMs: number;
  /** An EXT-X-DISCONTINUITY precedes this slot. */
  discontinuity: boolean;
  /** Per rendition, in ledger rendition order. */
  parts: LiveSlotPart[];
  /**
   * Start on the publisher's timeline as the ingest relays it, ms (src/media/source-time.ts): the same
   * clock for the capture and the transcoder within one epoch. Absent when the pull's start was not known.
   */
  srcMs?: number;
}

/** A rendition of the session (fixed by the first run: the master lists the same variants throughout). */
export interface LiveRenditionEntry {
  name: string;
  kind: 'video' | 'audio';
  /** RFC 6381 codecs measured from the first segment (null until one was seen). */
  codecs: string | null;
  /** Bit rate the ladder caps it at (mux included), b/s: the live BANDWIDTH until measured. */
  capBps: number;
}

export interface LiveRunEntry {
  run: number;
  /** The catalog's publisher epoch the run pulled. */
  epoch: number;
  startedAtMs: number;
  /** Video sizes of this run's renditions (a reconnect may bring another source size). */
  sizes: Record<string, { width: number; height: number }>;
  frameRate: number | null;
  /** The transcode plan, reused when a run restarts on the same epoch (no second probe). */
  plan: unknown;
  /** The passthrough decision of the run (src/media/passthrough.ts): the rendition copied, else why not. */
  passthrough?: { copied: string | null; refused: string[] } | null;
}

export interface LiveLedger {
  sessionId: string;
  lessonId: string;
  segmentSeconds: number;
  /** EXT-X-TARGETDURATION: constant for the session (raised only if a segment ever outgrew it). */
  targetDurationS: number;
  renditions: LiveRenditionEntry[];
  runs: LiveRunEntry[];
  slots: LiveSlot[];
}

/** Slots per sealed page: the head object stays small however long the lesson runs. */
export const ledgerPageSlots = 256;

const slotTuple = z.tuple([
  z.number().int().min(0),
  z.number().int().min(1),
  z.number().int().min(0),
  z.number().int(),
  z.union([z.literal(0), z.literal(1)]),
  z.array(z.tuple([z.number().min(0), z.number().int().min(0)])),
  z.number().int().optional(),
]);
type SlotTuple = z.infer<typeof slotTuple>;

const renditionSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/),
  kind: z.enum(['video', 'audio']),
  codecs: z.string().nullable(),
  capBps: z.number().min(0),
});

const runSchema = z.object({
  run: z.number().int().min(1),
  epoch: z.number().int().min(0),
  startedAtMs: z.number(),
  sizes: z.record(z.string(), z.object({ width: z.number().int().min(2), height: z.number().int().min(2) })),
  frameRate: z.number().nullable(),
  plan: z.unknown(),
  passthrough: z.object({ copied: z.string().nullable(), refused: z.array(z.string()) }).nullable().optional(),
});

/** The head object: everything but the sealed pages. */
export const ledgerHeadSchema = z.object({
  v: z.literal(1),
  sessionId: z.string(),
  lessonId: z.string(),
  segmentSeconds: z.number().positive(),
  targetDurationS: z.number().int().min(1),
  renditions: z.array(renditionSchema),
  runs: z.array(runSchema),
  sealedPages: z.number().int().min(0),
  tail: z.array(slotTuple),
});
export type LedgerHead = z.infer<typeof ledgerHeadSchema>;

export const ledgerPageSchema = z.object({ v: z.literal(1), page: z.number().int().min(0), slots: z.array(slotTuple) });
export type LedgerPage = z.infer<typeof ledgerPageSchema>;

const toTuple = (s: LiveSlot): SlotTuple => {
  const parts = s.parts.map((p) => [p.durationS, p.bytes] as [number, number]);
  return s.srcMs === undefined ? [s.msn, s.run, s.seq, s.pdtMs, s.discontinuity ? 1 : 0, parts] : [s.msn, s.run, s.seq, s.pdtMs, s.discontinuity ? 1 : 0, parts, s.srcMs];
};
const fromTuple = (t: SlotTuple): LiveSlot => ({
  msn: t[0], run: t[1], seq: t[2], pdtMs: t[3], discontinuity: t[4] === 1, parts: t[5].map(([durationS, bytes]) => ({ durationS, bytes })),
  ...(t[6] === undefined ? {} : { srcMs: t[6] }),
});

export function newLedger(o: { sessionId: string; lessonId: string; segmentSeconds: number }): LiveLedger {
  return { sessionId: o.sessionId, lessonId: o.lessonId, segmentSeconds: o.segmentSeconds, targetDurationS: Math.max(1, Math.round(o.segmentSeconds)), renditions: [], runs: [], slots: [] };
}

/** Pages that are full (sealed pages never change once written). */
export function sealedPageCount(ledger: LiveLedger): number {
  return Math.floor(ledger.slots.length / ledgerPageSlots);
}

export function ledgerPage(ledger: LiveLedger, page: number): LedgerPage {
  const slots = ledger.slots.slice(page * ledgerPageSlots, (page + 1) * ledgerPageSlots);
  if (slots.length !== ledgerPageSlots) throw new Error(`page ${page} is not full`);
  return { v: 1, page, slots: slots.map(toTuple) };
}

export function ledgerHead(ledger: LiveLedger): LedgerHead {
  const sealed = sealedPageCount(ledger);
  return {
    v: 1,
    sessionId: ledger.sessionId,
    lessonId: ledger.lessonId,
    segmentSeconds: ledger.segmentSeconds,
    targetDurationS: ledger.targetDurationS,
    renditions: ledger.renditions,
    runs: ledger.runs,
    sealedPages: sealed,
    tail: ledger.slots.slice(sealed * ledgerPageSlots).map(toTuple),
  };
}

/** Rebuilds a ledger from its head and its sealed pages (in page order). */
export function ledgerFrom(head: LedgerHead, pages: LedgerPage[]): LiveLedger {
  if (pages.length !== head.sealedPages) throw new Error(`ledger head names ${head.sealedPages} pages, ${pages.length} given`);
  const slots = [...pages.flatMap((p, i) => {
    if (p.page !== i || p.slots.length !== ledgerPageSlots) throw new Error(`ledger page ${i} is damaged`);
    return p.slots;
  }), ...head.tail].map(fromTuple);
  slots.forEach((s, i) => {
    if (s.msn !== i) throw new Error(`ledger slot ${i} carries sequence number ${s.msn}`);
    if (s.parts.length !== head.renditions.length) throw new Error(`ledger slot ${i} has ${s.parts.length} parts for ${head.renditions.length} renditions`);
  });
  return {
    sessionId: head.sessionId,
    lessonId: head.lessonId,
    segmentSeconds: head.segmentSeconds,
    targetDurationS: head.targetDurationS,
    renditions: head.renditions,
    runs: head.runs.map((r) => ({ ...r, plan: r.plan })),
    slots,
  };
}

/** What a run hands over for one finished segment position. */
export interface SlotInput {
  run: number;
  seq: number;
  parts: LiveSlotPart[];
  /** ffmpeg's wall-clock start of the run's first segment (ms), used for the run's first slot. */
  runStartPdtMs: number;
  /** Sum of the reference durations of the run's earlier slots, seconds. */
  runElapsedS: number;
  /** Segments were lost inside the run (the watcher fell behind): mark a discontinuity anyway. */
  gap: boolean;
  /** The segment's start on the publisher's timeline, ms, when known. */
  srcMs?: number | null;
}

/**
 * The next slot of the session. PROGRAM-DATE-TIME is the run's start plus the run's elapsed media time
 * (no drift from per-segment rounding), never earlier than the previous slot's end: a worker with a
 * slower clock after a failover cannot make time run backwards. The first slot of a run after earlier
 * slots carries the discontinuity (new timestamps, maybe new encoder settings: RFC 8216 4.3.2.3).
 */
export function nextSlot(ledger: LiveLedger, input: SlotInput): LiveSlot {
  if (input.parts.length !== ledger.renditions.length) throw new Error(`a slot needs ${ledger.renditions.length} parts, got ${input.parts.length}`);
  const prev = ledger.slots[ledger.slots.length - 1];
  const firstOfRun = !prev || prev.run !== input.run;
  const prevEnd = prev ? prev.pdtMs + Math.round(prev.parts[0].durationS * 1000) : -Infinity;
  const planned = input.runStartPdtMs + Math.round(input.runElapsedS * 1000);
  return {
    msn: ledger.slots.length,
    run: input.run,
    seq: input.seq,
    pdtMs: Math.max(planned, prevEnd),
    discontinuity: !!prev && (firstOfRun || input.gap),
    parts: input.parts.map((p) => ({ durationS: round6(p.durationS), bytes: p.bytes })),
    ...(input.srcMs == null ? {} : { srcMs: input.srcMs }),
  };
}

/** Appends a slot; raises the target duration if a segment outgrew it (logged by the caller). */
export function appendSlot(ledger: LiveLedger, slot: LiveSlot): { raisedTarget: boolean } {
  if (slot.msn !== ledger.slots.length) throw new Error(`slot ${slot.msn} appended at position ${ledger.slots.length}`);
  ledger.slots.push(slot);
  const longest = Math.max(...slot.parts.map((p) => Math.round(p.durationS)));
  if (longest > ledger.targetDurationS) {
    ledger.targetDurationS = longest;
    return { raisedTarget: true };
  }
  return { raisedTarget: false };
}

/** Slots grouped into continuous stretches (split at discontinuities). */
export function stretches(slots: readonly LiveSlot[]): LiveSlot[][] {
  const out: LiveSlot[][] = [];
  for (const s of slots) {
    if (!out.length || s.discontinuity) out.push([]);
    out[out.length - 1].push(s);
  }
  return out;
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6;

/**
 * A rendition's CODECS with the codecs of another run added. Every distinct format is listed (RFC 8216
 * 4.3.4.2: each format present in the variant): a copied Constrained Baseline top rung and its High
 * refill, or a reconnect at another level, are both declared.
 */
export function mergeCodecs(known: string | null, found: readonly (string | null | undefined)[]): string | null {
  const list = known ? known.split(',') : [];
  for (const c of found) {
    if (c && !list.includes(c)) list.push(c);
  }
  return list.join(',') || null;
}
