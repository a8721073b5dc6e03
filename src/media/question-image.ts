import sharp from 'sharp';

/**
 * Question attachments (issue 6). A picture is accepted only when its bytes are a JPEG, PNG or WebP
 * (magic bytes, never the declared type or name) within the byte and pixel caps, the pixel caps checked
 * on the header before anything is decoded (decompression bombs). What is stored is never the upload:
 * sharp (libvips) decodes it and writes a fresh file of the same format from the pixels alone, so no
 * metadata (EXIF with GPS and serials, XMP, comments, text chunks), nothing after the image and no
 * container trick survives. EXIF orientation is applied to the pixels so phone photos stay upright.
 */

export type ImageType = 'image/jpeg' | 'image/png' | 'image/webp';

export interface EncodedImage {
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

// untrusted pictures, one at a time: no cache of decoded images kept between requests
sharp.cache(false);

const formats = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const satisfies Record<string, ImageType>;
type Format = keyof typeof formats;

function sniff(buf: Buffer): Format | undefined {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return undefined;
}

const damaged = (): ImageRejectedError => new ImageRejectedError('the image is damaged or truncated');

/** Checks that `buf` is a real JPEG, PNG or WebP within the limits and returns a fresh encoding of its pixels. */
export async function reencodeImage(buf: Buffer, limits: ImageLimits = defaultImageLimits): Promise<EncodedImage> {
  if (buf.length === 0) throw new ImageRejectedError('the image is empty');
  if (buf.length > limits.maxBytes) throw new ImageRejectedError(`the image is larger than ${Math.floor(limits.maxBytes / 1024)} KiB`);
  const format = sniff(buf);
  if (!format) throw new ImageRejectedError('not a JPEG, PNG or WebP image');
  // 'truncated': refuse cut-off or corrupt data instead of storing a half-grey picture
  const input = (limitInputPixels: number | false) => sharp(buf, { failOn: 'truncated', limitInputPixels, animated: false });
  // the header alone (no pixel limit yet): its declared size decides before anything is decoded
  const meta = await input(false).metadata().catch(() => {
    throw damaged();
  });
  if (meta.format !== format) throw damaged();
  const { width = 0, height = 0 } = meta;
  if (width < 1 || height < 1) throw new ImageRejectedError('the image has no pixels');
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new ImageRejectedError(`the image is ${width}x${height} pixels; at most ${limits.maxSide} per side and ${limits.maxPixels / 1e6} megapixels`);
  }
  const pipeline = input(limits.maxPixels).rotate();
  const encoded = format === 'jpeg' ? pipeline.jpeg({ quality: 85 }) : format === 'png' ? pipeline.png() : pipeline.webp({ quality: 85 });
  const out = await encoded.toBuffer({ resolveWithObject: true }).catch(() => {
    throw damaged();
  });
  return { type: formats[format], width: out.info.width, height: out.info.height, data: out.data };
}
