/**
 * The RTMP publish gate: who may publish and who may play a lesson's stream, decided synchronously
 * from the ingest's in-memory key cache (DESIGN "Ingest"). Pure policy: no sockets, no processes; the
 * ingest child (src/infra/rtmp.child.ts) asks it for every publish and play, and the supervisor keeps
 * a mirror of the cache to re-send to a restarted child. Failed attempts are counted by the failure
 * counter it is given (src/infra/rate-limit.ts in the ingest).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** Lesson ids as they appear in an RTMP path (`/live/{lessonId}`). */
export const lessonIdPattern = /^[A-Za-z0-9_-]{1,128}$/;
export const sha256Hex = /^[0-9a-f]{64}$/;

/** Failed authentications per address: what the gate needs from a rate limiter. */
export interface FailureCounter {
  blocked(address: string, now: number): boolean;
  fail(address: string, now: number): void;
}

/** sha256 hex of a stream secret: what the catalog stores and pushes to the ingest as `keyHash`. */
export function hashStreamKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a candidate secret with a sha256 hex digest. */
export function secretMatchesHash(candidate: string, hashHex: string): boolean {
  const a = createHash('sha256').update(candidate, 'utf8').digest();
  const b = Buffer.from(hashHex, 'hex');
  return b.length === a.length && timingSafeEqual(a, b);
}


/** Strips the IPv4-mapped prefix so that one client has one address string. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

export const refusalReasons = [
  'invalid_path', 'unknown_lesson', 'bad_key', 'revoked', 'stopped', 'outside_window', 'already_publishing',
  'rate_limited', 'bad_token',
] as const;
export type RefusalReason = (typeof refusalReasons)[number];
export type Decision = { ok: true } | { ok: false; reason: RefusalReason };

/** Reasons that count against the address in the failure limiter (guessing, not scheduling). */
const countedReasons: ReadonlySet<RefusalReason> = new Set(['invalid_path', 'unknown_lesson', 'bad_key', 'bad_token']);

export const keyEntrySchema = z.object({
  lessonId: z.string().regex(lessonIdPattern),
  keyHash: z.string().regex(sha256Hex),
  allowedFrom: z.number(),
  allowedUntil: z.number(),
  stopped: z.boolean(),
});
/** One allowed publish as the child holds it (times in epoch ms). */
export type KeyEntry = z.infer<typeof keyEntrySchema>;

/** One allowed publish as the catalog gives it. `keyHash` = `hashStreamKey(secret)`. */
export interface IngestKeyInput {
  lessonId: string;
  keyHash: string;
  allowedFrom: Date | number;
  allowedUntil: Date | number;
  stopped: boolean;
}

export const keyInputSchema = z.object({
  lessonId: z.string().regex(lessonIdPattern),
  keyHash: z.string().toLowerCase().regex(sha256Hex),
  allowedFrom: z.union([z.date(), z.number()]).transform((v) => (v instanceof Date ? v.getTime() : v)),
  allowedUntil: z.union([z.date(), z.number()]).transform((v) => (v instanceof Date ? v.getTime() : v)),
  stopped: z.boolean(),
});

export const revokedSchema = z.object({ lessonId: z.string().regex(lessonIdPattern), keyHash: z.string().regex(sha256Hex) });

/** The key cache and the rules for who may publish and play. */
export class PublishGate {
  private keys = new Map<string, KeyEntry>();
  /** lessonId -> key hash cut off by `kick`; refused until the catalog sets a different hash. */
  private readonly revokedHashes = new Map<string, string>();

  constructor(
    private readonly opts: { workerTokenHash: string; allowLoopbackPlay: boolean; limiter: FailureCounter },
  ) {}

  setKeys(entries: KeyEntry[]): void {
    this.keys = new Map(entries.map((e) => [e.lessonId, e]));
  }

  upsertKey(entry: KeyEntry): void {
    this.keys.set(entry.lessonId, entry);
  }

  removeKey(lessonId: string): void {
    this.keys.delete(lessonId);
  }

  entries(): KeyEntry[] {
    return [...this.keys.values()];
  }

  /** Revokes the lesson's current key hash; returns it, or undefined when the lesson is not cached. */
  revoke(lessonId: string): string | undefined {
    const e = this.keys.get(lessonId);
    if (e) this.revokedHashes.set(lessonId, e.keyHash);
    return e?.keyHash;
  }

  addRevoked(lessonId: string, keyHash: string): void {
    this.revokedHashes.set(lessonId, keyHash);
  }

  revoked(): { lessonId: string; keyHash: string }[] {
    return [...this.revokedHashes].map(([lessonId, keyHash]) => ({ lessonId, keyHash }));
  }

  knows(lessonId: string | undefined): boolean {
    return lessonId !== undefined && this.keys.has(lessonId);
  }

  private refuse(reason: RefusalReason, address: string, now: number): Decision {
    if (countedReasons.has(reason)) this.opts.limiter.fail(address, now);
    return { ok: false, reason };
  }

  /** `lessonId` undefined = the stream path was not `/live/{valid id}`. */
  decidePublish(req: { lessonId: string | undefined; key: string | undefined; address: string; now: number; pathBusy: boolean }): Decision {
    const { address, now } = req;
    if (this.opts.limiter.blocked(address, now)) return { ok: false, reason: 'rate_limited' };
    if (req.lessonId === undefined || !lessonIdPattern.test(req.lessonId)) return this.refuse('invalid_path', address, now);
    const entry = this.keys.get(req.lessonId);
    if (!entry) return this.refuse('unknown_lesson', address, now);
    if (req.key === undefined || !secretMatchesHash(req.key, entry.keyHash)) return this.refuse('bad_key', address, now);
    if (this.revokedHashes.get(entry.lessonId) === entry.keyHash) return this.refuse('revoked', address, now);
    if (entry.stopped) return this.refuse('stopped', address, now);
    if (now < entry.allowedFrom || now > entry.allowedUntil) return this.refuse('outside_window', address, now);
    if (req.pathBusy) return this.refuse('already_publishing', address, now);
    return { ok: true };
  }

  decidePlay(req: { lessonId: string | undefined; token: string | undefined; address: string; now: number }): Decision {
    const { address, now } = req;
    if (this.opts.limiter.blocked(address, now)) return { ok: false, reason: 'rate_limited' };
    if (req.lessonId === undefined || !lessonIdPattern.test(req.lessonId)) return this.refuse('invalid_path', address, now);
    if (this.opts.allowLoopbackPlay && isLoopback(address)) return { ok: true };
    if (req.token === undefined || !secretMatchesHash(req.token, this.opts.workerTokenHash)) return this.refuse('bad_token', address, now);
    return { ok: true };
  }
}
