import { Queue, QueueEvents, Worker, type ConnectionOptions, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { QueueName } from '../jobs/job-types.ts';

export interface QueueFactoryOptions {
  redisUrl: string;
  prefix: string;
}

function connection(url: string): ConnectionOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
  };
}

/** Creates BullMQ queues, workers and event listeners under one prefix; closes them all at once. */
export class QueueFactory {
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly queues = new Map<string, Queue>();
  constructor(private readonly opts: QueueFactoryOptions) {}

  get prefix(): string {
    return this.opts.prefix;
  }

  queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: connection(this.opts.redisUrl), prefix: this.opts.prefix });
      q.on('error', () => undefined);
      this.queues.set(name, q);
      const qq = q;
      this.closers.push(() => qq.close());
    }
    return q;
  }

  async add<T>(name: QueueName, jobName: string, data: T, opts: JobsOptions): Promise<void> {
    await this.queue(name).add(jobName, data, opts);
  }

  worker<T, R>(name: QueueName, processor: Processor<T, R>, opts: Partial<WorkerOptions> = {}): Worker<T, R> {
    const w = new Worker<T, R>(name, processor, { connection: connection(this.opts.redisUrl), prefix: this.opts.prefix, ...opts });
    w.on('error', () => undefined);
    this.closers.push(() => w.close());
    return w;
  }

  events(name: QueueName): QueueEvents {
    const e = new QueueEvents(name, { connection: connection(this.opts.redisUrl), prefix: this.opts.prefix });
    e.on('error', () => undefined);
    this.closers.push(() => e.close());
    return e;
  }

  async close(): Promise<void> {
    for (const c of this.closers.reverse()) await c().catch(() => undefined);
    this.closers.length = 0;
    this.queues.clear();
  }
}

/** A job not yet finished, as the live capacity view reads it. */
export interface UnfinishedJob {
  id: string;
  state: 'waiting' | 'delayed' | 'active';
  /** When the job was added (ms). */
  queuedAt: number;
  /** When a worker last started it (ms), if one did. */
  startedAt: number | null;
}

/** A queue's unfinished jobs: the waiting ones in the order workers will take them, then delayed and active ones. */
export async function unfinishedJobs(queue: Queue): Promise<UnfinishedJob[]> {
  const [waiting, delayed, active] = await Promise.all([queue.getJobs(['wait', 'prioritized'], 0, -1, true), queue.getJobs(['delayed']), queue.getJobs(['active'])]);
  const view = (state: UnfinishedJob['state']) => (j: { id?: string; timestamp: number; processedOn?: number }): UnfinishedJob => ({ id: String(j.id), state, queuedAt: j.timestamp, startedAt: j.processedOn ?? null });
  return [...waiting.map(view('waiting')), ...delayed.map(view('delayed')), ...active.map(view('active'))];
}
