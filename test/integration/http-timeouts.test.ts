import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lessonBody, startTestSystem, type TestSystem } from '../helpers/system.ts';

/** Issue 13.3: a client that stops sending in the middle of an upload body does not hold its connection forever. */
describe('HTTP idle timeout', () => {
  let ts: TestSystem;
  beforeAll(async () => {
    ts = await startTestSystem({ api: true }, { HTTP_IDLE_TIMEOUT_S: '2' });
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it('when an upload body stalls half way, then the server closes the connection after the idle timeout and goes on serving others', async () => {
    const c = await ts.api('POST', '/api/v1/lessons', { token: ts.users.teacherA.token, body: lessonBody() });
    expect(c.status).toBe(201);
    const u = new URL(ts.url);
    const sock = net.connect(Number(u.port), u.hostname);
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      sock.on('close', () => resolve(Date.now() - t0));
      sock.on('error', () => undefined);
    });
    sock.write(`PUT /api/v1/lessons/${c.body.id}/media?filename=a.mp4 HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${ts.users.teacherA.token}\r\nContent-Type: video/mp4\r\nContent-Length: 1000000\r\n\r\n`);
    sock.write(Buffer.alloc(4096, 1));
    // bounded: a server that never closes fails here instead of hanging the suite
    const outcome = await Promise.race([closed.then(() => 'closed'), new Promise<string>((res) => setTimeout(() => res('still open'), 30_000))]);
    sock.destroy();
    expect(outcome).toBe('closed');
    expect((await ts.api('GET', '/api/v1/lessons')).status).toBe(200);
    const after = await ts.api('GET', `/api/v1/lessons/${c.body.id}`, { token: ts.users.teacherA.token });
    expect(after.body.status).toBe('draft');
  }, 60_000);
});
