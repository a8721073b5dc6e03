/**
 * ISO BMFF (fMP4) box walking and the two edits the transcode makes to fragments it wrote: dropping
 * top-level boxes when fragments are joined, and `free` boxes as padding. Pure.
 */

export interface Box {
  type: string;
  start: number;
  /** Payload start (after size/type/largesize). */
  body: number;
  end: number;
}

/** The boxes between `start` and `end` of `b` (one level; stops at the first malformed one). */
export function* boxes(b: Buffer, start: number, end: number): Generator<Box> {
  let off = start;
  while (off + 8 <= end) {
    let size = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    let body = off + 8;
    if (size === 1) {
      if (off + 16 > end) return;
      size = Number(b.readBigUInt64BE(off + 8));
      body = off + 16;
    } else if (size === 0) size = end - off;
    if (size < 8 || off + size > end) return;
    yield { type, start: off, body, end: off + size };
    off += size;
  }
}

/** Top-level boxes of a buffer, minus the given types (a fragment appended to another drops its styp/sidx). */
export function withoutBoxes(b: Buffer, drop: readonly string[]): Buffer {
  const keep: Buffer[] = [];
  for (const x of boxes(b, 0, b.length)) if (!drop.includes(x.type)) keep.push(b.subarray(x.start, x.end));
  return Buffer.concat(keep);
}

/** An ISO BMFF `free` box of exactly `bytes` bytes (>= 8): the fMP4 counterpart of null packets. */
export function freeBox(bytes: number): Buffer {
  if (bytes < 8) throw new Error('a free box needs at least 8 bytes');
  const b = Buffer.alloc(bytes, 0);
  b.writeUInt32BE(bytes, 0);
  b.write('free', 4, 'latin1');
  return b;
}
