import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/domain/error-codes.ts';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';

let ts: TestSystem;
beforeAll(async () => {
  ts = await startTestSystem();
});
afterAll(async () => {
  await ts?.stop();
});

describe('problem+json codes', () => {
  it('when the API refuses a request, then the problem carries the stable code of the reason', async () => {
    const cases: [Promise<{ status: number; body: any }>, number, string][] = [
      [ts.api('GET', '/api/v1/lessons/00000000-0000-4000-8000-000000000000'), 404, 'lesson_not_found'],
      [ts.api('POST', '/api/v1/lessons', { body: lessonBody() }), 401, 'authentication_required'],
      [ts.api('POST', '/api/v1/lessons', { token: ts.users.operator.token, body: lessonBody() }), 403, 'role_forbidden'],
      [ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: '{"title":' }), 400, 'malformed_json'],
      [ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: { title: 1 } }), 400, 'validation_failed'],
      [ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, raw: 'x', headers: { 'content-type': 'text/plain' } }), 415, 'json_body_required'],
      [ts.api('GET', '/api/v1/lessons?cursor=bogus'), 400, 'invalid_cursor'],
      [ts.api('GET', '/api/v1/no-such-thing'), 404, 'endpoint_not_found'],
      [ts.api('DELETE', '/api/v1/taxonomy'), 405, 'method_not_allowed'],
      [ts.api('GET', '/play/00000000-0000-4000-8000-000000000000/master.m3u8'), 404, 'media_not_found'],
    ];
    for (const [p, status, code] of cases) {
      const r = await p;
      expect({ status: r.status, code: r.body?.code }).toEqual({ status, code });
    }
  });

  it('when a lesson is reviewed in a state that does not allow it, then the code says invalid_state_transition', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() });
    const r = await ts.api('POST', `/api/v1/lessons/${c.body.id}/review`, { token: ts.users.reviewerA.token, body: { decision: 'approve' } });
    expect(r.status).toBe(409);
    expect(r.body.code).toBe('invalid_state_transition');
  });

  it('when the OpenAPI document is read, then its problem schema requires a code from the list', async () => {
    const doc = (await ts.api('GET', '/api/v1/openapi.json')).body;
    const schema = doc.components.responses.Problem.content['application/problem+json'].schema;
    expect(schema.required).toContain('code');
    expect(schema.properties.code.enum).toEqual([...errorCodes]);
  });
});
