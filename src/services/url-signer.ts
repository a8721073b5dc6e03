import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The one signer of links that grant access for a while (preview playback, question pictures):
 * HMAC-SHA256 over a purpose and the signed text, truncated to 16 bytes, base64url, compared in
 * constant time. Preview tokens are path-embedded (`/preview/{token}/master.m3u8`) so relative URIs
 * inside playlists keep working: base64url(asset id bytes + expiry seconds) "." MAC.
 */
export class UrlSigner {
  constructor(private readonly secret: string) {}

  /** A preview token for one asset, expiring after `ttlSeconds`. */
  sign(assetId: string, ttlSeconds: number, now = Date.now()): { token: string; expiresAt: Date } {
    const exp = Math.floor(now / 1000) + ttlSeconds;
    const id = Buffer.from(assetId.replace(/-/g, ''), 'hex');
    if (id.length !== 16) throw new Error('asset id must be a uuid');
    const e = Buffer.alloc(4);
    e.writeUInt32BE(exp);
    const body = Buffer.concat([id, e]).toString('base64url');
    return { token: `${body}.${this.mac('preview', body)}`, expiresAt: new Date(exp * 1000) };
  }

  /** The asset a preview token grants, or undefined when malformed, forged or expired. */
  verify(token: string, now = Date.now()): { assetId: string; expiresAt: Date } | undefined {
    const m = /^([A-Za-z0-9_-]{27})\.([A-Za-z0-9_-]{22})$/.exec(token);
    if (!m || !this.matches('preview', m[1], m[2])) return undefined;
    const raw = Buffer.from(m[1], 'base64url');
    if (raw.length !== 20) return undefined;
    const exp = raw.readUInt32BE(16);
    if (exp * 1000 <= now) return undefined;
    const hex = raw.subarray(0, 16).toString('hex');
    const assetId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    return { assetId, expiresAt: new Date(exp * 1000) };
  }

  /** The signature of a query-string link (`?exp=...&sig=...`) to `subject` until `exp` (epoch seconds). */
  signLink(purpose: string, subject: string, exp: number): string {
    return this.mac(purpose, `${subject}:${exp}`);
  }

  /** Whether `sig` signs `subject` until `exp` and `exp` has not passed. */
  verifyLink(purpose: string, subject: string, exp: number, sig: string, now = Date.now()): boolean {
    return exp * 1000 > now && this.matches(purpose, `${subject}:${exp}`, sig);
  }

  private mac(purpose: string, text: string): string {
    return createHmac('sha256', this.secret).update(`${purpose}:${text}`).digest().subarray(0, 16).toString('base64url');
  }

  private matches(purpose: string, text: string, sig: string): boolean {
    const expected = Buffer.from(this.mac(purpose, text));
    const given = Buffer.from(sig);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
