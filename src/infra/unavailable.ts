/**
 * Whether an error means a part underneath (PostgreSQL, Redis, object storage) is not reachable right
 * now, as opposed to a bug: the API answers those with 503 and Retry-After, never 500, and the caller
 * tries again once the part is back (issue 13: PostgreSQL restarted, S3 unreachable, Redis restarted).
 */

/** Socket-level failures of any client (pg, ioredis, the S3 client over http). */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * PostgreSQL SQLSTATEs of a server going away or not there yet: class 08 (connection exception),
 * 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up / shutting down).
 */
const pgUnavailable = (code: string) => code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03';

/** Messages of pg and ioredis for a connection that ended under a query (they carry no code). */
const messages = [
  /^Connection terminated/, // pg: server closed the connection
  /^Client has encountered a connection error/, // pg pool
  /^Connection is closed\.?$/, // ioredis
  /^Reached the max retries per request limit/, // ioredis MaxRetriesPerRequestError
  /^Stream isn't writeable and enableOfflineQueue options is false/, // ioredis
];

export function isUnavailableError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 3) return false;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (socketCodes.has(e.code) || (/^[0-9A-Z]{5}$/.test(e.code) && pgUnavailable(e.code)))) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.message === 'string' && messages.some((re) => re.test(e.message as string))) return true;
  // AggregateError (a connect to several addresses) and wrapped causes
  if (Array.isArray(e.errors) && e.errors.some((x) => isUnavailableError(x, depth + 1))) return true;
  return isUnavailableError(e.cause, depth + 1);
}

/** Seconds a client is asked to wait before trying again when a part is unreachable. */
export const unavailableRetryAfterS = 5;
