import type { IngestEvents, IngestSupervisor } from '../../src/infra/rtmp.ts';

type Name = keyof IngestEvents;
export interface Recorded<N extends Name = Name> {
  name: N;
  ev: IngestEvents[N][0];
  at: number;
}

/** Records every supervisor event so tests can wait for one (already seen or still to come). */
export class IngestEventLog {
  readonly list: Recorded[] = [];
  private waiters: (() => void)[] = [];

  constructor(sup: IngestSupervisor) {
    const names: Name[] = ['publishStart', 'publisherLost', 'publishEnd', 'refused', 'playStart', 'playEnd', 'restart', 'ready'];
    for (const name of names) {
      sup.on(name, (ev: IngestEvents[typeof name][0]) => {
        this.list.push({ name, ev, at: Date.now() } as Recorded);
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      });
    }
  }

  of<N extends Name>(name: N, pred: (ev: IngestEvents[N][0]) => boolean = () => true): Recorded<N>[] {
    return this.list.filter((r): r is Recorded<N> => r.name === name && pred(r.ev as IngestEvents[N][0]));
  }

  async wait<N extends Name>(name: N, pred: (ev: IngestEvents[N][0]) => boolean = () => true, timeoutMs = 10_000): Promise<Recorded<N>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.of(name, pred)[0];
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${name} event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
