import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectStorage } from '../../src/infra/storage.ts';
import { LiveLedgerStore } from '../../src/infra/live-ledger.store.ts';
import { appendSlot, ledgerPageSlots, newLedger, nextSlot, type LiveLedger } from '../../src/media/live-ledger.ts';
import { testConfig, testStorage } from '../helpers/parts.ts';

/** A ledger of `count` 2 s slots in one run, starting at `from`. */
function grow(l: LiveLedger, count: number, run = 1): LiveLedger {
  if (!l.renditions.length) l.renditions = [{ name: '360p', kind: 'video', codecs: 'avc1.64001e,mp4a.40.2', capBps: 910_000 }];
  if (!l.runs.some((r) => r.run === run)) l.runs.push({ run, epoch: run, startedAtMs: 1_772_438_400_000, sizes: { '360p': { width: 640, height: 360 } }, frameRate: 25, plan: null });
  const done = l.slots.filter((s) => s.run === run).length;
  for (let seq = done; seq < done + count; seq++) {
    appendSlot(l, nextSlot(l, { run, seq, parts: [{ durationS: 2, bytes: 200_000 + seq }], runStartPdtMs: 1_772_438_400_000, runElapsedS: seq * 2, gap: false }));
  }
  return l;
}

describe('live ledger store (real S3 server)', () => {
  let storage: ObjectStorage;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ storage, drop } = await testStorage(testConfig()));
  });
  afterAll(async () => {
    await drop();
  });

  it('when a session has no ledger yet, then loading it gives null', async () => {
    expect(await new LiveLedgerStore(storage, 'sess-none').load()).toBeNull();
  });

  it('when a worker saves a ledger past one page and another worker loads it and goes on, then a third reads back exactly the same ledger', async () => {
    const first = new LiveLedgerStore(storage, 'sess-a');
    const ledger = grow(newLedger({ sessionId: 'sess-a', lessonId: 'lesson-a', segmentSeconds: 2 }), ledgerPageSlots + 5);
    await first.save(ledger);
    const keys = (await storage.list(storage.mediaBucket, 'live/sess-a/ledger/')).map((o) => o.key).sort();
    expect(keys).toEqual(['live/sess-a/ledger/head.json', 'live/sess-a/ledger/page-00000.json']);

    const second = new LiveLedgerStore(storage, 'sess-a');
    const continued = (await second.load())!;
    expect(continued).toEqual(ledger);
    grow(continued, ledgerPageSlots, 2);
    await second.save(continued);
    expect((await storage.list(storage.mediaBucket, 'live/sess-a/ledger/')).map((o) => o.key).sort()).toEqual([
      'live/sess-a/ledger/head.json',
      'live/sess-a/ledger/page-00000.json',
      'live/sess-a/ledger/page-00001.json',
    ]);
    expect(await new LiveLedgerStore(storage, 'sess-a').load()).toEqual(continued);
  });

  it('when the capture keeps its own ledger, then it never mixes with the transcoder\'s', async () => {
    const transcode = grow(newLedger({ sessionId: 'sess-b', lessonId: 'lesson-b', segmentSeconds: 2 }), 3);
    const capture = grow(newLedger({ sessionId: 'sess-b', lessonId: 'lesson-b', segmentSeconds: 2 }), 7);
    await new LiveLedgerStore(storage, 'sess-b').save(transcode);
    await new LiveLedgerStore(storage, 'sess-b', 'capture').save(capture);
    expect((await new LiveLedgerStore(storage, 'sess-b').load())!.slots).toHaveLength(3);
    expect((await new LiveLedgerStore(storage, 'sess-b', 'capture').load())!.slots).toHaveLength(7);
  });
});
