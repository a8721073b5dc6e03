import type { z } from 'zod';
import type { ProcessingFailureCode } from '../domain/processing-failures.ts';
import { probeFailureCodes, type ProbeFailure } from '../media/probe-failures.ts';

/**
 * An input error retrying cannot fix (unreadable media, too long): the job fails at once with this
 * code and message (src/domain/processing-failures.ts), which the catalog stores and staff see.
 */
export class PermanentJobError extends Error {
  constructor(
    readonly code: ProcessingFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentJobError';
  }

  /** A source ffprobe found unusable, with the teacher's message for its reason. */
  static fromProbe(failure: ProbeFailure): PermanentJobError {
    return new PermanentJobError(probeFailureCodes[failure.reason], failure.message);
  }
}

/** A job's payload through its zod schema; a payload that does not parse fails the job at once. */
export function parseJobPayload<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new PermanentJobError('invalid_job', `invalid ${what} job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
