/**
 * CableLabs VOD Metadata 1.1 (ADI 1.1) package writer, pure (REFERENCE.md, "Cable VOD: the ADI 1.1
 * package"). One package = package > title > movie + poster. Text is cleaned, cut to the field limits at
 * grapheme boundaries (never half a Chinese character) and XML-escaped; limits count characters, UTF-8
 * bytes or GBK bytes, as the operator's spec says.
 */

export type AdiTextUnit = 'char' | 'utf8' | 'gbk';
export type AdiAssetClass = 'package' | 'title' | 'movie' | 'poster' | 'preview';

/** Field limits of ADI 1.1 (REFERENCE.md). */
export const adiLimits = {
  provider: 20,
  product: 20,
  assetName: 50,
  providerId: 20,
  titleBrief: 19,
  title: 128,
  summaryShort: 256,
  categoryLevel: 20,
  category: 256,
  billingId: 5,
  description: 128,
} as const;

export const adiSpecVersion = 'CableLabsVOD1.1';
export const adiFileNames = { xml: 'ADI.XML', movie: 'movie.ts', poster: 'poster.jpg' } as const;

/** 4 letters + 16 digits (REFERENCE.md): the shape of every Asset_ID. */
export const assetIdPattern = /^[A-Za-z]{4}[0-9]{16}$/;
/** A lower-case domain of at most 20 characters. */
export const providerIdPattern = /^(?=.{1,20}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;

/**
 * An Asset_ID from the provider's 4-letter prefix and a number from the catalog's sequence (minting and
 * never reusing a number is the catalog's job). Throws outside 0..10^16-1 or on a bad prefix.
 */
export function formatAssetId(prefix4: string, n: number | bigint): string {
  if (!/^[A-Za-z]{4}$/.test(prefix4)) throw new RangeError(`Asset_ID prefix must be 4 letters, got "${prefix4}"`);
  const v = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : -1n;
  if (v < 0n || v >= 10n ** 16n) throw new RangeError(`Asset_ID number must be an integer in 0..9999999999999999, got ${String(n)}`);
  return prefix4.toUpperCase() + v.toString().padStart(16, '0');
}

const segmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });

/** Length of `s` in the operator's unit: code points, UTF-8 bytes, or GBK bytes (ASCII 1, CJK 2). */
export function textLength(s: string, unit: AdiTextUnit = 'char'): number {
  if (unit === 'utf8') return Buffer.byteLength(s, 'utf8');
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    n += unit === 'char' ? 1 : cp < 0x80 ? 1 : cp <= 0xffff ? 2 : 4;
  }
  return n;
}

/** Removes what XML 1.0 cannot carry (control characters, lone surrogates), folds whitespace, NFC. */
export function cleanText(s: string): string {
  return s
    .normalize('NFC')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * Cuts cleaned text to at most `max` units at a grapheme boundary, adding `ellipsis` (counted in the
 * limit) when something was cut.
 */
export function cutText(s: string, max: number, unit: AdiTextUnit = 'char', ellipsis = ''): string {
  const text = cleanText(s);
  if (textLength(text, unit) <= max) return text;
  const budget = max - textLength(ellipsis, unit);
  let out = '';
  let used = 0;
  for (const { segment } of segmenter.segment(text)) {
    const len = textLength(segment, unit);
    if (used + len > budget) break;
    out += segment;
    used += len;
  }
  return out.trimEnd() + ellipsis;
}

/**
 * A Category value from its levels (root first): each level cleaned, its slashes made full-width so it
 * stays one level, cut to 20 units. Throws when the path would exceed 256 units.
 */
export function categoryPath(levels: string[], unit: AdiTextUnit = 'char'): string {
  const parts = levels.map((l) => cutText(l.replace(/\//g, '／'), adiLimits.categoryLevel, unit)).filter((l) => l.length > 0);
  if (!parts.length) throw new RangeError('a Category needs at least one non-empty level');
  const path = parts.join('/');
  if (textLength(path, unit) > adiLimits.category) throw new RangeError(`Category "${path}" is longer than ${adiLimits.category}`);
  return path;
}

const two = (n: number) => String(n).padStart(2, '0');

/** Run_Time hh:mm:ss from seconds (nearest second). */
export function formatRunTime(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** Display_Run_Time hh:mm from seconds: nearest minute, at least 00:01 for any content. */
export function formatDisplayRunTime(seconds: number): string {
  const m = seconds > 0 ? Math.max(1, Math.round(seconds / 60)) : 0;
  return `${two(Math.floor(m / 60))}:${two(m % 60)}`;
}

function zonedParts(at: Date | string, timeZone: string): Record<string, string> {
  const d = typeof at === 'string' ? new Date(at) : at;
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a date: ${String(at)}`);
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  return Object.fromEntries(fmt.formatToParts(d).map((p) => [p.type, p.value]));
}

/** yyyy-mm-dd of an instant in the operator's time zone (Creation_Date). */
export function adiDate(at: Date | string, timeZone: string): string {
  const p = zonedParts(at, timeZone);
  return `${p.year}-${p.month}-${p.day}`;
}

/** yyyy-mm-ddThh:mm:ss of an instant in the operator's time zone (licensing window). */
export function adiDateTime(at: Date | string, timeZone: string): string {
  const p = zonedParts(at, timeZone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

/** Escapes an attribute value; tabs and newlines as references so parsers keep them. */
export function xmlAttr(s: string): string {
  return s.replace(/[&<>"'\t\n\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' })[c] ?? c);
}

export interface AdiProvider {
  /** Provider (<= 20). */
  name: string;
  /** Provider_ID: a lower-case domain (<= 20). */
  id: string;
  /** Product (<= 20). */
  product: string;
}

export interface AdiIds {
  package: string;
  title: string;
  movie: string;
  poster: string;
}

export interface AdiTitleFields {
  title: string;
  /** Short title; the title cut to 19 when absent. */
  brief?: string;
  summary: string;
  /** Category paths, each root first (root/学段/学科). */
  categories: string[][];
  rating: string;
  genre: string;
  billingId: string;
  previewPeriodS: number;
  qaContact: string;
  /** Licensing window, yyyy-mm-dd or yyyy-mm-ddThh:mm:ss (see adiDateTime). */
  licenseStart: string;
  licenseEnd: string;
  /** Real duration of the movie file, seconds. */
  runTimeS: number;
}

export interface AdiFileFacts {
  name: string;
  size: number;
  md5: string;
}

export interface AdiMovieFields extends AdiFileFacts {
  /** Bit_Rate, kb/s: the measured transport rate. */
  bitRateKbps: number;
  audioType: string;
  screenFormat: 'Standard' | 'Widescreen' | 'Letterbox';
  hd: boolean;
  resolution?: string;
  frameRate?: string;
  codec?: string;
}

export interface AdiPosterFields extends AdiFileFacts {
  width: number;
  height: number;
}

interface AdiCommon {
  provider: AdiProvider;
  /** yyyy-mm-dd (adiDate). */
  creationDate: string;
  version: { major: number; minor: number };
  ids: AdiIds;
  textUnit?: AdiTextUnit;
}

/** A delivery (full metadata and files) or a withdrawal (Verb="DELETE" on every asset, no files). */
export type AdiPackageInput =
  | (AdiCommon & { verb: 'deliver'; title: AdiTitleFields; movie: AdiMovieFields; poster: AdiPosterFields })
  | (AdiCommon & { verb: 'delete'; title: Pick<AdiTitleFields, 'title'> });

const classNames: Record<AdiAssetClass, string> = { package: 'package', title: 'title', movie: 'movie', poster: 'poster', preview: 'preview' };

/** ADI.XML for a package: UTF-8, `<!DOCTYPE ADI SYSTEM "ADI.DTD">`, two-space indent, LF. */
export function buildAdiXml(input: AdiPackageInput): string {
  const unit = input.textUnit ?? 'char';
  const del = input.verb === 'delete';
  const titleText = cutText(input.title.title, adiLimits.title, unit, '…');
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', '<!DOCTYPE ADI SYSTEM "ADI.DTD">', '<ADI>'];
  const pad = (depth: number) => '  '.repeat(depth);
  const ams = (depth: number, cls: AdiAssetClass, assetId: string) => {
    const attrs: [string, string][] = [
      ['Provider', cutText(input.provider.name, adiLimits.provider, unit)],
      ['Product', cutText(input.provider.product, adiLimits.product, unit)],
      ['Asset_Name', `${assetId}_${classNames[cls]}`],
      ['Version_Major', String(input.version.major)],
      ['Version_Minor', String(input.version.minor)],
      ['Description', cutText(`${titleText} ${classNames[cls]}`, adiLimits.description, unit, '…')],
      ['Creation_Date', input.creationDate],
      ['Provider_ID', input.provider.id],
      ['Asset_ID', assetId],
      ['Asset_Class', cls],
    ];
    if (del) attrs.push(['Verb', 'DELETE']);
    lines.push(`${pad(depth)}<AMS ${attrs.map(([k, v]) => `${k}="${xmlAttr(v)}"`).join(' ')}/>`);
  };
  const app = (depth: number, name: string, value: string | number) => lines.push(`${pad(depth)}<App_Data App="MOD" Name="${name}" Value="${xmlAttr(String(value))}"/>`);

  lines.push(`${pad(1)}<Metadata>`);
  ams(2, 'package', input.ids.package);
  app(2, 'Metadata_Spec_Version', adiSpecVersion);
  lines.push(`${pad(1)}</Metadata>`);

  lines.push(`${pad(1)}<Asset>`);
  lines.push(`${pad(2)}<Metadata>`);
  ams(3, 'title', input.ids.title);
  app(3, 'Type', 'title');
  if (input.verb === 'deliver') {
    const t = input.title;
    app(3, 'Title_Brief', cutText(t.brief?.trim() ? t.brief : t.title, adiLimits.titleBrief, unit));
    app(3, 'Title', titleText);
    app(3, 'Summary_Short', cutText(t.summary.trim() ? t.summary : t.title, adiLimits.summaryShort, unit, '…'));
    app(3, 'Rating', cleanText(t.rating));
    app(3, 'Run_Time', formatRunTime(t.runTimeS));
    app(3, 'Display_Run_Time', formatDisplayRunTime(t.runTimeS));
    for (const c of t.categories) app(3, 'Category', categoryPath(c, unit));
    app(3, 'Genre', cleanText(t.genre));
    app(3, 'Billing_ID', cutText(t.billingId, adiLimits.billingId, unit));
    app(3, 'Licensing_Window_Start', t.licenseStart);
    app(3, 'Licensing_Window_End', t.licenseEnd);
    app(3, 'Preview_Period', Math.round(t.previewPeriodS));
    app(3, 'Provider_QA_Contact', cleanText(t.qaContact));
  }
  lines.push(`${pad(2)}</Metadata>`);

  const child = (cls: 'movie' | 'poster', assetId: string, fields: () => void, file?: string) => {
    lines.push(`${pad(2)}<Asset>`);
    lines.push(`${pad(3)}<Metadata>`);
    ams(4, cls, assetId);
    app(4, 'Type', cls);
    fields();
    lines.push(`${pad(3)}</Metadata>`);
    if (file !== undefined) lines.push(`${pad(3)}<Content Value="${xmlAttr(file)}"/>`);
    lines.push(`${pad(2)}</Asset>`);
  };
  if (input.verb === 'deliver') {
    const m = input.movie;
    child('movie', input.ids.movie, () => {
      app(4, 'Audio_Type', m.audioType);
      app(4, 'Screen_Format', m.screenFormat);
      app(4, 'HDContent', m.hd ? 'Y' : 'N');
      if (m.resolution) app(4, 'Resolution', m.resolution);
      if (m.frameRate) app(4, 'Frame_Rate', m.frameRate);
      if (m.codec) app(4, 'Codec', m.codec);
      app(4, 'Bit_Rate', Math.round(m.bitRateKbps));
      app(4, 'Content_FileSize', m.size);
      app(4, 'Content_CheckSum', m.md5.toLowerCase());
    }, m.name);
    const p = input.poster;
    child('poster', input.ids.poster, () => {
      app(4, 'Image_Aspect_Ratio', `${p.width}x${p.height}`);
      app(4, 'Content_FileSize', p.size);
      app(4, 'Content_CheckSum', p.md5.toLowerCase());
    }, p.name);
  } else {
    child('movie', input.ids.movie, () => undefined);
    child('poster', input.ids.poster, () => undefined);
  }
  lines.push(`${pad(1)}</Asset>`);
  lines.push('</ADI>');
  return lines.join('\n') + '\n';
}
