/**
 * Live playlists (REFERENCE.md "Live"): the viewers' sliding-window media playlists, the recording's
 * VOD media playlists with the session's discontinuities, the live multivariant playlist, and reading
 * what ffmpeg writes locally during a run. Pure: text in, text out.
 */
import { measureBandwidth, orderVariants, requiredVersion, writeMasterPlaylist, writeMediaPlaylist, type VariantEntry } from './hls-playlists.ts';
import { readMediaPlaylistText } from './hls-reader.ts';
import type { LiveLedger, LiveSlot } from './live-ledger.ts';

/** Segment file name of a slot: the run in the name keeps runs (and workers) from overwriting each other. */
export function liveSegmentFile(run: number, seq: number): string {
  return `r${String(run).padStart(4, '0')}-${String(seq).padStart(5, '0')}.ts`;
}

/**
 * Index of the first slot viewers get: the last `windowSegments`, extended back while the window is
 * shorter than three target durations (RFC 8216 6.2.2: a live playlist never lasts less than that).
 */
export function liveWindowStart(slots: readonly LiveSlot[], windowSegments: number, targetDurationS: number): number {
  let start = Math.max(0, slots.length - windowSegments);
  let total = slots.slice(start).reduce((s, x) => s + x.parts[0].durationS, 0);
  while (start > 0 && total < 3 * targetDurationS) {
    start--;
    total += slots[start].parts[0].durationS;
  }
  return start;
}

/** Viewers get playlists only once three target durations are there (the first playlist never shrinks below that). */
export function livePlaylistReady(slots: readonly LiveSlot[], targetDurationS: number): boolean {
  return slots.reduce((s, x) => s + x.parts[0].durationS, 0) >= 3 * targetDurationS - 0.5;
}

/** A rendition's segments of the given slots, each with its wall-clock start and its discontinuity. */
function slotSegments(slots: readonly LiveSlot[], rendition: number) {
  // PROGRAM-DATE-TIME on every segment (REFERENCE live rules; players map segments to wall time).
  return slots.map((s) => ({ uri: liveSegmentFile(s.run, s.seq), durationS: s.parts[rendition].durationS, discontinuity: s.discontinuity, programDateTimeMs: s.pdtMs }));
}

export interface LiveMediaOptions {
  windowSegments: number;
  targetDurationS: number;
}

/**
 * A viewer's sliding-window media playlist of one rendition. MEDIA-SEQUENCE is the first slot's
 * position in the session and DISCONTINUITY-SEQUENCE the discontinuities that left the window, so both
 * only increase (RFC 8216 6.2.1); a discontinuity at the window's first slot keeps its tag.
 */
export function writeLiveMediaPlaylist(slots: readonly LiveSlot[], rendition: number, o: LiveMediaOptions): string {
  if (!slots.length) throw new Error('a live playlist needs at least one segment');
  const start = liveWindowStart(slots, o.windowSegments, o.targetDurationS);
  return writeMediaPlaylist({
    version: requiredVersion({ decimalDurations: true, map: false }),
    targetDurationS: o.targetDurationS,
    mediaSequence: slots[start].msn,
    discontinuitySequence: slots.slice(0, start).filter((s) => s.discontinuity).length,
    // Every segment starts with an IDR (fixed 2 s GOP, cut on keyframes); AAC frames are all independent.
    independentSegments: true,
    segments: slotSegments(slots.slice(start), rendition),
    endlist: false,
  });
}

/**
 * The recording's media playlist of one rendition: every slot of the session, the discontinuities of
 * reconnects and failovers kept, PLAYLIST-TYPE VOD and ENDLIST. Written over the live playlist at the
 * same key, so a viewer still polling sees the stream end (same media sequence numbers as live).
 */
export function writeRecordingPlaylist(slots: readonly LiveSlot[], rendition: number, o: { targetDurationS: number }): string {
  if (!slots.length) throw new Error('a recording needs at least one segment');
  return writeMediaPlaylist({
    version: requiredVersion({ decimalDurations: true, map: false }),
    targetDurationS: o.targetDurationS,
    mediaSequence: slots[0].msn,
    discontinuitySequence: 0,
    playlistType: 'VOD',
    independentSegments: true,
    segments: slotSegments(slots, rendition),
    endlist: true,
  });
}

/** A media playlist ffmpeg writes locally during a run (hls muxer, sliding list). */
export interface FfmpegLivePlaylist {
  mediaSequence: number;
  endlist: boolean;
  segments: { seq: number; uri: string; durationS: number }[];
}

/** Reads ffmpeg's local playlist: sequence numbers, file names, durations. */
export function readFfmpegLivePlaylist(text: string): FfmpegLivePlaylist {
  const m = readMediaPlaylistText('', text);
  if (!Number.isInteger(m.mediaSequence) || m.mediaSequence < 0) throw new Error('bad EXT-X-MEDIA-SEQUENCE in the local playlist');
  const listed = m.segments.filter((s) => Number.isFinite(s.durationS));
  return { mediaSequence: m.mediaSequence, endlist: m.endlist, segments: listed.map((s, i) => ({ seq: m.mediaSequence + i, uri: s.uri, durationS: s.durationS })) };
}

/** Segment positions every rendition has finished, from the run's local playlists. */
export interface ReadySlots {
  /** Per ready position: its ffmpeg segment number and, per rendition, the local segment. */
  ready: { seq: number; parts: { uri: string; durationS: number }[] }[];
  /** Positions that left ffmpeg's local list before they were taken (the uploader fell behind). */
  skipped: number;
  /** The next position to wait for. */
  nextSeq: number;
}

/**
 * The positions from `nextSeq` on that every rendition has listed (a listed segment is complete:
 * ffmpeg renames it into place, `temp_file`, before it lists it). A position already gone from some
 * rendition's local list is skipped in all of them, so slots stay aligned. When one rendition's list
 * has run so far ahead that no position is listed by all (issue 11: a track that is not paced by the
 * input), nothing is ready: the others may still catch up, and nothing is ever read past a list's end.
 */
export function readySlots(lists: readonly FfmpegLivePlaylist[], nextSeq: number): ReadySlots {
  if (!lists.length) return { ready: [], skipped: 0, nextSeq };
  const firstListed = Math.max(...lists.map((l) => l.mediaSequence));
  const lastListed = Math.min(...lists.map((l) => (l.segments.length ? l.segments[l.segments.length - 1].seq : l.mediaSequence - 1)));
  if (lastListed < firstListed || lastListed < nextSeq) return { ready: [], skipped: 0, nextSeq };
  const skipped = Math.max(0, firstListed - nextSeq);
  const ready: ReadySlots['ready'] = [];
  let seq = nextSeq + skipped;
  for (; seq <= lastListed; seq++) {
    const parts = lists.map((l) => l.segments[seq - l.mediaSequence]);
    if (parts.some((p) => !p || p.seq !== seq)) break;
    ready.push({ seq, parts });
  }
  return { ready, skipped, nextSeq: seq };
}

/** Transport-stream overhead on top of the encoders' rates (TS/PES headers, PAT/PMT per segment). */
const tsOverhead = { video: 1.1, audio: 1.25 };

/** BANDWIDTH a rendition's caps allow before anything was measured, b/s. */
export function capBandwidth(r: { kind: 'video'; maxrateKbps: number; audioKbps: number } | { kind: 'audio'; audioKbps: number }): number {
  return Math.round(r.kind === 'video' ? (r.maxrateKbps + r.audioKbps) * 1000 * tsOverhead.video : r.audioKbps * 1000 * tsOverhead.audio);
}

/**
 * Name of a rendition's live media playlist in ladder generation `generation`. A generation ends when
 * its transcoder dies (src/pipeline/live-ladder-fallback.ts): players that hold its playlists are then
 * served the captured source under the same names, and the ladder comes back under new names, so the
 * sequence numbers behind one playlist URI only ever grow (RFC 8216 6.2.1, 6.3.4).
 */
export function liveMediaPlaylistName(generation = 0): string {
  return generation > 0 ? `index-g${generation}.m3u8` : 'index.m3u8';
}

/** Variant attributes of every rendition that has codecs, from the ledger. */
export function liveVariants(ledger: LiveLedger, o: { phase: 'live' | 'recording'; generation?: number }): VariantEntry[] {
  const lastRun = ledger.runs[ledger.runs.length - 1];
  const out: VariantEntry[] = [];
  ledger.renditions.forEach((r, i) => {
    if (!r.codecs) return;
    const m = measureBandwidth(ledger.slots.map((s) => s.parts[i]), ledger.targetDurationS);
    // Live: the cap until the encoder has shown more (a still slide measures far below what motion costs).
    const bandwidth = o.phase === 'live' ? Math.max(r.capBps, m.peakBps) : m.peakBps;
    const averageBandwidth = m.averageBps > 0 ? m.averageBps : r.capBps / 2;
    const v: VariantEntry = { uri: `${r.name}/${o.phase === 'live' ? liveMediaPlaylistName(o.generation) : 'index.m3u8'}`, bandwidth: Math.ceil(bandwidth), averageBandwidth: Math.ceil(Math.min(averageBandwidth, bandwidth)), codecs: r.codecs };
    if (r.kind === 'video') {
      // Live: the current run's size; the recording: the largest (a reconnect may have brought a smaller source).
      const sizes = (o.phase === 'live' ? [lastRun] : ledger.runs).map((x) => x?.sizes[r.name]).filter((s): s is { width: number; height: number } => !!s);
      const size = sizes.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a), sizes[0] ?? { width: 0, height: 0 });
      if (size.width > 0) v.resolution = size;
      const fr = (o.phase === 'live' ? lastRun?.frameRate : ledger.runs.find((x) => x.frameRate)?.frameRate) ?? null;
      if (fr) v.frameRate = fr;
    }
    out.push(v);
  });
  return out;
}

/** The multivariant playlist of the session (live or recording): the variant nearest 2 Mb/s first. */
export function writeLiveMaster(ledger: LiveLedger, o: { phase: 'live' | 'recording'; generation?: number }): string {
  const variants = liveVariants(ledger, o);
  if (!variants.length) throw new Error('no rendition has segments yet');
  return writeMasterPlaylist(orderVariants(variants), { version: requiredVersion({ decimalDurations: true, map: false }), independentSegments: true });
}

/**
 * Where a dead transcoder's ladder generation stopped (src/pipeline/live-ladder-fallback.ts): the last
 * slot players may have seen, the discontinuities up to it, its end, and the first captured source slot
 * that follows it.
 */
export interface LadderFreeze {
  generation: number;
  /** The frozen renditions (their playlists are served from the source from then on). */
  rungs: string[];
  /** The transcoder's last slot (its media sequence number). */
  lastMsn: number;
  /** Discontinuities among the transcoder's slots up to lastMsn. */
  discontinuities: number;
  endPdtMs: number;
  /** The capture's slot that continues the frozen rungs. */
  fromSourceMsn: number;
  /**
   * What chose fromSourceMsn: the publisher's timestamps of both ledgers, or the two hosts' wall clocks
   * (a ledger without source times). Absent in freezes recorded before it existed.
   */
  alignedOn?: 'source' | 'clock';
  /** On the source timeline, the continuing slot's start minus the rungs' end, ms (negative: replayed); null on the clocks. */
  seamMs?: number | null;
  targetDurationS: number;
}

/**
 * A captured slot that starts this little before the rungs' end still continues them: the two pulls may
 * time the same keyframe up to a frame apart (the ladder re-times onto its own frame grid; a slide sent
 * at a few frames a second has 200 ms frames), plus millisecond rounding. Replaying that much goes
 * unnoticed; skipping a whole segment for it would not.
 */
export const freezeSlackMs = 250;

type FreezeSide = Pick<LiveLedger, 'slots' | 'runs'>;

/** The freeze of a transcoder ledger's current state, continued by the capture's slots. */
export function freezeLadder(transcoded: LiveLedger, captured: FreezeSide, generation: number): LadderFreeze | null {
  const last = transcoded.slots[transcoded.slots.length - 1];
  if (!last) return null;
  const endPdtMs = last.pdtMs + Math.round(last.parts[0].durationS * 1000);
  const onSource = continuationOnSource(last, transcoded, captured);
  let from: LiveSlot | undefined;
  if (onSource === null) {
    // the captured slot whose middle comes after the rungs' end (two clocks: the nearest fit, not an exact one)
    from = captured.slots.find((s) => s.pdtMs + (s.parts[0].durationS * 1000) / 2 >= endPdtMs);
  } else from = onSource.from;
  if (!from) return null;
  return {
    generation,
    rungs: transcoded.renditions.map((r) => r.name),
    lastMsn: last.msn,
    discontinuities: transcoded.slots.filter((s) => s.discontinuity).length,
    endPdtMs,
    fromSourceMsn: from.msn,
    alignedOn: onSource ? 'source' : 'clock',
    seamMs: onSource ? onSource.seamMs : null,
    targetDurationS: transcoded.targetDurationS,
  };
}

/**
 * The captured slot that continues the rungs on the publisher's timeline: within the epoch of the
 * rungs' last slot (one publisher connection, one timeline; the next connection starts its timestamps
 * over, so numbers are compared within an epoch only), the first that starts at or after their end.
 * When the capture's epoch ended first, its next epoch's first slot. Null when the source times cannot
 * decide (a slot without one, or no captured slot of that epoch); `from` undefined: not captured yet.
 */
function continuationOnSource(last: LiveSlot, transcoded: FreezeSide, captured: FreezeSide): { from: LiveSlot | undefined; seamMs: number | null } | null {
  const epoch = transcoded.runs.find((r) => r.run === last.run)?.epoch;
  const cEpoch = new Map(captured.runs.map((r) => [r.run, r.epoch]));
  const same = captured.slots.filter((s) => cEpoch.get(s.run) === epoch);
  if (last.srcMs === undefined || epoch === undefined || !same.length || same.some((s) => s.srcMs === undefined)) return null;
  const endSrcMs = last.srcMs + Math.round(last.parts[0].durationS * 1000);
  const hit = same.find((s) => s.srcMs! >= endSrcMs - freezeSlackMs);
  if (hit) return { from: hit, seamMs: hit.srcMs! - endSrcMs };
  const after = captured.slots.find((s) => s.msn > same[same.length - 1].msn && cEpoch.get(s.run) !== epoch);
  return { from: after, seamMs: null };
}

/**
 * The playlist served under a frozen rung's name: the captured source from where the rung stopped,
 * numbered on from the rung's last sequence number, a discontinuity where it changes encoder, segment
 * URIs up into the source rendition's folder. A player that loaded the ladder before its transcoder died
 * keeps playing (at source quality) without reloading anything.
 */
export function writeSubstitutePlaylist(captured: readonly LiveSlot[], f: LadderFreeze, o: { sourceFolder: string; windowSegments: number; targetDurationS: number }): string | null {
  const shift = f.lastMsn + 1 - f.fromSourceMsn;
  const from = captured.find((s) => s.msn === f.fromSourceMsn);
  if (!from) return null;
  // Aligned on the source, the capture's times go onto the rungs' clock (the two hosts' clocks may be
  // seconds apart): one clock behind one playlist URI, never earlier than the rungs' end.
  const pdtShift = f.seamMs == null ? 0 : f.endPdtMs + Math.max(0, f.seamMs) - from.pdtMs;
  const served: LiveSlot[] = captured.filter((s) => s.msn >= f.fromSourceMsn).map((s) => ({ ...s, msn: s.msn + shift, pdtMs: s.pdtMs + pdtShift, discontinuity: s.msn === f.fromSourceMsn || s.discontinuity }));
  const target = Math.max(o.targetDurationS, f.targetDurationS);
  const start = liveWindowStart(served, o.windowSegments, target);
  return writeMediaPlaylist({
    version: requiredVersion({ decimalDurations: true, map: false }),
    targetDurationS: target,
    mediaSequence: served[start].msn,
    discontinuitySequence: f.discontinuities + served.slice(0, start).filter((s) => s.discontinuity).length,
    independentSegments: true,
    segments: slotSegments(served.slice(start), 0).map((s) => ({ ...s, uri: `../${o.sourceFolder}/${s.uri}` })),
    endlist: false,
  });
}
