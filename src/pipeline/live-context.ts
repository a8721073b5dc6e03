/**
 * What the steps of one live session share (the `live` job, workers/live.handler.ts): the job's
 * payload, its parts, the ledger and where it is stored. The session's steps are the run loop
 * (live-run.ts), the segment watcher (live-segment-watcher.ts) and the recording (live-recording.ts).
 */
import type { Config } from '../../config/config.schema.ts';
import type { LadderSpec } from '../../config/ladder.ts';
import type { LiveControl } from '../infra/live-control.ts';
import type { LiveLedgerStore } from '../infra/live-ledger.store.ts';
import type { Logger } from '../infra/logger.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import type { LiveJob } from '../jobs/live.job.ts';
import type { LiveLedger } from '../media/live-ledger.ts';

/** A pull that delivers nothing for this long ends the run (publisher gone, ingest restarted). */
export const rwTimeoutS = 5;
/** A run that adds no slot for this long is stopped and restarted. */
export const stallS = rwTimeoutS + 20;
/**
 * How long a run whose pull is over may take to end by itself before it is signalled: the ingest's end
 * of the stream reaches ffmpeg at once, failing that its read times out (10.3 s measured with the 5 s
 * rw_timeout after the publisher's last message).
 */
export const endOfStreamWaitMs = (2 * rwTimeoutS + 2) * 1000;

export interface LiveSessionContext {
  p: LiveJob;
  config: Config;
  storage: ObjectStorage;
  bucket: string;
  log: Logger;
  control: LiveControl;
  pullUrl: string;
  ladder: LadderSpec;
  ledger: LiveLedger;
  ledgerStore: LiveLedgerStore;
  /** Slot count when the live master was last written by this worker (-1: never). */
  masterAt: number;
  /** The job's temp dir (removed by the runner). */
  dir: string;
  /** The job is being given up by this worker (it is closing). */
  signal: AbortSignal;
  /**
   * The ingest is closing and has ended its pulls (the capture only): the running ffmpeg ends with its
   * stream, no run starts after it; `signal` follows if it does not end in time.
   */
  draining?: AbortSignal;
  /** Why the last probe found the source unusable for the ladder (a probe failure reason); unset once a plan is made. */
  sourceProblem?: string;
  /** Ladder generation of the live master this worker wrote last (src/pipeline/live-ladder-fallback.ts). */
  masterGeneration?: number;
  /**
   * The capture's step after each slot's playlists: the source-only master while no transcoder is
   * alive, the fallback of a dead transcoder's rungs (src/pipeline/live-ladder-fallback.ts). Absent:
   * the transcoder, which writes its ladder's master itself.
   */
  afterSlot?: () => Promise<void>;
}

/** Why a run stops when its pull is over: its publisher's connection is gone (the ingest ended the pull). */
const pullOver = new Set(['session ended', 'publisher reconnected']);

/**
 * How a run (the transcoder's or the capture's) is stopped: at once, except when its pull is over (the
 * session ended, or its publisher reconnected: a new epoch). Its publisher's connection is gone then:
 * the ingest ends the pull when the connection closes (rtmp.child.ts endConnection, endPlayers:
 * ffmpeg reads the end of the stream and closes its last segment itself, 0.07 s after a reviewer's
 * stop here), and failing that ffmpeg's read times out; a signal now would lose that segment (ffmpeg
 * blocked in an RTMP read ignores SIGTERM until the SIGKILL), and on a loaded host what it had not
 * read yet: every second of the lesson is recorded. Measured: with a 5 s rw_timeout a pull that is
 * never ended ends by itself 10.3 s after the publisher's last message (the read times out, then the
 * close), so the wait is twice the timeout (the 7 s it was cut the last GOP of a lesson stopped at
 * once). A new epoch's run starts after the old one ended; the ingest's deep cache (10 s) holds the
 * new connection's first seconds for it.
 */
export function runStopper(ac: AbortController, onStop: (why: string) => void): { stop: (why: string) => void; dispose: () => void } {
  let ending: NodeJS.Timeout | undefined;
  return {
    stop: (why) => {
      if (ac.signal.aborted || (ending && pullOver.has(why))) return;
      onStop(why);
      if (pullOver.has(why)) ending = setTimeout(() => ac.abort(), endOfStreamWaitMs);
      else ac.abort();
    },
    dispose: () => clearTimeout(ending),
  };
}

/** Another worker took the session over (its run number is newer): this one stops writing. */
export class RunTakenOverError extends Error {
  constructor() {
    super('another worker continues this live session');
    this.name = 'RunTakenOverError';
  }
}
