/**
 * Waits until `p` settles or `ms` have passed, whichever comes first; never rejects. The closing steps
 * of a part (an ingest's pulls and captures ending with their stream, the catalog recording its last
 * events) wait for what is in flight, bounded so that nothing stuck holds a deploy.
 */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p.then(() => undefined, () => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
