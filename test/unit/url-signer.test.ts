import { describe, expect, it } from 'vitest';
import { UrlSigner } from '../../src/services/url-signer.ts';
import express from 'express';
import { byteRange } from '../../src/api/gateway.routes.ts';

const asset = '3f1c2a4e-9b8d-4c7e-a6f5-0123456789ab';

describe('preview tokens', () => {
  const s = new UrlSigner('x'.repeat(40));
  it('when a token is signed, then it verifies to its asset until it expires', () => {
    const now = Date.UTC(2026, 0, 1);
    const { token } = s.sign(asset, 60, now);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(s.verify(token, now + 59_000)?.assetId).toBe(asset);
    expect(s.verify(token, now + 60_000)).toBeUndefined();
  });
  it('when a token is altered or signed with another secret, then it is refused', () => {
    const { token } = s.sign(asset, 60);
    const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6);
    expect(s.verify(flipped)).toBeUndefined();
    expect(new UrlSigner('y'.repeat(40)).verify(token)).toBeUndefined();
    expect(s.verify('')).toBeUndefined();
    expect(s.verify('../../etc/passwd')).toBeUndefined();
  });
  it('when a token is made, then it does not carry the storage key or bucket', () => {
    const { token } = s.sign(asset, 60);
    expect(token).not.toContain(asset);
    expect(token).not.toMatch(/assets|media/);
  });
});

/** byteRange over a request carrying only a Range header, as Express builds it. */
function parseRange(header: string, size: number): ReturnType<typeof byteRange> {
  const req = Object.assign(Object.create(express.request) as express.Request, { headers: { range: header } });
  return byteRange(req, size);
}

describe('HTTP ranges', () => {
  it('when ranges are parsed, then they follow RFC 9110 for one range', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=0-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-1', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 1000)).toBeUndefined();
    expect(parseRange('items=0-1', 1000)).toBeUndefined();
  });
});
