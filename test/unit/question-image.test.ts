import { beforeAll, describe, expect, it } from 'vitest';
import { ImageRejectedError, reencodeImage } from '../../src/media/question-image.ts';
import { jpegWithMetadata, makeImage, pngWithMetadata, probeImage, webpWithMetadata } from '../helpers/images.ts';

const secret = 'GPS-31.2304N-121.4737E-SERIAL-XK42';

let jpeg: Buffer;
let png: Buffer;
let webp: Buffer;
beforeAll(async () => {
  [jpeg, png, webp] = await Promise.all([makeImage('jpeg', 64, 48), makeImage('png', 40, 30), makeImage('webp', 50, 20)]);
});

describe('question images', () => {
  it('when a JPEG carries EXIF with GPS, XMP and a comment, then what is stored is a fresh JPEG without any of it, turned upright by its orientation', async () => {
    const dirty = jpegWithMetadata(jpeg, 6, secret);
    expect(dirty.includes(secret)).toBe(true);
    const out = await reencodeImage(dirty);
    // orientation 6: the 64x48 stored picture is shown rotated, 48x64
    expect(out).toMatchObject({ type: 'image/jpeg', width: 48, height: 64 });
    for (const s of [secret, 'GPS', 'Exif', 'xmpmeta', 'comment']) expect(out.data.includes(s), s).toBe(false);
    expect(await probeImage(out.data)).toEqual({ codec: 'mjpeg', width: 48, height: 64, decodes: true });
  });

  it('when a JPEG has no metadata, then it is still re-encoded, not stored as uploaded', async () => {
    const out = await reencodeImage(jpeg);
    expect(out).toMatchObject({ type: 'image/jpeg', width: 64, height: 48 });
    expect(out.data.equals(jpeg)).toBe(false);
    expect((await probeImage(out.data)).decodes).toBe(true);
  });

  it('when a PNG carries text, time and EXIF chunks, then the stored PNG has none of them and decodes', async () => {
    const dirty = pngWithMetadata(png, secret);
    const out = await reencodeImage(dirty);
    expect(out).toMatchObject({ type: 'image/png', width: 40, height: 30 });
    expect(out.data.includes(secret)).toBe(false);
    for (const t of ['tEXt', 'tIME', 'eXIf']) expect(out.data.includes(t)).toBe(false);
    expect(await probeImage(out.data)).toEqual({ codec: 'png', width: 40, height: 30, decodes: true });
  });

  it('when a WebP carries EXIF and XMP, then the stored WebP has neither, is turned upright and decodes', async () => {
    const dirty = webpWithMetadata(webp, 50, 20, secret);
    expect((await probeImage(dirty)).decodes).toBe(true);
    const out = await reencodeImage(dirty);
    // its EXIF says orientation 6: stored 50x20, shown 20x50
    expect(out).toMatchObject({ type: 'image/webp', width: 20, height: 50 });
    expect(out.data.includes(secret)).toBe(false);
    expect(out.data.includes('EXIF')).toBe(false);
    expect(out.data.includes('XMP ')).toBe(false);
    expect(out.data.readUInt32LE(4)).toBe(out.data.length - 8);
    expect(await probeImage(out.data)).toMatchObject({ codec: 'webp', width: 20, height: 50 });
  });

  it('when bytes follow the end of an image, then they are not stored', async () => {
    const tail = Buffer.from('<script>alert(1)</script>PK\u0003\u0004');
    for (const img of [jpeg, png]) {
      const out = await reencodeImage(Buffer.concat([img, tail]));
      expect(out.data.includes('<script>')).toBe(false);
      expect(out.data.includes('PK')).toBe(false);
    }
  });

  it('when a file is not really a picture or is damaged, then it is refused with a reason', async () => {
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
      ['webp with bad RIFF size', (() => { const b = Buffer.from(webp); b.writeUInt32LE(b.length * 2, 4); return b; })(), /damaged or truncated/],
      ['webp without image', Buffer.concat([Buffer.from('RIFF'), Buffer.from([4, 0, 0, 0]), Buffer.from('WEBP')]), /damaged or truncated/],
    ];
    for (const [name, buf, re] of cases) {
      let err: unknown;
      try {
        await reencodeImage(buf);
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(ImageRejectedError);
      expect((err as Error).message, name).toMatch(re);
    }
  });

  it('when an image is too big in bytes or pixels, then it is refused', async () => {
    await expect(reencodeImage(jpeg, { maxBytes: 100, maxSide: 10_000, maxPixels: 1e8 })).rejects.toThrow(/larger than/);
    await expect(reencodeImage(png, { maxBytes: 1e7, maxSide: 32, maxPixels: 1e8 })).rejects.toThrow(/40x30 pixels/);
    // a header claiming 60000x60000 (a decompression bomb) is refused on its declared size
    const bomb = Buffer.from(jpeg);
    const sof = bomb.indexOf(Buffer.from([0xff, 0xc0]));
    bomb.writeUInt16BE(60000, sof + 5);
    bomb.writeUInt16BE(60000, sof + 7);
    await expect(reencodeImage(bomb)).rejects.toThrow(/60000x60000/);
  });
});
