import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import ical from 'node-ical';
import { lessonBody, publishedLesson, startTestSystem, type TestSystem } from '../helpers/system.ts';
import { rid } from '../helpers/parts.ts';
import { createRedis } from '../../src/infra/redis.ts';
import { addDays, mondayOf, shanghaiMidnight } from '../../src/domain/shanghai-time.ts';
import { TimetablesService } from '../../src/services/timetables.service.ts';

// the suite runs on real PostgreSQL when DATABASE_URL is set, and always on embedded PGlite
const backends = inject('databaseUrl') ? ['postgresql', 'pglite'] : ['pglite'];

const hours = (d: Date, h: number): Date => new Date(d.getTime() + h * 3600_000);

describe.each(backends)('on %s', (backend) => {
  let ts: TestSystem;
  beforeAll(async () => {
    ts = await startTestSystem({ api: true }, backend === 'pglite' ? { DATABASE_URL: '' } : {});
  });
  afterAll(async () => {
    await ts?.stop();
  });

  /** A live lesson of teacherA (primary, g3 math) or teacherB (senior, g10 math), with its plan approved unless told. */
  async function liveLesson(start: Date, opts: { title?: string; teacher?: 'teacherA' | 'teacherB'; approve?: boolean; minutes?: number } = {}): Promise<string> {
    const teacher = opts.teacher ?? 'teacherA';
    const body = lessonBody({
      kind: 'live', type: 'live', title: opts.title ?? `直播课${rid(2)}`, scheduledStart: start.toISOString(), scheduledEnd: hours(start, (opts.minutes ?? 40) / 60).toISOString(),
      ...(teacher === 'teacherB' ? { stage: 'senior', grade: 'g10' } : {}),
    });
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users[teacher].token, body });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    if (opts.approve !== false) {
      const r = await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users[teacher === 'teacherA' ? 'reviewerA' : 'reviewerB'].token, body: { decision: 'approve' } });
      expect(r.body.status).toBe('approved_for_air');
    }
    return c.body.id;
  }

  async function feed(qs: string): Promise<{ status: number; events: Map<string, ical.VEvent>; text: string; headers: Headers }> {
    const res = await fetch(`${ts.url}/api/v1/schedule.ics?${qs}`);
    const text = await res.text();
    const events = new Map<string, ical.VEvent>();
    if (res.status === 200) for (const c of Object.values(ical.sync.parseICS(text))) if (c?.type === 'VEVENT') events.set((c as ical.VEvent).uid, c as ical.VEvent);
    return { status: res.status, events, text, headers: res.headers };
  }

  describe('a school timetable published on time, then changed', () => {
    it('when a reviewer drafts, publishes and changes a week, then versions list the changes and the public feeds follow', async () => {
      const { reviewerA, operator, teacherA } = ts.users;
      const week = mondayOf(addDays(new Date(), 21));
      const monday = shanghaiMidnight(week);
      const tue9 = hours(monday, 24 + 9);
      const wed10 = hours(monday, 48 + 10);
      const thu14 = hours(monday, 72 + 14);
      const fri9 = hours(monday, 96 + 9);
      const l1 = await liveLesson(tue9, { title: '分数的初步认识' });
      const l2 = await liveLesson(wed10, { title: '古诗两首' });
      const l3 = await liveLesson(thu14, { title: '认识钟表' });
      const unapproved = await liveLesson(fri9, { title: '待审核的课', approve: false });
      const l6 = await liveLesson(hours(fri9, 2), { title: '将被驳回的课' });
      const recorded = await publishedLesson(ts, { title: '录播：春天来了' });

      const c = await ts.api('POST', '/api/v1/timetables', { token: reviewerA.token, body: { scope: 'school', weekStart: week } });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
      expect(c.body).toMatchObject({ scope: 'school', school: { code: ts.schools.A }, weekStart: week, status: 'draft', version: 0, entries: [] });
      expect(c.body.title).toBe(`甲小学 ${week} 周课表`);
      const tt = c.body.id as string;
      expect((await ts.api('POST', '/api/v1/timetables', { token: reviewerA.token, body: { scope: 'school', weekStart: week } })).status).toBe(409);

      const add = async (body: Record<string, unknown>) => {
        const r = await ts.api('POST', `/api/v1/timetables/${tt}/entries`, { token: reviewerA.token, body });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        return r.body.entryId as string;
      };
      const e1 = await add({ lessonId: l1, audience: '三(2)班' });
      const e2 = await add({ lessonId: l2, audience: '三年级' });
      const e3 = await add({ lessonId: l3 });
      const e6 = await add({ lessonId: l6 });
      await add({ lessonId: recorded, startsAt: hours(monday, 8).toISOString(), audience: '全校' });
      const eU = await add({ lessonId: unapproved });

      // a live plan nobody approved cannot be announced
      const blocked = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: reviewerA.token, body: {} });
      expect(blocked.status).toBe(409);
      expect(blocked.body.detail).toContain('待审核的课');
      expect((await ts.api('DELETE', `/api/v1/timetables/${tt}/entries/${eU}`, { token: reviewerA.token })).status).toBe(204);

      const draft = await ts.api('GET', `/api/v1/timetables/${tt}`, { token: teacherA.token });
      expect(draft.body.entries.map((e: { title: string }) => e.title)).toEqual(['录播：春天来了', '分数的初步认识', '古诗两首', '认识钟表', '将被驳回的课']);
      expect(draft.body.entries[1]).toMatchObject({ kind: 'live', start: expect.stringMatching(/T09:00:00\+08:00$/), lessonStatus: 'approved_for_air', approvedForAir: true, publishedState: null, teacher: 'teacherA', grade: { code: 'g3', label: '三年级' } });
      expect(draft.body.unpublishedChanges.map((x: { type: string }) => x.type)).toEqual(['added', 'added', 'added', 'added', 'added']);

      const v1 = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: reviewerA.token, body: {} });
      expect(v1.status, JSON.stringify(v1.body)).toBe(201);
      expect(v1.body).toMatchObject({ version: 1, late: false, lateReason: null, entryCount: 5 });
      expect(v1.body.leadHours).toBeGreaterThan(72);
      const afterV1 = await ts.api('GET', `/api/v1/timetables/${tt}`, { token: reviewerA.token });
      expect(afterV1.body).toMatchObject({ status: 'published', version: 1, late: false, unpublishedChanges: [] });
      expect((await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: reviewerA.token, body: {} })).status).toBe(409);

      // the public schedule: approved live lessons only, times in Shanghai, audiences from the timetable
      const from = week;
      const sched = await ts.api('GET', `/api/v1/schedule?school=${ts.schools.A}&from=${from}&to=${addDays(monday, 7).toISOString()}`);
      expect(sched.status, JSON.stringify(sched.body)).toBe(200);
      expect(sched.body.items.map((i: { lessonId: string }) => i.lessonId)).toEqual([l1, l2, l3, l6]);
      expect(sched.body.items[0]).toMatchObject({
        uid: `lesson-${l1}@classcast`, title: '分数的初步认识', audience: ['三(2)班'], state: 'upcoming',
        start: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T09:00:00\+08:00$/), end: expect.stringMatching(/T09:40:00\+08:00$/),
        watchUrl: `${ts.url}/live/${l1}/master.m3u8`, school: { code: ts.schools.A, name: '甲小学' }, grade: { code: 'g3', label: '三年级' },
      });

      const f1 = await feed(`school=${ts.schools.A}`);
      expect(f1.status).toBe(200);
      expect(f1.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
      expect(f1.text).toContain('BEGIN:VTIMEZONE');
      expect(f1.text.split('\r\n').every((l) => Buffer.byteLength(l) <= 75)).toBe(true);
      expect([...f1.events.keys()].sort()).toEqual([l1, l2, l3, l6].map((id) => `lesson-${id}@classcast`).sort());
      const ev1 = f1.events.get(`lesson-${l1}@classcast`)!;
      expect(ev1).toMatchObject({ status: 'CONFIRMED', url: `${ts.url}/live/${l1}/master.m3u8` });
      expect(Number(ev1.sequence)).toBe(0);
      expect(ev1.start.toISOString()).toBe(tue9.toISOString());
      expect(ev1.start.tz).toBe('Asia/Shanghai');
      expect(ev1.summary).toBe('数学｜分数的初步认识');
      expect(ev1.description).toContain('对象：三(2)班');
      const unchanged = await fetch(`${ts.url}/api/v1/schedule.ics?school=${ts.schools.A}`, { headers: { 'if-none-match': f1.headers.get('etag')! } });
      expect(unchanged.status).toBe(304);

      // changes after publication: reschedule, cancel, new audience; a plan rejected and its entry cancelled.
      // The ingest's key cache is told (live-keys channel) and its entries follow the lesson.
      for (const id of [l1, l2]) expect((await ts.api('POST', `/api/v1/lessons/${id}/live`, { token: teacherA.token })).status).toBe(200);
      const told: string[] = [];
      const sub = createRedis(ts.sys.redisUrl);
      // announcements are `{seq}:{lessonId}`
      sub.on('message', (_ch: string, msg: string) => told.push(msg.split(':').pop()!));
      await sub.subscribe(`${ts.sys.config.QUEUE_PREFIX}:live-keys`);
      const moved = await ts.api('PATCH', `/api/v1/timetables/${tt}/entries/${e1}`, { token: reviewerA.token, body: { startsAt: hours(monday, 48 + 8).toISOString() } });
      expect(moved.status, JSON.stringify(moved.body)).toBe(200);
      expect(moved.body).toMatchObject({ start: expect.stringMatching(/T08:00:00\+08:00$/), end: expect.stringMatching(/T08:40:00\+08:00$/) });
      const cancel = await ts.api('POST', `/api/v1/timetables/${tt}/entries/${e2}/cancel`, { token: reviewerA.token, body: { reason: '教师外出培训' } });
      expect(cancel.status).toBe(200);
      expect(cancel.body).toMatchObject({ state: 'cancelled', cancelReason: '教师外出培训', lessonStatus: 'draft' });
      expect((await ts.api('PATCH', `/api/v1/timetables/${tt}/entries/${e3}`, { token: reviewerA.token, body: { audience: '三(1)班、三(3)班' } })).status).toBe(200);
      expect((await ts.api('POST', `/api/v1/lessons/${l6}/review`, { token: reviewerA.token, body: { decision: 'reject', reason: '内容需调整' } })).body.status).toBe('rejected');
      const stuck = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: reviewerA.token, body: {} });
      expect(stuck.status).toBe(409);
      expect(stuck.body.detail).toContain('将被驳回的课');
      expect((await ts.api('POST', `/api/v1/timetables/${tt}/entries/${e6}/cancel`, { token: reviewerA.token, body: { reason: '计划被驳回' } })).status).toBe(200);
      expect((await ts.api('DELETE', `/api/v1/timetables/${tt}/entries/${e1}`, { token: reviewerA.token })).status).toBe(409);
      await waitFor(() => told.includes(l1) && told.includes(l2));
      sub.disconnect();
      const keys = await ts.sys.services.live.keyEntries();
      expect(keys.find((k) => k.lessonId === l1)!.allowedFrom).toBe(hours(monday, 48 + 8).getTime() - ts.sys.config.LIVE_EARLY_MARGIN_MIN * 60_000);
      expect(keys.map((k) => k.lessonId)).not.toContain(l2);

      const v2 = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: reviewerA.token, body: { note: '第二版' } });
      expect(v2.status, JSON.stringify(v2.body)).toBe(201);
      expect(v2.body).toMatchObject({ version: 2, late: false, note: '第二版' });
      const byType = (t: string) => v2.body.changes.filter((x: { type: string }) => x.type === t).map((x: { lessonId: string }) => x.lessonId);
      expect(byType('cancelled').sort()).toEqual([l2, l6].sort());
      expect(byType('changed').sort()).toEqual([l1, l3].sort());
      const c1 = v2.body.changes.find((x: { lessonId: string }) => x.lessonId === l1);
      expect(c1.fields.start).toEqual({ from: expect.stringMatching(/T09:00:00\+08:00$/), to: expect.stringMatching(/T08:00:00\+08:00$/) });
      expect(v2.body.changes.find((x: { lessonId: string }) => x.lessonId === l3).fields).toEqual({ audience: { from: '', to: '三(1)班、三(3)班' } });
      const versions = await ts.api('GET', `/api/v1/timetables/${tt}/versions`, { token: teacherA.token });
      expect(versions.body.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);

      // subscribed calendars see the update, the cancellations, and a stable SEQUENCE on refresh
      const f2 = await feed(`school=${ts.schools.A}`);
      const seq = (f: typeof f2, id: string) => Number(f.events.get(`lesson-${id}@classcast`)?.sequence);
      expect(f2.events.get(`lesson-${l1}@classcast`)!.start.toISOString()).toBe(hours(monday, 48 + 8).toISOString());
      expect(seq(f2, l1)).toBe(1);
      expect(f2.events.get(`lesson-${l2}@classcast`)!.status).toBe('CANCELLED');
      expect(seq(f2, l2)).toBe(1);
      expect(f2.events.get(`lesson-${l6}@classcast`)!.status).toBe('CANCELLED');
      expect(seq(f2, l3)).toBe(1);
      expect(f2.events.get(`lesson-${l3}@classcast`)!.description).toContain('三(1)班、三(3)班');
      const f3 = await feed(`school=${ts.schools.A}`);
      expect([l1, l2, l3, l6].map((id) => seq(f3, id))).toEqual([1, 1, 1, 1]);
      // the grade feed shows the same events with the same SEQUENCE
      const g = await feed('grade=g3');
      expect(seq(g, l1)).toBe(1);
      expect(g.events.get(`lesson-${l2}@classcast`)!.status).toBe('CANCELLED');
      const sched2 = await ts.api('GET', `/api/v1/schedule?school=${ts.schools.A}&from=${from}&to=${addDays(monday, 7).toISOString()}`);
      expect(sched2.body.items.map((i: { lessonId: string }) => i.lessonId)).toEqual([l1, l3]);

      // the weekly filing, per version
      const csv1 = await fetch(`${ts.url}/api/v1/timetables/${tt}/week.csv?version=1`, { headers: { authorization: `Bearer ${teacherA.token}` } });
      expect(csv1.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(csv1.headers.get('content-disposition')).toContain(`timetable-${ts.schools.A}-${week}-v1.csv`);
      const csvText = Buffer.from(await csv1.arrayBuffer()).toString('utf8');
      expect(csvText.charCodeAt(0)).toBe(0xfeff);
      expect(csvText.trim().split('\r\n')).toHaveLength(6);
      const csv2 = await (await fetch(`${ts.url}/api/v1/timetables/${tt}/week.csv`, { headers: { authorization: `Bearer ${teacherA.token}` } })).text();
      expect(csv2.split('\r\n').filter((l) => l.includes('已取消'))).toHaveLength(2);
      const html = await fetch(`${ts.url}/api/v1/timetables/${tt}/week.html`, { headers: { authorization: `Bearer ${operator.token}` } });
      expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
      const page = await html.text();
      expect(page).toContain('第 2 版');
      expect(page).toContain('本版变更');
      expect(page).toContain('教师外出培训');
      expect((await ts.api('GET', `/api/v1/timetables/${tt}/week.csv?version=9`, { token: teacherA.token })).status).toBe(404);

      // every change is in the audit log
      const audit = await ts.api('GET', `/api/v1/audit?entity=timetable&entityId=${tt}`, { token: operator.token });
      expect(audit.body.items.map((a: { action: string }) => a.action).reverse()).toEqual([
        'create', 'add_entry', 'add_entry', 'add_entry', 'add_entry', 'add_entry', 'add_entry', 'remove_entry', 'publish',
        'update_entry', 'cancel_entry', 'update_entry', 'cancel_entry', 'publish',
      ]);
      expect(audit.body.items[0]).toMatchObject({ from: 'v1', to: 'v2' });
      const lessonAudit = await ts.api('GET', `/api/v1/audit?entity=lesson&entityId=${l2}`, { token: operator.token });
      expect(lessonAudit.body.items[0]).toMatchObject({ action: 'cancel', from: 'approved_for_air', to: 'draft', reason: '教师外出培训' });
      const l1Audit = await ts.api('GET', `/api/v1/audit?entity=lesson&entityId=${l1}`, { token: operator.token });
      expect(l1Audit.body.items[0]).toMatchObject({ action: 'reschedule', data: { timetableId: tt } });
    });
  });

  describe('late publication', () => {
    it('when a timetable is published less than 3 days before its first lesson, then it needs a reason and shows in the late report of operators and its district', async () => {
      const { districtAdmin, operator, reviewerA, teacherA } = ts.users;
      const start = new Date(Math.ceil((Date.now() + 30 * 3600_000) / 60_000) * 60_000);
      const lesson = await liveLesson(start, { title: '临时加课' });
      const week = mondayOf(start);
      const c = await ts.api('POST', '/api/v1/timetables', { token: districtAdmin.token, body: { scope: 'school', school: ts.schools.A, weekStart: week, title: '临时课表' } });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
      const tt = c.body.id;
      expect((await ts.api('POST', `/api/v1/timetables/${tt}/entries`, { token: districtAdmin.token, body: { lessonId: lesson } })).status).toBe(201);

      const noReason = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: districtAdmin.token, body: {} });
      expect(noReason.status).toBe(400);
      expect(noReason.headers.get('content-type')).toContain('application/problem+json');
      expect(noReason.body.errors).toEqual([{ field: 'lateReason', message: expect.any(String) }]);
      expect(noReason.body.detail).toMatch(/first lesson starts in (29|30)(\.\d)? hours/);
      const blank = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: districtAdmin.token, body: { lateReason: '   ' } });
      expect(blank.status).toBe(400);

      const late = await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: districtAdmin.token, body: { lateReason: '上级临时通知加课' } });
      expect(late.status, JSON.stringify(late.body)).toBe(201);
      expect(late.body).toMatchObject({ version: 1, late: true, lateReason: '上级临时通知加课' });
      expect(late.body.leadHours).toBeGreaterThan(28);
      expect(late.body.leadHours).toBeLessThan(31);

      const report = await ts.api('GET', '/api/v1/reports/late-timetables', { token: operator.token });
      expect(report.status).toBe(200);
      expect(report.body.items.find((i: { timetableId: string }) => i.timetableId === tt)).toMatchObject({
        scope: 'school', school: { code: ts.schools.A }, weekStart: week, version: 1, lateReason: '上级临时通知加课', publishedBy: 'districtAdmin',
        concernsAt: expect.stringMatching(/\+08:00$/),
      });
      const mine = await ts.api('GET', '/api/v1/reports/late-timetables', { token: districtAdmin.token });
      expect(mine.body.items.map((i: { timetableId: string }) => i.timetableId)).toContain(tt);

      // a district admin of another district sees nothing of this district
      const other = `o${rid(3)}`;
      await ts.sys.services.schools.createDistrict(other, '另一区');
      const u = await ts.sys.services.auth.createUser({ username: `da_${other}`, password: 'pw-long-enough', role: 'district_admin', districtCode: other });
      const otherToken = (await ts.sys.services.auth.issueToken(u.id, 'test', 1)).token;
      expect((await ts.api('GET', '/api/v1/reports/late-timetables', { token: otherToken })).body.items).toEqual([]);
      expect((await ts.api('GET', `/api/v1/timetables/${tt}`, { token: otherToken })).status).toBe(404);
      expect((await ts.api('GET', '/api/v1/reports/late-timetables', { token: reviewerA.token })).status).toBe(403);
      expect((await ts.api('GET', '/api/v1/reports/late-timetables', { token: teacherA.token })).status).toBe(403);

      // the reviewer of the school reads it; the other school's reviewer does not see it at all
      expect((await ts.api('GET', `/api/v1/timetables/${tt}`, { token: reviewerA.token })).body.late).toBe(true);
      expect((await ts.api('GET', `/api/v1/timetables/${tt}`, { token: ts.users.reviewerB.token })).status).toBe(404);
      const list = await ts.api('GET', `/api/v1/timetables?week=${week}`, { token: teacherA.token });
      expect(list.body.items.map((i: { id: string }) => i.id)).toContain(tt);
      expect((await ts.api('GET', `/api/v1/timetables?week=${week}`, { token: ts.users.teacherB.token })).body.items.map((i: { id: string }) => i.id)).not.toContain(tt);
    });

    it('when a published timetable changes a lesson less than 3 days ahead, then that version is late too; a change further ahead is not', async () => {
      // the service on the same database with a clock the test moves
      let now = new Date();
      const service = new TimetablesService(ts.sys.db, ts.sys.services.taxonomy, { now: () => now });
      const reviewer = (await ts.sys.services.auth.authenticate(ts.users.reviewerA.token))!;
      const week = mondayOf(addDays(now, 28));
      const tue10 = hours(shanghaiMidnight(week), 24 + 10);
      const near = await liveLesson(tue10, { title: '周二的课' });
      const far = await liveLesson(hours(tue10, 48), { title: '周四的课' });
      const tt = await service.create(reviewer, { scope: 'school', weekStart: week });
      const eNear = await service.addEntry(reviewer, tt.id, { lessonId: near });
      const eFar = await service.addEntry(reviewer, tt.id, { lessonId: far });
      expect((await service.publish(reviewer, tt.id, {})).late).toBe(false);

      now = hours(tue10, -48);
      await service.cancelEntry(reviewer, tt.id, eFar.entryId, '调整');
      const v2 = await service.publish(reviewer, tt.id, {});
      expect(v2).toMatchObject({ version: 2, late: false, leadHours: 96 });
      expect(v2.changes).toEqual([{ type: 'cancelled', entryId: eFar.entryId, lessonId: far, title: '周四的课', start: expect.any(String), reason: '调整' }]);

      await service.updateEntry(reviewer, tt.id, eNear.entryId, { audience: '三(4)班' });
      await expect(service.publish(reviewer, tt.id, {})).rejects.toMatchObject({ status: 400, message: expect.stringContaining('earliest lesson this change touches starts in 48 hours') });
      const v3 = await service.publish(reviewer, tt.id, { lateReason: '班级调整' });
      expect(v3).toMatchObject({ version: 3, late: true, leadHours: 48, lateReason: '班级调整' });
      const report = await ts.api('GET', '/api/v1/reports/late-timetables', { token: ts.users.operator.token });
      expect(report.body.items.filter((i: { timetableId: string }) => i.timetableId === tt.id).map((i: { version: number }) => i.version)).toEqual([3]);
    });
  });

  describe('district timetables', () => {
    it('when a district admin files a district-wide week, then its schools read it and only the district edits it', async () => {
      const { districtAdmin, reviewerA, teacherB, admin } = ts.users;
      const week = mondayOf(addDays(new Date(), 42));
      const mon = shanghaiMidnight(week);
      const a = await liveLesson(hours(mon, 9), { title: '区级公开课（小学）' });
      const b = await liveLesson(hours(mon, 10), { title: '区级公开课（高中）', teacher: 'teacherB' });
      const c = await ts.api('POST', '/api/v1/timetables', { token: districtAdmin.token, body: { scope: 'district', weekStart: week } });
      expect(c.status, JSON.stringify(c.body)).toBe(201);
      expect(c.body).toMatchObject({ scope: 'district', school: null, district: { name: '测试区' } });
      const tt = c.body.id;
      for (const lessonId of [a, b]) expect((await ts.api('POST', `/api/v1/timetables/${tt}/entries`, { token: districtAdmin.token, body: { lessonId, audience: '全区' } })).status).toBe(201);
      expect((await ts.api('POST', `/api/v1/timetables/${tt}/entries`, { token: reviewerA.token, body: { lessonId: a } })).status).toBe(403);
      expect((await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: reviewerA.token, body: {} })).status).toBe(403);
      expect((await ts.api('POST', '/api/v1/timetables', { token: reviewerA.token, body: { scope: 'district', weekStart: addDaysStr(week, 7) } })).status).toBe(403);
      expect((await ts.api('POST', `/api/v1/timetables/${tt}/publish`, { token: districtAdmin.token, body: {} })).status).toBe(201);
      const read = await ts.api('GET', `/api/v1/timetables/${tt}`, { token: teacherB.token });
      expect(read.status).toBe(200);
      expect(read.body.entries.map((e: { school: { code: string } }) => e.school.code)).toEqual([ts.schools.A, ts.schools.B]);
      expect((await ts.api('GET', `/api/v1/timetables/${tt}`, { token: admin.token })).status).toBe(200);
      const sched = await ts.api('GET', `/api/v1/schedule?grade=g10&from=${week}&to=${addDaysStr(week, 1)}`);
      expect(sched.body.items.map((i: { lessonId: string; audience: string[] }) => [i.lessonId, i.audience])).toEqual([[b, ['全区']]]);
    });
  });

  describe('bad input', () => {
    it('when timetable and schedule requests are malformed, then each is a 4xx problem naming the field', async () => {
      const { reviewerA, teacherA } = ts.users;
      const week = mondayOf(addDays(new Date(), 70));
      const tt = (await ts.api('POST', '/api/v1/timetables', { token: reviewerA.token, body: { scope: 'school', weekStart: week } })).body.id;
      const outside = await liveLesson(hours(shanghaiMidnight(week), 24 * 8));
      const other = await liveLesson(hours(shanghaiMidnight(week), 10), { teacher: 'teacherB' });
      const rec = (await ts.api('POST', '/api/v1/lessons', { token: teacherA.token, body: lessonBody() })).body.id;
      const inWeek = await liveLesson(hours(shanghaiMidnight(week), 33));
      const entry = (await ts.api('POST', `/api/v1/timetables/${tt}/entries`, { token: reviewerA.token, body: { lessonId: inWeek } })).body.entryId;
      const t = reviewerA.token;
      const cases: [string, string, Parameters<TestSystem['api']>[2], number, RegExp][] = [
        ['POST', '/api/v1/timetables', { token: t, body: { scope: 'school', weekStart: addDaysStr(week, 1) } }, 400, /weekStart.*Monday/],
        ['POST', '/api/v1/timetables', { token: t, body: { scope: 'school', weekStart: '2030-02-30' } }, 400, /weekStart/],
        ['POST', '/api/v1/timetables', { token: t, body: { scope: 'school', weekStart: week, extra: 1 } }, 400, /extra/],
        ['POST', '/api/v1/timetables', { token: t, body: { scope: 'school', school: ts.schools.B, weekStart: addDaysStr(week, 7) } }, 403, /own school/],
        ['POST', '/api/v1/timetables', { token: t, body: { scope: 'school', school: 'no-such-school', weekStart: addDaysStr(week, 7) } }, 400, /school/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: outside } }, 400, /outside the week/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: other } }, 400, /lessonId/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: rec } }, 400, /startsAt/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: rec, startsAt: '2030-01-08T09:00:00' } }, 400, /offset/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: inWeek } }, 409, /already/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: inWeek, startsAt: `${week}T09:00:00+08:00` } }, 400, /startsAt/],
        ['POST', `/api/v1/timetables/${tt}/entries`, { token: t, body: { lessonId: 'nope' } }, 400, /lessonId/],
        ['PATCH', `/api/v1/timetables/${tt}/entries/${entry}`, { token: t, body: {} }, 400, /at least one/],
        ['PATCH', `/api/v1/timetables/${tt}/entries/${entry}`, { token: t, body: { startsAt: `${addDaysStr(week, 9)}T09:00:00+08:00` } }, 400, /outside the week/],
        ['PATCH', `/api/v1/timetables/${tt}/entries/${entry}`, { token: t, body: { audience: 'a\nb' } }, 400, /audience.*line breaks/],
        ['PATCH', `/api/v1/timetables/${tt}/entries/${entry}`, { token: t, body: { audience: 'x'.repeat(101) } }, 400, /audience.*at most 100/],
        ['POST', `/api/v1/timetables/${tt}/entries/${entry}/cancel`, { token: t, body: {} }, 400, /reason/],
        ['GET', '/api/v1/timetables/00000000-0000-0000-0000-000000000000', { token: t }, 404, /not found/],
        ['GET', '/api/v1/timetables/not-a-uuid', { token: t }, 400, /id/],
        ['GET', '/api/v1/schedule?from=2030-01-01&to=2030-12-31', {}, 400, /93 days/],
        ['GET', '/api/v1/schedule?from=2030-01-10&to=2030-01-01', {}, 400, /after from/],
        ['GET', '/api/v1/schedule?from=tomorrow', {}, 400, /from/],
        ['GET', '/api/v1/schedule?school=no-such-school', {}, 404, /school/],
        ['GET', '/api/v1/schedule?grade=g99', {}, 400, /grade/],
        ['GET', '/api/v1/schedule?cursor=garbage', {}, 400, /cursor/],
        ['GET', '/api/v1/schedule.ics', {}, 400, /school or a grade/],
        ['GET', '/api/v1/schedule.ics?school=x&bogus=1', {}, 400, /bogus/],
      ];
      for (const [method, path, opts, status, re] of cases) {
        const r = await ts.api(method, path, opts);
        expect({ method, path, status: r.status, body: r.body }).toMatchObject({ method, path, status });
        expect(r.headers.get('content-type')).toContain('application/problem+json');
        expect(r.body.detail).toMatch(re);
      }
    });

    it('when the schedule spans more than one page, then the cursor walks it without overlap', async () => {
      const week = mondayOf(addDays(new Date(), 84));
      const mon = shanghaiMidnight(week);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await liveLesson(hours(mon, 8 + i)));
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { body: { items: { lessonId: string }[]; nextCursor: string | null } } = await ts.api('GET', `/api/v1/schedule?school=${ts.schools.A}&from=${week}&to=${addDaysStr(week, 1)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...r.body.items.map((i) => i.lessonId));
        cursor = r.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(ids);
    });
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function addDaysStr(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
