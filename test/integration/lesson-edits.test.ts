import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, publishedLesson, startTestSystem, type TestSystem } from '../helpers/system.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem({ api: true });
});
afterAll(async () => {
  await ts?.stop();
});

const auditOf = async (lessonId: string): Promise<string[]> =>
  (await ts.sys.db.query<{ action: string }>("SELECT action FROM audit_log WHERE entity = 'lesson' AND entity_id = $1 ORDER BY id", [lessonId])).map((r) => r.action);
const teacher = () => ts.users.teacherA.token;
const reviewer = () => ts.users.reviewerA.token;

describe('PATCH /lessons/{id}', () => {
  it('when a draft is edited, then the change is written at once and audited with what it replaced', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: teacher(), body: lessonBody() });
    const r = await ts.api('PATCH', `/api/v1/lessons/${c.body.id}`, { token: teacher(), body: { title: '分数的再认识', grade: 'g4', description: '新的说明' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ title: '分数的再认识', grade: { code: 'g4' }, description: '新的说明', status: 'draft', edit: { applied: ['title', 'description', 'grade'], pendingEdit: null } });
    expect(await auditOf(c.body.id)).toEqual(['create', 'edit']);
    const a = await ts.sys.db.query<{ data: any }>("SELECT data FROM audit_log WHERE entity_id = $1 AND action = 'edit'", [c.body.id]);
    expect(a[0].data.changes.title).toEqual({ from: '分数的初步认识', to: '分数的再认识' });
  });

  it('when a published lesson\'s text is edited, then students keep the approved text until the school\'s reviewer accepts the change', async () => {
    const id = await publishedLesson(ts, { title: '认识钟表', description: '时针和分针' });
    const r = await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: teacher(), body: { title: '认识钟表与时间', description: '时针、分针和秒针' } });
    expect(r.status).toBe(200);
    expect(r.body.title).toBe('认识钟表');
    expect(r.body.edit.pendingEdit.fields).toEqual(['title', 'description']);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).body.title).toBe('认识钟表');
    expect((await ts.api('GET', `/api/v1/lessons?q=${encodeURIComponent('秒针')}`)).body.items).toEqual([]);

    const mine = await ts.api('GET', `/api/v1/lessons/${id}/edits`, { token: teacher() });
    expect(mine.body.pending.changes).toEqual([
      { field: 'title', from: '认识钟表', to: '认识钟表与时间' },
      { field: 'description', from: '时针和分针', to: '时针、分针和秒针' },
    ]);
    expect((await ts.api('GET', '/api/v1/review/edits', { token: ts.users.reviewerB.token })).body.items).toEqual([]);
    const queue = await ts.api('GET', '/api/v1/review/edits', { token: reviewer() });
    const item = queue.body.items.find((e: { lessonId: string }) => e.lessonId === id);
    expect(item).toMatchObject({ lessonTitle: '认识钟表', teacher: 'teacherA', id: mine.body.pending.id });
    expect((await ts.api('POST', `/api/v1/lesson-edits/${item.id}/review`, { token: ts.users.reviewerB.token, body: { decision: 'approve' } })).status).toBe(404);

    const ok = await ts.api('POST', `/api/v1/lesson-edits/${item.id}/review`, { token: reviewer(), body: { decision: 'approve' } });
    expect(ok.status).toBe(200);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).body).toMatchObject({ title: '认识钟表与时间', description: '时针、分针和秒针' });
    expect((await ts.api('GET', `/api/v1/lessons?q=${encodeURIComponent('秒针')}`)).body.items.map((l: { id: string }) => l.id)).toEqual([id]);
    expect((await ts.api('POST', `/api/v1/lesson-edits/${item.id}/review`, { token: reviewer(), body: { decision: 'approve' } })).status).toBe(409);
    expect(await auditOf(id)).toEqual(expect.arrayContaining(['edit_proposed', 'edit_approved']));
    expect((await ts.api('GET', `/api/v1/lessons/${id}/edits`, { token: teacher() })).body).toMatchObject({ pending: null, lastDecision: { state: 'approved' } });
  });

  it('when a second edit follows a pending one, then it replaces it; a rejection needs a reason and leaves the public text', async () => {
    const id = await publishedLesson(ts, { title: '长方形的面积' });
    await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: teacher(), body: { title: '长方形面积' } });
    const second = await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: teacher(), body: { subject: 'chinese' } });
    const edits = await ts.api('GET', `/api/v1/lessons/${id}/edits`, { token: teacher() });
    expect(edits.body.pending.id).toBe(second.body.edit.pendingEdit.id);
    expect(edits.body.pending.changes).toEqual([
      { field: 'title', from: '长方形的面积', to: '长方形面积' },
      { field: 'subject', from: 'math', to: 'chinese', fromLabel: '数学', toLabel: '语文' },
    ]);
    const states = await ts.sys.db.query<{ state: string }>('SELECT state FROM lesson_edits WHERE lesson_id = $1 ORDER BY proposed_at', [id]);
    expect(states.map((s) => s.state)).toEqual(['superseded', 'pending']);
    const noReason = await ts.api('POST', `/api/v1/lesson-edits/${edits.body.pending.id}/review`, { token: reviewer(), body: { decision: 'reject' } });
    expect(noReason.status).toBe(400);
    const rej = await ts.api('POST', `/api/v1/lesson-edits/${edits.body.pending.id}/review`, { token: reviewer(), body: { decision: 'reject', reason: '学科不对' } });
    expect(rej.body.state).toBe('rejected');
    expect((await ts.api('GET', `/api/v1/lessons/${id}`)).body).toMatchObject({ title: '长方形的面积', subject: { code: 'math' } });
    expect((await ts.api('GET', `/api/v1/lessons/${id}/edits`, { token: teacher() })).body.lastDecision).toMatchObject({ state: 'rejected', reason: '学科不对' });
  });

  it('when an edit puts the text back as approved, then the pending change is withdrawn', async () => {
    const id = await publishedLesson(ts, { title: '平行四边形' });
    await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: teacher(), body: { title: '平行四边形的认识' } });
    const back = await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: teacher(), body: { title: '平行四边形' } });
    expect(back.body.edit.pendingEdit).toBeNull();
    expect((await ts.api('GET', '/api/v1/review/edits', { token: reviewer() })).body.items.some((e: { lessonId: string }) => e.lessonId === id)).toBe(false);
    expect(await auditOf(id)).toContain('edit_withdrawn');
  });

  it('when an approved live plan is moved, then it goes back to the reviewer; a rejected plan is resubmitted by an edit', async () => {
    const start = Date.now() + 86_400_000;
    const c = await ts.api('POST', '/api/v1/lessons', { token: teacher(), body: lessonBody({ kind: 'live', type: 'live', scheduledStart: new Date(start).toISOString(), scheduledEnd: new Date(start + 2_400_000).toISOString() }) });
    await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: reviewer(), body: { decision: 'approve' } });
    const moved = await ts.api('PATCH', `/api/v1/lessons/${c.body.id}`, { token: teacher(), body: { scheduledStart: new Date(start + 3_600_000).toISOString(), scheduledEnd: new Date(start + 6_000_000).toISOString() } });
    expect(moved.status).toBe(200);
    expect(moved.body.status).toBe('scheduled');
    expect(moved.body.scheduledStart).toBe(new Date(start + 3_600_000).toISOString());
    await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: reviewer(), body: { decision: 'reject', reason: '时间冲突' } });
    const fixed = await ts.api('PATCH', `/api/v1/lessons/${c.body.id}`, { token: teacher(), body: { description: '改到下午' } });
    expect(fixed.body.status).toBe('scheduled');
    expect(await auditOf(c.body.id)).toEqual(['create', 'approve', 'edit', 'replan', 'reject', 'edit', 'resubmit_plan']);
  });

  it('when the edit is bad or not the teacher\'s, then it is refused with the field named and nothing changes', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: teacher(), body: lessonBody() });
    const id = c.body.id;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{}, 400, /at least one field/],
      [{ grade: 'g10' }, 400, /grade/],
      [{ title: '   ' }, 400, /title/],
      [{ kind: 'live' }, 400, /kind/],
      [{ scheduledStart: new Date().toISOString() }, 400, /live/],
    ];
    for (const [body, status, detail] of cases) {
      const r = await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: teacher(), body });
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.detail).toMatch(detail);
    }
    expect((await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: ts.users.teacherA2.token, body: { title: '别人的课' } })).status).toBe(404);
    expect((await ts.api('PATCH', `/api/v1/lessons/${id}`, { token: ts.users.teacherB.token, body: { title: '别人的课' } })).status).toBe(404);
    expect((await ts.api('GET', `/api/v1/lessons/${id}`, { token: teacher() })).body.title).toBe('分数的初步认识');
  });
});
