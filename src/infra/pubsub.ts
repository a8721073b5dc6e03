import type { Redis } from 'ioredis';
import { createRedis } from './redis.ts';

/** Redis pub/sub between processes (cache invalidation, live events). */
export class PubSub {
  private sub: Redis | undefined;
  private readonly handlers = new Map<string, ((msg: string) => void)[]>();
  private connected = false;

  constructor(private readonly url: string, private readonly pub: Redis, private readonly prefix: string) {}

  /** True while the subscriber connection is up (callers shorten cache lifetimes otherwise). */
  get healthy(): boolean {
    return this.connected;
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.pub.publish(`${this.prefix}:${channel}`, message);
  }

  async subscribe(channel: string, handler: (msg: string) => void): Promise<void> {
    const full = `${this.prefix}:${channel}`;
    if (!this.sub) {
      this.sub = createRedis(this.url, { name: 'classcast-sub' });
      this.sub.on('ready', () => { this.connected = true; });
      this.sub.on('close', () => { this.connected = false; });
      this.sub.on('end', () => { this.connected = false; });
      this.sub.on('message', (ch: string, msg: string) => {
        for (const h of this.handlers.get(ch) ?? []) h(msg);
      });
    }
    const list = this.handlers.get(full) ?? [];
    list.push(handler);
    this.handlers.set(full, list);
    await this.sub.subscribe(full);
    this.connected = this.sub.status === 'ready';
  }

  async close(): Promise<void> {
    this.sub?.disconnect();
    this.sub = undefined;
    this.connected = false;
  }
}
