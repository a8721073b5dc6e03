import { expect } from 'vitest';
import { lessonBody, type TestSystem } from './system.ts';

/** Resolves with fn()'s value once ok() holds, polling every 250 ms (errors count as not yet). */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((err: Error) => err as unknown as T);
    if (!(v instanceof Error) && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${v instanceof Error ? v.message : JSON.stringify(v).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A live lesson of teacher A approved for air now; `url` is what its publisher sends to (this system's ingest). */
export async function approvedLiveLesson(ts: TestSystem, title: string): Promise<{ id: string; url: string }> {
  const start = Date.now() - 5 * 60_000;
  const c = await ts.api('POST', '/api/v1/lessons', {
    token: ts.users.teacherA.token,
    body: lessonBody({ kind: 'live', type: 'live', title, scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 45 * 60_000).toISOString() }),
  });
  expect(c.status).toBe(201);
  expect((await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } })).body.status).toBe('approved_for_air');
  const k = await ts.api('POST', `/api/v1/lessons/${c.body.id}/live`, { token: ts.users.teacherA.token });
  return { id: c.body.id, url: `${(k.body.rtmpUrl as string).replace(/:\d+\//, `:${ts.sys.ingest!.port}/`)}/${k.body.streamKey}` };
}

/** Variant URIs of a master playlist. */
export const variantUris = (master: string): string[] => master.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
