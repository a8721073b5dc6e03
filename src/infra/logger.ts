import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values are secrets and never reach a log line. */
export const redactPaths = [
  'password', '*.password', 'token', '*.token', 'streamKey', '*.streamKey', 'secret', '*.secret',
  'key', '*.key', 'authorization', '*.authorization', 'req.headers.authorization', 'req.headers.cookie',
  'headers.authorization', 'query.key', '*.query.key', 'streamQuery', '*.streamQuery',
];

/** One JSON logger per process; children carry ids (lessonId, assetId, jobId...). */
export function createLogger(level: string, name = 'classcast', destination?: NodeJS.WritableStream): Logger {
  return pino(
    { name, level, redact: { paths: redactPaths, censor: '[redacted]' }, base: { pid: process.pid }, serializers: { err: errSerializer } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** pino's error serialiser (message, stack, cause, own fields), with URLs in message and stack scrubbed. */
function errSerializer(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = pino.stdSerializers.err(err);
  out.message = scrubUrl(out.message);
  if (out.stack) out.stack = scrubUrl(out.stack);
  return out;
}

/** Removes secrets carried in URLs (preview tokens, stream keys) before they are logged. */
export function scrubUrl(url: string): string {
  return url
    .replace(/\/preview\/[^/?]+/g, '/preview/[redacted]')
    .replace(/([?&](?:key|token|sign|X-Amz-Signature|X-Amz-Credential)=)[^&]*/gi, '$1[redacted]');
}
