// One process of bench:viewers' load (scripts/lib/viewer-load.ts forks a few): simulated live viewers
// and catalog students, so the load generator's own event loop is neither the bench's (which times
// the stop) nor shared with other viewers beyond its share. Told by its parent what was written when
// (the live window's segments) and when the lesson was stopped; answers each phase with its counts.
// A viewer plays as an HLS player does (RFC 8216 6.3.3-6.3.4): it starts three segments from the end
// of the first playlist, reloads the playlist a target duration after the last load began, or half of
// one when it had not changed, and fetches each new segment in turn.
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { GeneratorMessage, PhaseSpec, PhaseStats, SegmentTiming } from './viewer-load.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
interface Got { status: number; headers: http.IncomingHttpHeaders; body: Buffer }
/** One GET on a kept-alive connection, bounded at 10 s. */
function get(url: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** When each segment (and the playlists listing it) was written to storage, from the parent. */
const written = new Map<number, number>();
let stoppedAt = 0;

async function phase(spec: PhaseSpec): Promise<PhaseStats> {
  const { bases, lessonId, rungs, targetS } = spec;
  const stats: PhaseStats = {
    viewerRequests: 0, viewerErrors: 0, stalls: 0, segments: 0, hits: 0, withCacheStatus: 0, ages: [],
    studentRequests: 0, studentErrors: 0, errorSamples: [], timings: [], stalled: [], loopDelayP99Ms: 0, loopDelayMaxMs: 0,
  };
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const until = Date.now() + spec.seconds * 1000;
  // an answer after the stop may be a 404, as it should: judged by the time it came, once the phase is
  // over (the parent's word of the stop reaches this process when its event loop gets to it)
  const afterStop = () => spec.withdraw && stoppedAt > 0;
  const errors: { at: number; what: string }[] = [];
  const studentErrors: number[] = [];
  const note = (r: Got) => {
    const c = r.headers['x-cache-status'];
    if (c) {
      stats.withCacheStatus++;
      if (c === 'HIT' || c === 'REVALIDATED' || c === 'UPDATING') stats.hits++;
    }
  };
  const fail = (what: string) => {
    errors.push({ at: Date.now(), what });
  };
  const viewer = async (i: number) => {
    const base = bases[i % bases.length];
    await sleep(Math.random() * targetS * 1000);
    let rung = i % 10 === 9 ? rungs[1] : rungs[0];
    const switchAt = i % 10 === 3 ? Date.now() + (spec.seconds * 1000) / 2 : Infinity;
    try {
      const m = await get(`${base}/live/${lessonId}/master.m3u8`);
      stats.viewerRequests++;
      note(m);
      if (m.status !== 200) return fail(`master ${m.status}`);
    } catch (err) {
      return fail(`master ${(err as Error).message}`);
    }
    let last = -1;
    let clock0 = 0;
    let startSeq = 0;
    let lateMs = 0;
    let nextPoll = Date.now();
    let prevNewest = -1; // the newest segment of the previous playlist this viewer read
    while (Date.now() < until) {
      const polled = Date.now();
      const pollLateMs = polled - nextPoll;
      // RFC 8216 6.3.4: reload a target duration after the last load began, or half of one when the
      // playlist had not changed (as players do)
      nextPoll = polled + targetS * 1000;
      if (Date.now() > switchAt) rung = rung === rungs[0] ? rungs[1] : rungs[0];
      try {
        const r = await get(`${base}/live/${lessonId}/${rung.name}/index.m3u8`);
        const seenAt = Date.now();
        stats.viewerRequests++;
        note(r);
        if (r.status !== 200) {
          fail(`playlist ${r.status}`);
          if (afterStop()) return;
        } else {
          const text = r.body.toString();
          const media = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
          const count = text.split('\n').filter((l) => l.endsWith('.ts')).length;
          const newest = media + count - 1;
          const at = written.get(newest);
          if (at) stats.ages.push(seenAt - at);
          if (last < 0) {
            last = newest - 3;
            startSeq = last + 1;
          }
          for (let k = Math.max(last + 1, media); k <= newest; k++) {
            const asked = Date.now();
            const sr = await get(`${base}/live/${lessonId}/${rung.name}/seg-${k}.ts`);
            stats.viewerRequests++;
            note(sr);
            if (sr.status !== 200) {
              fail(`segment ${sr.status}`);
              continue;
            }
            stats.segments++;
            const arrived = Date.now();
            if (!clock0) clock0 = arrived;
            const due = clock0 + lateMs + (k - startSeq) * targetS * 1000;
            // how long after it was written this viewer first saw it listed (segments new since its last poll)
            const wrote = prevNewest >= 0 && k > prevNewest ? written.get(k) : undefined;
            const timing: SegmentTiming = { listedAfterMs: wrote ? seenAt - wrote : NaN, pollLateMs, playlistMs: seenAt - polled, fetchMs: arrived - asked, lateMs: arrived - due };
            if (stats.timings.length < 20_000) stats.timings.push(timing);
            if (arrived > due) {
              stats.stalls++;
              stats.stalled.push(timing);
              lateMs += arrived - due;
            }
            last = k;
          }
          if (newest <= prevNewest) nextPoll = polled + (targetS * 1000) / 2;
          prevNewest = Math.max(prevNewest, newest);
        }
      } catch (err) {
        fail((err as Error).message);
      }
      await sleep(Math.max(0, nextPoll - Date.now()));
    }
  };
  const stages = ['primary', 'junior', 'senior'];
  const student = async (i: number) => {
    const base = bases[i % bases.length];
    while (Date.now() < until) {
      const paths = [`/api/v1/lessons?stage=${stages[i % 3]}`, '/api/v1/facets', `/api/v1/lessons/${lessonId}`, `/api/v1/lessons?q=${encodeURIComponent('直播')}`];
      try {
        const r = await get(`${base}${paths[Math.floor(Math.random() * paths.length)]}`);
        stats.studentRequests++;
        note(r);
        // the stopped live lesson's detail is 404 afterwards, as it should be
        if (r.status !== 200) studentErrors.push(Date.now());
      } catch {
        studentErrors.push(Date.now());
      }
      await sleep(1000 + Math.random() * 2000);
    }
  };
  const [v0, v1] = spec.viewers;
  const [s0, s1] = spec.students;
  await Promise.all([...Array.from({ length: v1 - v0 }, (_, i) => viewer(v0 + i)), ...Array.from({ length: s1 - s0 }, (_, i) => student(s0 + i))]);
  lag.disable();
  const counted = (at: number) => !spec.withdraw || !stoppedAt || at < stoppedAt;
  for (const e of errors.filter((x) => counted(x.at))) {
    stats.viewerErrors++;
    if (stats.errorSamples.length < 5 && !stats.errorSamples.includes(e.what)) stats.errorSamples.push(e.what);
  }
  stats.studentErrors = studentErrors.filter(counted).length;
  stats.loopDelayP99Ms = lag.percentile(99) / 1e6;
  stats.loopDelayMaxMs = lag.max / 1e6;
  return stats;
}

process.on('message', (m: GeneratorMessage) => {
  if (m.type === 'written') for (const [seq, at] of m.segments) written.set(seq, at);
  else if (m.type === 'stopped') stoppedAt = m.at;
  else if (m.type === 'phase') {
    stoppedAt = 0;
    phase(m.spec).then((stats) => process.send!({ type: 'result', stats }), (err: Error) => process.send!({ type: 'failed', message: err.stack ?? err.message }));
  } else if (m.type === 'exit') {
    agent.destroy();
    process.disconnect();
  }
});
process.send!({ type: 'ready' });
