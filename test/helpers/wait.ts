/**
 * Resolves with fn()'s value once ok() holds, polling every `everyMs` (errors count as not yet: a
 * playlist not there yet, a server still starting); on timeout throws with the last value or error.
 */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((err: Error) => err as unknown as T);
    if (!(v instanceof Error) && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${v instanceof Error ? v.message : JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
