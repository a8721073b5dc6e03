import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { runFfmpegCli } from './media.ts';

/**
 * Pictures for the Q&A tests, made with ffmpeg at test time (no binary fixtures), and the metadata a
 * phone would add to them (EXIF with GPS and orientation, comments, PNG text, WebP EXIF/XMP), added
 * byte by byte the way each format defines it.
 */

export type ImageKind = 'jpeg' | 'png' | 'webp';

/** A `width`x`height` test picture in the given format. */
export async function makeImage(kind: ImageKind, width = 64, height = 48): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cc-img-'));
  try {
    const file = path.join(dir, `p.${kind === 'jpeg' ? 'jpg' : kind}`);
    const codec = kind === 'jpeg' ? ['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p'] : kind === 'png' ? ['-c:v', 'png'] : ['-c:v', 'libwebp'];
    await runFfmpegCli(['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=1`, '-frames:v', '1', ...codec, '-f', 'image2', file]);
    return await readFile(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What ffprobe decodes from the bytes: its codec and size, or an error. */
export async function probeImage(buf: Buffer): Promise<{ codec: string; width: number; height: number; decodes: boolean }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cc-probe-'));
  try {
    const file = path.join(dir, 'in.bin');
    await writeFile(file, buf);
    const out = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file]);
    const s = (JSON.parse(out.stdout || '{}') as { streams?: { codec_name: string; width: number; height: number }[] }).streams?.[0];
    const decode = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-']);
    return { codec: s?.codec_name ?? '', width: s?.width ?? 0, height: s?.height ?? 0, decodes: decode.code === 0 && !decode.stderr.trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.once('error', reject);
    c.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A little-endian TIFF block: IFD0 with Orientation, Make, and a GPS IFD with a latitude reference. */
export function exifTiff(orientation: number, secret: string): Buffer {
  const text = Buffer.from(`${secret}\0`, 'latin1');
  // header(8) + IFD0: count(2) + 3 entries(36) + next(4) = 50; GPS IFD at 50: count(2) + 1 entry(12) + next(4) = 18; text at 68
  const b = Buffer.alloc(68 + text.length);
  b.write('II', 0, 'latin1');
  b.writeUInt16LE(42, 2);
  b.writeUInt32LE(8, 4);
  b.writeUInt16LE(3, 8);
  const entry = (i: number, tag: number, type: number, count: number, value: number) => {
    const o = 10 + i * 12;
    b.writeUInt16LE(tag, o);
    b.writeUInt16LE(type, o + 2);
    b.writeUInt32LE(count, o + 4);
    if (type === 3 && count === 1) b.writeUInt16LE(value, o + 8);
    else b.writeUInt32LE(value, o + 8);
  };
  entry(0, 0x010f, 2, text.length, 68); // Make (ASCII at offset 68)
  entry(1, 0x0112, 3, 1, orientation); // Orientation
  entry(2, 0x8825, 4, 1, 50); // GPS IFD pointer
  b.writeUInt32LE(0, 46);
  b.writeUInt16LE(1, 50);
  b.writeUInt16LE(0x0001, 52); // GPSLatitudeRef
  b.writeUInt16LE(2, 54);
  b.writeUInt32LE(2, 56);
  b.write('N\0', 60, 'latin1');
  b.writeUInt32LE(0, 64);
  text.copy(b, 68);
  return b;
}

/** Inserts APP1 EXIF, APP1 XMP and a COM segment right after the JPEG's SOI. */
export function jpegWithMetadata(jpeg: Buffer, orientation: number, secret: string): Buffer {
  const seg = (marker: number, data: Buffer) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(0xff00 | marker, 0);
    h.writeUInt16BE(data.length + 2, 2);
    return Buffer.concat([h, data]);
  };
  const exif = seg(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exifTiff(orientation, secret)]));
  const xmp = seg(0xe1, Buffer.from(`http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><rdf:Description GPSLatitude="${secret}"/></x:xmpmeta>`, 'latin1'));
  const com = seg(0xfe, Buffer.from(`comment ${secret}`, 'latin1'));
  return Buffer.concat([jpeg.subarray(0, 2), exif, xmp, com, jpeg.subarray(2)]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Adds tEXt, tIME and eXIf chunks after IHDR, with valid CRCs. */
export function pngWithMetadata(png: Buffer, secret: string): Buffer {
  const ihdrEnd = 8 + 12 + 13;
  const text = pngChunk('tEXt', Buffer.from(`Comment\0${secret}`, 'latin1'));
  const time = pngChunk('tIME', Buffer.from([0x07, 0xe9, 1, 2, 3, 4, 5]));
  const exif = pngChunk('eXIf', exifTiff(1, secret));
  return Buffer.concat([png.subarray(0, ihdrEnd), text, time, exif, png.subarray(ihdrEnd)]);
}

/** Turns a simple lossy WebP into the extended format with EXIF and XMP chunks. */
export function webpWithMetadata(webp: Buffer, width: number, height: number, secret: string): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const h = Buffer.alloc(8);
    h.write(type, 0, 'latin1');
    h.writeUInt32LE(data.length, 4);
    return Buffer.concat([h, data, data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const vp8x = Buffer.alloc(10);
  vp8x[0] = 0x08 | 0x04; // EXIF + XMP
  vp8x.writeUIntLE(width - 1, 4, 3);
  vp8x.writeUIntLE(height - 1, 7, 3);
  const image = webp.subarray(12, 8 + webp.readUInt32LE(4));
  const payload = Buffer.concat([chunk('VP8X', vp8x), image, chunk('EXIF', exifTiff(6, secret)), chunk('XMP ', Buffer.from(`<x:xmpmeta>${secret}</x:xmpmeta>`, 'latin1'))]);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + payload.length, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, payload]);
}
