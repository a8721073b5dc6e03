import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { failureCodeOf, isProcessingFailureCode, processingFailureCodes } from '../../src/domain/processing-failures.ts';
import { parseJobPayload, PermanentJobError } from '../../src/jobs/permanent-error.ts';
import { failureMessage, probeFailureCodes, type ProbeFailureReason } from '../../src/media/probe-failures.ts';

describe('processing failure codes', () => {
  it('when the list is read, then every code is snake_case and listed once', () => {
    expect(new Set(processingFailureCodes).size).toBe(processingFailureCodes.length);
    for (const c of processingFailureCodes) expect(c).toMatch(/^[a-z]+(_[a-z0-9]+)*$/);
  });

  it('when ffprobe rejects a source, then each reason maps to its own listed code and keeps the teacher message', () => {
    const reasons = Object.keys(probeFailureCodes) as ProbeFailureReason[];
    expect(new Set(reasons.map((r) => probeFailureCodes[r])).size).toBe(reasons.length);
    for (const reason of reasons) {
      const err = PermanentJobError.fromProbe({ reason, message: failureMessage(reason) });
      expect(isProcessingFailureCode(err.code)).toBe(true);
      expect(err.message).toBe(failureMessage(reason));
    }
    expect(PermanentJobError.fromProbe({ reason: 'too-long', message: 'x' }).code).toBe('duration_too_long');
    expect(PermanentJobError.fromProbe({ reason: 'no-video', message: 'x' }).code).toBe('no_video_stream');
  });

  it('when a job payload does not parse, then the job fails at once with invalid_job naming the field', () => {
    const schema = z.object({ assetId: z.string() });
    expect(parseJobPayload(schema, { assetId: 'a' }, 'transcode')).toEqual({ assetId: 'a' });
    try {
      parseJobPayload(schema, { assetId: 1 }, 'transcode');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PermanentJobError);
      expect((err as PermanentJobError).code).toBe('invalid_job');
      expect((err as Error).message).toMatch(/^invalid transcode job: assetId: /);
    }
  });

  it('when a failed result carries no code or an unknown one, then the catalog stores the generic code', () => {
    expect(failureCodeOf({ errorCode: 'live_no_media' })).toBe('live_no_media');
    expect(failureCodeOf({})).toBe('processing_failed');
    expect(failureCodeOf({ errorCode: 'made_up' })).toBe('processing_failed');
  });
});
