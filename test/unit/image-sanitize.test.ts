import { beforeAll, describe, expect, it } from 'vitest';
import { ImageRejectedError, sanitizeImage } from '../../src/domain/image-sanitize.ts';
import { jpegWithMetadata, makeImage, pngWithMetadata, probeImage, webpWithMetadata } from '../helpers/images.ts';

const secret = 'GPS-31.2304N-121.4737E-SERIAL-XK42';

let jpeg: Buffer;
let png: Buffer;
let webp: Buffer;
beforeAll(async () => {
  [jpeg, png, webp] = await Promise.all([makeImage('jpeg', 64, 48), makeImage('png', 40, 30), makeImage('webp', 50, 20)]);
});

function segments(buf: Buffer): number[] {
  const out: number[] = [];
  let pos = 2;
  while (pos < buf.length) {
    const m = buf[pos + 1];
    out.push(m);
    if (m === 0xda || m === 0xd9) break;
    pos += 2 + buf.readUInt16BE(pos + 2);
  }
  return out;
}

describe('image sanitizing', () => {
  it('when a JPEG carries EXIF with GPS, XMP and a comment, then all are gone, orientation stays, and it still decodes', async () => {
    const dirty = jpegWithMetadata(jpeg, 6, secret);
    expect(dirty.includes(secret)).toBe(true);
    const out = sanitizeImage(dirty);
    expect(out).toMatchObject({ type: 'image/jpeg', width: 64, height: 48 });
    expect(out.data.includes(secret)).toBe(false);
    expect(out.data.includes('GPS')).toBe(false);
    expect(out.data.includes('xmpmeta')).toBe(false);
    expect(out.data.includes('comment')).toBe(false);
    // SOI, then the one APP1 we write (orientation only), no COM anywhere
    expect(segments(out.data)[0]).toBe(0xe1);
    expect(segments(out.data)).not.toContain(0xfe);
    const app1 = out.data.subarray(6, 4 + out.data.readUInt16BE(4));
    expect(app1.length).toBe(32);
    expect(app1.subarray(6, 8).toString('latin1')).toBe('MM');
    expect(app1.readUInt16BE(6 + 8 + 2)).toBe(0x0112);
    expect(app1.readUInt16BE(6 + 8 + 10)).toBe(6);
    expect(await probeImage(out.data)).toEqual({ codec: 'mjpeg', width: 64, height: 48, decodes: true });
  });

  it('when a JPEG has no EXIF, then no EXIF is added and the picture data is untouched', () => {
    const out = sanitizeImage(jpeg);
    expect(segments(out.data)).not.toContain(0xe1);
    const sos = (b: Buffer) => b.subarray(b.indexOf(Buffer.from([0xff, 0xda])));
    expect(sos(out.data).equals(sos(jpeg))).toBe(true);
  });

  it('when a PNG carries text, time and EXIF chunks, then they are dropped and every CRC still holds', async () => {
    const dirty = pngWithMetadata(png, secret);
    const out = sanitizeImage(dirty);
    expect(out).toMatchObject({ type: 'image/png', width: 40, height: 30 });
    expect(out.data.includes(secret)).toBe(false);
    for (const t of ['tEXt', 'tIME', 'eXIf']) expect(out.data.includes(t)).toBe(false);
    expect(await probeImage(out.data)).toEqual({ codec: 'png', width: 40, height: 30, decodes: true });
  });

  it('when a WebP carries EXIF and XMP, then they are dropped, the VP8X flags cleared, and it still decodes', async () => {
    const dirty = webpWithMetadata(webp, 50, 20, secret);
    expect((await probeImage(dirty)).decodes).toBe(true);
    const out = sanitizeImage(dirty);
    expect(out).toMatchObject({ type: 'image/webp', width: 50, height: 20 });
    expect(out.data.includes(secret)).toBe(false);
    expect(out.data.includes('EXIF')).toBe(false);
    expect(out.data.includes('XMP ')).toBe(false);
    expect(out.data[20] & 0x0c).toBe(0);
    expect(out.data.readUInt32LE(4)).toBe(out.data.length - 8);
    expect(await probeImage(out.data)).toMatchObject({ codec: 'webp', width: 50, height: 20 });
    expect(sanitizeImage(webp).data.equals(webp.subarray(0, 8 + webp.readUInt32LE(4)))).toBe(true);
  });

  it('when bytes follow the end of an image, then they are not stored', () => {
    const tail = Buffer.from('<script>alert(1)</script>PK\u0003\u0004');
    for (const img of [jpeg, png]) {
      const out = sanitizeImage(Buffer.concat([img, tail]));
      expect(out.data.includes('<script>')).toBe(false);
    }
  });

  it('when a file is not really a picture or is damaged, then it is refused with a reason', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['html named .jpg', Buffer.from('<html><script>alert(1)</script></html>'), /not a JPEG, PNG or WebP/],
      ['svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), /not a JPEG/],
      ['gif', Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;'), /not a JPEG/],
      ['empty', Buffer.alloc(0), /empty/],
      ['jpeg magic only', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00]), /truncated/],
      ['truncated jpeg', jpeg.subarray(0, jpeg.length - 40), /truncated/],
      ['png with a flipped byte', (() => { const b = Buffer.from(png); b[40] ^= 0xff; return b; })(), /checksum|damaged/],
      ['truncated png', png.subarray(0, png.length - 20), /truncated/],
      ['png signature only', png.subarray(0, 8), /truncated/],
      ['webp with bad RIFF size', (() => { const b = Buffer.from(webp); b.writeUInt32LE(b.length * 2, 4); return b; })(), /RIFF size/],
      ['webp without image', Buffer.concat([Buffer.from('RIFF'), Buffer.from([4, 0, 0, 0]), Buffer.from('WEBP')]), /no image/],
    ];
    for (const [name, buf, re] of cases) {
      let err: unknown;
      try {
        sanitizeImage(buf);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(ImageRejectedError);
      expect((err as Error).message, name).toMatch(re);
    }
  });

  it('when an image is too big in bytes or pixels, then it is refused', () => {
    expect(() => sanitizeImage(jpeg, { maxBytes: 100, maxSide: 10_000, maxPixels: 1e8 })).toThrow(/larger than/);
    expect(() => sanitizeImage(png, { maxBytes: 1e7, maxSide: 32, maxPixels: 1e8 })).toThrow(/40x30 pixels/);
    // a header claiming 60000x60000 (a decompression bomb) is refused on its declared size
    const bomb = Buffer.from(jpeg);
    const sof = bomb.indexOf(Buffer.from([0xff, 0xc0]));
    bomb.writeUInt16BE(60000, sof + 5);
    bomb.writeUInt16BE(60000, sof + 7);
    expect(() => sanitizeImage(bomb)).toThrow(/60000x60000/);
  });
});
