/**
 * Every machine code a processing failure (transcode, live recording, cable package) can carry: the
 * job result's `errorCode`, stored beside the English message in `assets.error_code` and
 * `cable_packages.error_code`, shown to staff as `processing.errorCode`. Clients translate codes,
 * never the English message; a code once shipped keeps its meaning. Add a code here, then its
 * Chinese message in the pages' catalog.
 */
export const processingFailureCodes = [
  // the uploaded file (probe and decode)
  'source_missing', // the uploaded object is gone from storage
  'source_empty', // zero bytes
  'media_unreadable', // not a video at all (a document, a renamed file)
  'picture_only', // a still picture
  'media_truncated', // cut off: ends before its own length, or stops decoding
  'no_media_streams', // no picture or sound we can play
  'no_video_stream', // sound only
  'video_codec_unsupported', // a picture format we cannot decode
  'picture_too_small', // under 64x64
  'duration_unknown', // no length can be told
  'duration_too_long', // longer than MEDIA_MAX_DURATION_S
  // our side
  'output_invalid', // our own HLS checks failed on the result (a bug of ours)
  'invalid_job', // a job payload that does not parse (a bug of ours or a stale queue)
  'retries_exhausted', // transient failures until the last attempt (storage, ffmpeg crash)
  'processing_failed', // a failure that carries no code (a result from an older worker)
  // live
  'live_no_media', // the session ended before any picture arrived
  // cable
  'cable_source_missing', // the lesson's source is gone from storage
  'cable_recording_invalid', // the recording's playlist cannot be joined into one file
  'cable_profile_invalid', // the configured cable profile contradicts itself
  'cable_movie_off_profile', // the cable movie does not meet its profile (or cannot be read back)
  'cable_adi_invalid', // the ADI.XML fails our ADI 1.1 validation
  'cable_folder_taken', // the outbox folder holds another package or version
] as const;

export type ProcessingFailureCode = (typeof processingFailureCodes)[number];

/** A processing failure as the catalog stores it and staff see it. */
export interface ProcessingFailure {
  code: ProcessingFailureCode;
  message: string;
}

/** The code a failed job result is stored with: its own when known, else the generic one. */
export function failureCodeOf(r: { errorCode?: string }): ProcessingFailureCode {
  return isProcessingFailureCode(r.errorCode) ? r.errorCode : 'processing_failed';
}

export function isProcessingFailureCode(x: unknown): x is ProcessingFailureCode {
  return typeof x === 'string' && (processingFailureCodes as readonly string[]).includes(x);
}
