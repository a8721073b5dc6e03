import pRetry from 'p-retry';

/**
 * The tree's one retry for a single call to an outside part (a storage PUT or GET that met a dropped
 * connection or a busy S3 server): `attempts` tries, 200 ms then 400 ms apart. Longer outages fail the
 * job, and BullMQ retries the job with its own backoff. p-retry (kept library) does the work.
 */
export function retry<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  return pRetry(() => fn(), { retries: attempts - 1, minTimeout: 200, factor: 2, randomize: false });
}
