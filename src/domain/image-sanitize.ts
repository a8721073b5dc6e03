/**
 * Question attachments (issue 6): an image is accepted only when its bytes parse as a JPEG, PNG or
 * WebP (magic bytes and the whole container structure, never the declared type or file name), and it
 * is stored stripped of metadata. Pure JavaScript, no native image library: instead of re-encoding,
 * the container is rewritten keeping only what decoders need to draw the picture.
 *
 * - JPEG: segments are walked marker by marker up to EOI. Kept: SOFn, DHT, DQT, DRI, SOS and the
 *   entropy-coded data, JFIF APP0 (its thumbnail dropped), ICC profile APP2 (colour) and Adobe APP14
 *   (colour transform). Dropped: EXIF/XMP APP1 (GPS, camera serial, thumbnails), all other APPn, COM.
 *   EXIF Orientation is carried over alone in a minimal EXIF segment, so phone photos stay upright.
 * - PNG: every chunk's CRC is checked; kept are the critical chunks and the rendering ones (tRNS,
 *   gAMA, cHRM, sRGB, iCCP, sBIT, bKGD, pHYs); text, time, eXIf, private and animation chunks go.
 * - WebP: RIFF chunks are walked; EXIF and XMP chunks are dropped and their VP8X flags cleared.
 * Bytes after the end of the image (EOI, IEND, the RIFF size) are dropped: no polyglot payloads.
 */

export type ImageType = 'image/jpeg' | 'image/png' | 'image/webp';

export interface SanitizedImage {
  type: ImageType;
  width: number;
  height: number;
  data: Buffer;
}

export interface ImageLimits {
  maxBytes: number;
  maxSide: number;
  maxPixels: number;
}

export const defaultImageLimits: ImageLimits = { maxBytes: 2 * 1024 * 1024, maxSide: 10_000, maxPixels: 40_000_000 };

/** Why an image was refused, in words a student understands. */
export class ImageRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageRejectedError';
  }
}

function reject(why: string): never {
  throw new ImageRejectedError(why);
}

/** Checks that `buf` is a real JPEG, PNG or WebP within the limits and returns it without metadata. */
export function sanitizeImage(buf: Buffer, limits: ImageLimits = defaultImageLimits): SanitizedImage {
  if (buf.length === 0) reject('the image is empty');
  if (buf.length > limits.maxBytes) reject(`the image is larger than ${Math.floor(limits.maxBytes / 1024)} KiB`);
  let out: SanitizedImage;
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) out = sanitizeJpeg(buf);
  else if (buf.length >= 8 && buf.subarray(0, 8).equals(pngSignature)) out = sanitizePng(buf);
  else if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') out = sanitizeWebp(buf);
  else return reject('not a JPEG, PNG or WebP image');
  if (out.width < 1 || out.height < 1) reject('the image has no pixels');
  if (out.width > limits.maxSide || out.height > limits.maxSide || out.width * out.height > limits.maxPixels) {
    reject(`the image is ${out.width}x${out.height} pixels; at most ${limits.maxSide} per side and ${limits.maxPixels / 1e6} megapixels`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- JPEG

const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function sanitizeJpeg(buf: Buffer): SanitizedImage {
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  let pos = 2;
  let width = 0;
  let height = 0;
  let sawSof = false;
  let sawScan = false;
  let orientation: number | undefined;
  let ended = false;
  while (pos < buf.length) {
    if (buf[pos] !== 0xff) reject('the JPEG is damaged (expected a marker)');
    while (pos < buf.length && buf[pos] === 0xff) pos++; // fill bytes before a marker
    if (pos >= buf.length) break;
    const marker = buf[pos++];
    if (marker === 0xd9) {
      parts.push(Buffer.from([0xff, 0xd9]));
      ended = true;
      break;
    }
    if (marker === 0xd8 || marker === 0x00 || (marker >= 0xd0 && marker <= 0xd7)) reject('the JPEG is damaged (unexpected marker)');
    if (marker === 0x01) continue; // TEM: no payload, meaningless outside arithmetic coding
    if (pos + 2 > buf.length) reject('the JPEG is truncated');
    const len = buf.readUInt16BE(pos);
    if (len < 2 || pos + len > buf.length) reject('the JPEG is truncated or damaged (segment length)');
    const segment = buf.subarray(pos - 2, pos + len);
    const data = buf.subarray(pos + 2, pos + len);
    pos += len;
    if (marker >= 0xe0 && marker <= 0xef) {
      if (marker === 0xe0 && data.length >= 14 && data.toString('latin1', 0, 5) === 'JFIF\0') {
        // JFIF header without its thumbnail: version, density units and densities, 0x0 thumbnail
        const jfif = Buffer.alloc(16);
        jfif.writeUInt16BE(0xffe0, 0);
        jfif.writeUInt16BE(16, 2);
        data.copy(jfif, 4, 0, 12);
        jfif[16 - 2] = 0;
        jfif[16 - 1] = 0;
        parts.push(jfif);
      } else if (marker === 0xe1 && data.length >= 6 && data.toString('latin1', 0, 6) === 'Exif\0\0') {
        orientation ??= exifOrientation(data.subarray(6));
      } else if (marker === 0xe2 && data.length >= 12 && data.toString('latin1', 0, 12) === 'ICC_PROFILE\0') {
        parts.push(segment);
      } else if (marker === 0xee && data.length >= 5 && data.toString('latin1', 0, 5) === 'Adobe') {
        parts.push(segment);
      }
      continue;
    }
    if (marker === 0xfe || (marker >= 0xf0 && marker <= 0xfd)) continue; // COM, JPGn extensions
    if (isSof(marker)) {
      if (sawSof) reject('the JPEG has more than one frame header');
      if (data.length < 6) reject('the JPEG frame header is damaged');
      height = data.readUInt16BE(1);
      width = data.readUInt16BE(3);
      const components = data[5];
      if (components < 1 || components > 4 || data.length !== 6 + 3 * components) reject('the JPEG frame header is damaged');
      sawSof = true;
      parts.push(segment);
      continue;
    }
    if (marker === 0xda) {
      if (!sawSof) reject('the JPEG has image data before its frame header');
      const components = data[0];
      if (!components || data.length !== 4 + 2 * components) reject('the JPEG scan header is damaged');
      parts.push(segment);
      // entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor a restart marker
      const start = pos;
      let i = pos;
      for (;;) {
        if (i + 1 >= buf.length) reject('the JPEG is truncated (image data does not end)');
        if (buf[i] === 0xff) {
          const n = buf[i + 1];
          if (n === 0x00 || (n >= 0xd0 && n <= 0xd7)) {
            i += 2;
            continue;
          }
          if (n === 0xff) {
            i++;
            continue;
          }
          break;
        }
        i++;
      }
      parts.push(buf.subarray(start, i));
      pos = i;
      sawScan = true;
      continue;
    }
    if (marker === 0xc4 || marker === 0xdb || marker === 0xdd || marker === 0xcc || marker === 0xdc || marker === 0xdf) {
      parts.push(segment); // DHT, DQT, DRI, DAC, DNL, EXP
      continue;
    }
    reject('the JPEG holds an unknown segment');
  }
  if (!ended) reject('the JPEG is truncated (no end marker)');
  if (!sawSof || !sawScan) reject('the JPEG has no image data');
  if (orientation && orientation >= 2 && orientation <= 8) parts.splice(1, 0, minimalExif(orientation));
  return { type: 'image/jpeg', width, height, data: Buffer.concat(parts) };
}

/** The Orientation tag (0x0112) of IFD0 in a TIFF structure, or undefined. Never throws. */
function exifOrientation(tiff: Buffer): number | undefined {
  try {
    const order = tiff.toString('latin1', 0, 2);
    if (order !== 'II' && order !== 'MM') return undefined;
    const le = order === 'II';
    const u16 = (o: number): number => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
    const u32 = (o: number): number => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
    if (u16(2) !== 42) return undefined;
    const ifd = u32(4);
    const count = u16(ifd);
    for (let k = 0; k < count && k < 500; k++) {
      const e = ifd + 2 + k * 12;
      if (u16(e) === 0x0112 && u16(e + 2) === 3) {
        const v = u16(e + 8);
        return v >= 1 && v <= 8 ? v : undefined;
      }
    }
  } catch {
    /* out of bounds: no usable orientation */
  }
  return undefined;
}

/** APP1 with an EXIF block holding only IFD0 Orientation (big-endian TIFF). */
function minimalExif(orientation: number): Buffer {
  const b = Buffer.alloc(4 + 6 + 26);
  b.writeUInt16BE(0xffe1, 0);
  b.writeUInt16BE(2 + 6 + 26, 2);
  b.write('Exif\0\0', 4, 'latin1');
  const t = 10;
  b.write('MM', t, 'latin1');
  b.writeUInt16BE(42, t + 2);
  b.writeUInt32BE(8, t + 4);
  b.writeUInt16BE(1, t + 8); // one entry
  b.writeUInt16BE(0x0112, t + 10);
  b.writeUInt16BE(3, t + 12); // SHORT
  b.writeUInt32BE(1, t + 14);
  b.writeUInt16BE(orientation, t + 18);
  b.writeUInt32BE(0, t + 22); // no next IFD
  return b;
}

// ----------------------------------------------------------------------------------------------- PNG

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const pngKeep = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'bKGD', 'pHYs']);
const pngDepths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

let crcTable: Uint32Array | undefined;
/** CRC-32 (ISO 3309), as PNG chunks carry it. */
export function crc32(data: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function sanitizePng(buf: Buffer): SanitizedImage {
  const parts: Buffer[] = [pngSignature];
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  let first = true;
  let sawPlte = false;
  let idatState: 'none' | 'in' | 'after' = 'none';
  let ended = false;
  while (pos + 12 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    if (len > 0x7fffffff || pos + 12 + len > buf.length) reject('the PNG is truncated or damaged (chunk length)');
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) reject('the PNG is damaged (chunk type)');
    const body = buf.subarray(pos + 4, pos + 8 + len);
    if (crc32(body) !== buf.readUInt32BE(pos + 8 + len)) reject(`the PNG is damaged (checksum of its ${type} chunk)`);
    const chunk = buf.subarray(pos, pos + 12 + len);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    pos += 12 + len;
    if (first) {
      if (type !== 'IHDR' || len !== 13) reject('the PNG does not start with its header');
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      colorType = data[9];
      if (!pngDepths[colorType]?.includes(depth) || data[10] !== 0 || data[11] !== 0 || data[12] > 1) reject('the PNG header is invalid');
      first = false;
      parts.push(chunk);
      continue;
    }
    if (type === 'IHDR') reject('the PNG has two headers');
    if (type === 'IDAT') {
      if (idatState === 'after') reject('the PNG image data is split');
      idatState = 'in';
    } else if (idatState === 'in') idatState = 'after';
    if (type === 'PLTE') sawPlte = true;
    if (type === 'IEND') {
      parts.push(chunk);
      ended = true;
      break;
    }
    if (pngKeep.has(type)) parts.push(chunk);
    else if (type.charCodeAt(0) < 0x61) reject(`the PNG needs an unsupported chunk (${type})`); // upper case: critical
  }
  if (first) reject('the PNG is truncated');
  if (!ended) reject('the PNG is truncated (no end chunk)');
  if (idatState === 'none') reject('the PNG has no image data');
  if (colorType === 3 && !sawPlte) reject('the PNG palette is missing');
  return { type: 'image/png', width, height, data: Buffer.concat(parts) };
}

// ---------------------------------------------------------------------------------------------- WebP

const webpKeep = new Set(['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ICCP', 'ANIM', 'ANMF']);

function sanitizeWebp(buf: Buffer): SanitizedImage {
  const riffSize = buf.readUInt32LE(4);
  if (riffSize < 4 || riffSize % 2 !== 0 || 8 + riffSize > buf.length) reject('the WebP is truncated or damaged (RIFF size)');
  const end = 8 + riffSize;
  let pos = 12;
  const chunks: { type: string; data: Buffer }[] = [];
  while (pos < end) {
    if (pos + 8 > end) reject('the WebP is damaged (chunk header)');
    const type = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    if (pos + 8 + size > end) reject('the WebP is truncated or damaged (chunk size)');
    chunks.push({ type, data: buf.subarray(pos + 8, pos + 8 + size) });
    pos += 8 + size + (size % 2);
  }
  if (pos !== end) reject('the WebP is damaged (chunk padding)');
  const head = chunks[0];
  if (!head) reject('the WebP has no image');
  let width = 0;
  let height = 0;
  if (head.type === 'VP8 ') ({ width, height } = vp8Size(head.data));
  else if (head.type === 'VP8L') ({ width, height } = vp8lSize(head.data));
  else if (head.type === 'VP8X') {
    if (head.data.length < 10) reject('the WebP extended header is damaged');
    width = head.data.readUIntLE(4, 3) + 1;
    height = head.data.readUIntLE(7, 3) + 1;
    const animated = (head.data[0] & 0x02) !== 0;
    const frames = chunks.filter((c) => c.type === 'VP8 ' || c.type === 'VP8L' || c.type === 'ANMF');
    if (!frames.length) reject('the WebP has no image data');
    if (!animated) {
      const img = chunks.find((c) => c.type === 'VP8 ' || c.type === 'VP8L');
      if (!img) reject('the WebP has no image data');
      const s = img!.type === 'VP8 ' ? vp8Size(img!.data) : vp8lSize(img!.data);
      if (s.width !== width || s.height !== height) reject('the WebP image does not match its canvas');
    }
  } else reject('the WebP does not start with an image');
  const kept = chunks.filter((c) => webpKeep.has(c.type));
  const out: Buffer[] = [];
  for (const c of kept) {
    let data = c.data;
    if (c.type === 'VP8X') {
      data = Buffer.from(c.data);
      data[0] &= ~(0x04 | 0x08); // XMP and EXIF flags: those chunks are gone
    }
    const h = Buffer.alloc(8);
    h.write(c.type, 0, 'latin1');
    h.writeUInt32LE(data.length, 4);
    out.push(h, data);
    if (data.length % 2) out.push(Buffer.alloc(1));
  }
  const payload = Buffer.concat(out);
  const header = Buffer.alloc(12);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(4 + payload.length, 4);
  header.write('WEBP', 8, 'latin1');
  return { type: 'image/webp', width, height, data: Buffer.concat([header, payload]) };
}

function vp8Size(d: Buffer): { width: number; height: number } {
  // frame tag (3 bytes, key frame bit 0 clear) then the start code 9d 01 2a (RFC 6386 9.1)
  if (d.length < 10 || (d[0] & 0x01) !== 0 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) reject('the WebP (VP8) image data is damaged');
  return { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff };
}

function vp8lSize(d: Buffer): { width: number; height: number } {
  // signature 0x2f, then 14 bits width-1 and 14 bits height-1, little-endian bit order
  if (d.length < 5 || d[0] !== 0x2f) reject('the WebP (lossless) image data is damaged');
  const bits = d.readUInt32LE(1);
  if (bits >>> 29 !== 0) reject('the WebP (lossless) version is unknown');
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
}
