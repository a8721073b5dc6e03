import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed preview tokens: bound to one asset, expiring, carried in the URL path
 * (`/preview/{token}/master.m3u8`) so that relative URIs inside playlists keep working.
 * Format: base64url(assetId bytes + expiry seconds) "." base64url(HMAC-SHA256 truncated to 16 bytes).
 */
export class PreviewSigner {
  constructor(private readonly secret: string) {}

  sign(assetId: string, ttlSeconds: number, now = Date.now()): { token: string; expiresAt: Date } {
    const exp = Math.floor(now / 1000) + ttlSeconds;
    const id = Buffer.from(assetId.replace(/-/g, ''), 'hex');
    if (id.length !== 16) throw new Error('asset id must be a uuid');
    const e = Buffer.alloc(4);
    e.writeUInt32BE(exp);
    const body = Buffer.concat([id, e]).toString('base64url');
    return { token: `${body}.${this.mac(body)}`, expiresAt: new Date(exp * 1000) };
  }

  /** The asset a token grants, or undefined when malformed, forged or expired. */
  verify(token: string, now = Date.now()): { assetId: string; expiresAt: Date } | undefined {
    const m = /^([A-Za-z0-9_-]{27})\.([A-Za-z0-9_-]{22})$/.exec(token);
    if (!m) return undefined;
    const expected = Buffer.from(this.mac(m[1]));
    const given = Buffer.from(m[2]);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const raw = Buffer.from(m[1], 'base64url');
    if (raw.length !== 20) return undefined;
    const exp = raw.readUInt32BE(16);
    if (exp * 1000 <= now) return undefined;
    const hex = raw.subarray(0, 16).toString('hex');
    const assetId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    return { assetId, expiresAt: new Date(exp * 1000) };
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(`preview:${body}`).digest().subarray(0, 16).toString('base64url');
  }
}
