/**
 * Our one HLS playlist reader: tags and URIs line by line, exactly as written (a duplicated tag or
 * the raw text of an attribute stays visible, which the validator needs and hls-parser hides), and
 * the media playlist and variant views built on it. Pure: text in, structures out.
 */

export interface Tag {
  name: string;
  value: string;
  line: number;
}

/** Parses an attribute list (`A=1,B="x,y",C=0x1F`). */
export function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    out.set(m[1], m[2].startsWith('"') ? m[2].slice(1, -1) : m[2]);
  }
  return out;
}

export interface ParsedText {
  first: string;
  tags: Tag[];
  /** Non-tag, non-empty lines with the tag lines just before them. */
  uris: { uri: string; before: Tag[] }[];
}

/** Tags and URI lines of a playlist, each URI with the tags just before it. */
export function readPlaylistText(text: string): ParsedText {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim());
  const tags: Tag[] = [];
  const uris: ParsedText['uris'] = [];
  let pending: Tag[] = [];
  lines.forEach((line, i) => {
    if (!line) return;
    if (line.startsWith('#EXT')) {
      const idx = line.indexOf(':');
      const tag = { name: idx < 0 ? line.slice(1) : line.slice(1, idx), value: idx < 0 ? '' : line.slice(idx + 1), line: i + 1 };
      tags.push(tag);
      pending.push(tag);
    } else if (!line.startsWith('#')) {
      uris.push({ uri: line, before: pending });
      pending = [];
    }
  });
  return { first: lines.find((l) => l.length > 0) ?? '', tags, uris };
}

export interface MasterVariant {
  uri: string;
  attrs: Map<string, string>;
  bandwidth: number | null;
  averageBandwidth: number | null;
  codecs: string[] | null;
  resolution: { width: number; height: number } | null;
  frameRateText: string | null;
}

export interface MediaSegment {
  uri: string;
  durationS: number;
  msn: number;
}

export interface MediaPlaylistParsed {
  uri: string;
  versions: number[];
  targets: number[];
  playlistType: string | null;
  endlist: boolean;
  hasMap: boolean;
  /** The first EXT-X-MAP URI. */
  mapUri: string | null;
  /** Every distinct EXT-X-MAP URI, in order. */
  mapUris: string[];
  /** EXT-X-MEDIA-SEQUENCE (0 when absent). */
  mediaSequence: number;
  hasByterange: boolean;
  segments: MediaSegment[];
  decimalDurations: boolean;
}

/** A media playlist as written: every EXT-X-VERSION and TARGETDURATION, segments with their sequence numbers. */
export function readMediaPlaylistText(uri: string, text: string): MediaPlaylistParsed {
  const p = readPlaylistText(text);
  const versions = p.tags.filter((t) => t.name === 'EXT-X-VERSION').map((t) => Number(t.value));
  const targets = p.tags.filter((t) => t.name === 'EXT-X-TARGETDURATION').map((t) => Number(t.value));
  const seqTag = p.tags.find((t) => t.name === 'EXT-X-MEDIA-SEQUENCE');
  const base = seqTag ? Number(seqTag.value) : 0;
  const mapUris = [...new Set(p.tags.filter((t) => t.name === 'EXT-X-MAP').map((t) => parseAttributes(t.value).get('URI')).filter((u): u is string => !!u))];
  let decimal = false;
  const segments = p.uris.map((u, i) => {
    const inf = u.before.find((t) => t.name === 'EXTINF');
    const raw = inf ? inf.value.split(',')[0] : 'NaN';
    if (/\./.test(raw)) decimal = true;
    return { uri: u.uri, durationS: Number(raw), msn: base + i };
  });
  return {
    uri,
    versions,
    targets,
    playlistType: p.tags.find((t) => t.name === 'EXT-X-PLAYLIST-TYPE')?.value ?? null,
    endlist: p.tags.some((t) => t.name === 'EXT-X-ENDLIST'),
    hasMap: p.tags.some((t) => t.name === 'EXT-X-MAP'),
    mapUri: mapUris[0] ?? null,
    mapUris,
    mediaSequence: base,
    hasByterange: p.tags.some((t) => t.name === 'EXT-X-BYTERANGE'),
    segments,
    decimalDurations: decimal,
  };
}

/** A multivariant playlist lists variants; a media playlist does not. */
export function isMultivariant(p: ParsedText): boolean {
  return p.tags.some((t) => t.name === 'EXT-X-STREAM-INF');
}

/** The variants (EXT-X-STREAM-INF + URI) of a multivariant playlist, attributes parsed. */
export function readVariants(master: ParsedText): MasterVariant[] {
  return master.uris
    .map(({ uri, before }) => ({ uri, tag: before.find((t) => t.name === 'EXT-X-STREAM-INF') }))
    .filter((x): x is { uri: string; tag: Tag } => !!x.tag)
    .map(({ uri, tag }) => {
      const attrs = parseAttributes(tag.value);
      const res = /^(\d+)x(\d+)$/.exec(attrs.get('RESOLUTION') ?? '');
      const num = (k: string) => (attrs.has(k) && /^\d+$/.test(attrs.get(k)!) ? Number(attrs.get(k)) : null);
      return {
        uri,
        attrs,
        bandwidth: num('BANDWIDTH'),
        averageBandwidth: num('AVERAGE-BANDWIDTH'),
        codecs: attrs.has('CODECS') ? attrs.get('CODECS')!.split(',').map((c) => c.trim()).filter(Boolean) : null,
        resolution: res ? { width: Number(res[1]), height: Number(res[2]) } : null,
        frameRateText: attrs.get('FRAME-RATE') ?? null,
      };
    });
}
