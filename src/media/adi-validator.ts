import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { adiLimits, adiSpecVersion, adiFileNames, assetIdPattern, providerIdPattern, textLength, type AdiTextUnit } from './adi-xml.ts';

/**
 * Our validator of ADI 1.1 packages (REFERENCE.md, "Cable VOD: the ADI 1.1 package"): the XML on its
 * own (structure, AMS on every level, App_Data per class, every length and format), and the XML against
 * the files beside it (present, sizes, MD5s). Pure: the caller reads the files. Each violation names its
 * rule, so tests and logs can tell which one failed.
 */

export interface AdiViolation {
  rule: string;
  /** Where in the package: `package`, `title`, `movie`, `poster`, `document`, `files`. */
  where: string;
  message: string;
}

export interface AdiAsset {
  assetClass: string;
  ams: Record<string, string>;
  appData: { app: string; name: string; value: string }[];
  content: string[];
}

export interface ParsedAdi {
  isDelete: boolean;
  pkg: AdiAsset;
  title: AdiAsset | null;
  children: AdiAsset[];
}

export interface AdiValidation {
  violations: AdiViolation[];
  adi: ParsedAdi | null;
}

export interface FileFacts {
  size: number;
  md5: string;
}

const amsRequired = ['Provider', 'Product', 'Asset_Name', 'Version_Major', 'Version_Minor', 'Description', 'Creation_Date', 'Provider_ID', 'Asset_ID', 'Asset_Class'] as const;
const childClasses = new Set(['movie', 'poster', 'preview']);
const repeatable = new Set(['Category', 'Genre']);
const titleRequired = ['Title_Brief', 'Title', 'Summary_Short', 'Rating', 'Run_Time', 'Display_Run_Time', 'Category', 'Genre', 'Billing_ID', 'Licensing_Window_Start', 'Licensing_Window_End', 'Preview_Period', 'Provider_QA_Contact'];
const movieRequired = ['Audio_Type', 'Screen_Format', 'HDContent', 'Bit_Rate', 'Content_FileSize', 'Content_CheckSum'];
const posterRequired = ['Image_Aspect_Ratio', 'Content_FileSize', 'Content_CheckSum'];
const previewRequired = ['Run_Time', 'Content_FileSize', 'Content_CheckSum'];
const audioTypes = new Set(['Dolby ProLogic', 'Dolby Digital', 'Stereo', 'Mono', 'Dolby 5.1']);
const screenFormats = new Set(['Standard', 'Widescreen', 'Letterbox']);

type XmlNode = Record<string, unknown> & { '@'?: Record<string, string> };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '@',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // numeric character references (&#10;, &#x4E2D;) are XML; fast-xml-parser decodes them only with this
  htmlEntities: true,
  isArray: (name: string) => name !== '@',
});

function kids(node: XmlNode, name: string): XmlNode[] {
  const v = node[name];
  return Array.isArray(v) ? (v as XmlNode[]) : [];
}

function isRealDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** Parses `yyyy-mm-dd` or `yyyy-mm-ddThh:mm:ss` to a comparable number, or null when malformed. */
export function parseAdiDate(s: string, allowTime: boolean): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}))?$/.exec(s);
  if (!m || (m[4] !== undefined && !allowTime)) return null;
  const [y, mo, d, h = 0, mi = 0, se = 0] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (!isRealDate(y, mo, d) || h > 23 || mi > 59 || se > 59) return null;
  return Date.UTC(y, mo - 1, d, h, mi, se);
}

function runTimeSeconds(s: string): number | null {
  const m = /^(\d{2}):([0-5]\d):([0-5]\d)$/.exec(s);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

function displayRunTimeMinutes(s: string): number | null {
  const m = /^(\d{2}):([0-5]\d)$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** The first value of an App_Data name, or undefined. */
export function appValue(a: AdiAsset, name: string): string | undefined {
  return a.appData.find((d) => d.name === name)?.value;
}

/** Reports one violation of a rule at a place in the package. */
type Report = (rule: string, where: string, message: string) => void;

/** One asset level's Metadata (one AMS, App_Data of App MOD) and Content file names. */
function readAsset(node: XmlNode, where: string, v: Report): AdiAsset | null {
  const metas = kids(node, 'Metadata');
  if (metas.length !== 1) {
    v('structure.metadata', where, `needs exactly one Metadata, found ${metas.length}`);
    if (!metas.length) return null;
  }
  const amsNodes = kids(metas[0], 'AMS');
  if (amsNodes.length !== 1) v('structure.ams', where, `Metadata needs exactly one AMS, found ${amsNodes.length}`);
  const ams = { ...(amsNodes[0]?.['@'] ?? {}) };
  const appData = kids(metas[0], 'App_Data').map((n, i) => {
    const a = n['@'] ?? {};
    if (a.App === undefined || a.Name === undefined || a.Value === undefined) v('app_data.attrs', where, `App_Data #${i + 1} needs App, Name and Value`);
    else if (a.App !== 'MOD') v('app_data.app', where, `App_Data ${a.Name} has App="${a.App}", want MOD`);
    return { app: a.App ?? '', name: a.Name ?? '', value: a.Value ?? '' };
  });
  const content = kids(node, 'Content').map((n) => n['@']?.Value ?? '');
  return { assetClass: ams.Asset_Class ?? '', ams, appData, content };
}

/** The XML as a package: well-formed, declared, one ADI root, package > title > movie/poster/preview levels. */
function readPackage(xml: string, v: Report): ParsedAdi | null {
  const wellFormed = XMLValidator.validate(xml);
  if (wellFormed !== true) {
    v('xml.wellformed', 'document', `not well-formed XML: ${wellFormed.err.msg} (line ${wellFormed.err.line})`);
    return null;
  }
  if (!/^(?:\ufeff)?<\?xml\s+version="1\.0"\s+encoding="UTF-8"\s*\?>/i.test(xml)) v('xml.declaration', 'document', 'must start with <?xml version="1.0" encoding="UTF-8"?>');
  if (!/<!DOCTYPE\s+ADI\s+SYSTEM\s+"ADI\.DTD"\s*>/.test(xml)) v('xml.doctype', 'document', 'missing <!DOCTYPE ADI SYSTEM "ADI.DTD">');

  const doc = parser.parse(xml) as XmlNode;
  const roots = Object.keys(doc).filter((k) => !k.startsWith('?') && k !== '@' && k !== '#text');
  const adiNodes = kids(doc, 'ADI');
  if (roots.length !== 1 || adiNodes.length !== 1) {
    v('structure.root', 'document', `the document must have one root element ADI, found ${roots.join(', ') || 'none'}`);
    return null;
  }
  const adi = adiNodes[0];
  const pkg = readAsset(adi, 'package', v);
  if (!pkg) return null;
  if (pkg.content.length) v('structure.content', 'package', 'the package level carries no Content');
  const titles = kids(adi, 'Asset');
  if (titles.length !== 1) v('structure.title', 'package', `a package holds exactly one title Asset, found ${titles.length}`);
  const title = titles[0] ? readAsset(titles[0], 'title', v) : null;
  const children: AdiAsset[] = [];
  if (titles[0]) {
    if (title?.content.length) v('structure.content', 'title', 'the title level carries no Content');
    kids(titles[0], 'Asset').forEach((n, i) => {
      const cls = kids(kids(n, 'Metadata')[0] ?? {}, 'AMS')[0]?.['@']?.Asset_Class ?? `asset${i + 1}`;
      const c = readAsset(n, cls, v);
      if (kids(n, 'Asset').length) v('structure.depth', cls, 'movie/poster/preview assets hold no further Asset');
      if (c) children.push(c);
    });
  }
  return { isDelete: pkg.ams.Verb === 'DELETE', pkg, title, children };
}

/** Every level with where it is, the package first. */
function levelsOf(adi: ParsedAdi): [string, AdiAsset][] {
  return [['package', adi.pkg], ...(adi.title ? [['title', adi.title] as [string, AdiAsset]] : []), ...adi.children.map((c) => [c.assetClass || 'asset', c] as [string, AdiAsset])];
}

/** AMS on every level: present, within limits, well-formed, unique ids and names, the same provider and verb everywhere; App_Data once per name. */
function amsRules(parsed: ParsedAdi, unit: AdiTextUnit, v: Report): void {
  const { pkg } = parsed;
  const all = levelsOf(parsed);
  const ids = new Map<string, string>();
  const names = new Map<string, string>();
  for (const [where, a] of all) {
    for (const k of amsRequired) if (!a.ams[k]?.trim()) v('ams.required', where, `AMS ${k} is missing or empty`);
    const s = a.ams;
    if (s.Provider && textLength(s.Provider, unit) > adiLimits.provider) v('ams.provider', where, `Provider longer than ${adiLimits.provider}`);
    if (s.Product && textLength(s.Product, unit) > adiLimits.product) v('ams.product', where, `Product longer than ${adiLimits.product}`);
    if (s.Asset_Name && textLength(s.Asset_Name, unit) > adiLimits.assetName) v('ams.asset_name', where, `Asset_Name longer than ${adiLimits.assetName}`);
    for (const k of ['Version_Major', 'Version_Minor']) if (s[k] !== undefined && !/^\d{1,9}$/.test(s[k])) v('ams.version', where, `${k} "${s[k]}" is not a non-negative integer`);
    if (s.Creation_Date && parseAdiDate(s.Creation_Date, false) === null) v('ams.creation_date', where, `Creation_Date "${s.Creation_Date}" is not a real yyyy-mm-dd date`);
    if (s.Provider_ID && !providerIdPattern.test(s.Provider_ID)) v('ams.provider_id', where, `Provider_ID "${s.Provider_ID}" is not a lower-case domain of at most ${adiLimits.providerId} characters`);
    if (s.Asset_ID) {
      if (!assetIdPattern.test(s.Asset_ID)) v('ams.asset_id', where, `Asset_ID "${s.Asset_ID}" is not 4 letters + 16 digits`);
      const seen = ids.get(s.Asset_ID);
      if (seen) v('ams.asset_id_unique', where, `Asset_ID ${s.Asset_ID} is also used by ${seen}`);
      else ids.set(s.Asset_ID, where);
    }
    if (s.Asset_Name) {
      const seen = names.get(s.Asset_Name);
      if (seen) v('ams.asset_name_unique', where, `Asset_Name ${s.Asset_Name} is also used by ${seen}`);
      else names.set(s.Asset_Name, where);
    }
    if (s.Verb !== undefined && s.Verb !== '' && s.Verb !== 'DELETE') v('ams.verb', where, `Verb "${s.Verb}" is not DELETE`);
    for (const k of ['Provider', 'Provider_ID', 'Product'] as const) {
      if (s[k] !== undefined && pkg.ams[k] !== undefined && s[k] !== pkg.ams[k]) v('ams.consistent', where, `${k} "${s[k]}" differs from the package's "${pkg.ams[k]}"`);
    }
    if ((s.Verb === 'DELETE') !== parsed.isDelete) v('ams.consistent', where, 'Verb="DELETE" must be on every level of a withdrawal or on none');
    const single = new Set<string>();
    for (const d of a.appData) {
      if (repeatable.has(d.name)) continue;
      if (single.has(d.name)) v('app_data.duplicate', where, `App_Data ${d.name} appears more than once`);
      single.add(d.name);
    }
  }
}

/** Asset classes by level, a movie under the title, the spec version and each level's Type. */
function classRules(parsed: ParsedAdi, v: Report): void {
  const { pkg, title, children } = parsed;
  if (pkg.assetClass !== 'package') v('ams.asset_class', 'package', `the top level must be Asset_Class package, got "${pkg.assetClass}"`);
  if (title && title.assetClass !== 'title') v('ams.asset_class', 'title', `the level under the package must be Asset_Class title, got "${title.assetClass}"`);
  for (const c of children) if (!childClasses.has(c.assetClass)) v('ams.asset_class', c.assetClass || 'asset', `"${c.assetClass}" is not movie, poster or preview`);
  if (title && !children.some((c) => c.assetClass === 'movie')) v('structure.movie', 'title', 'the title holds no movie asset');

  if (appValue(pkg, 'Metadata_Spec_Version') !== adiSpecVersion) v('package.spec_version', 'package', `App_Data Metadata_Spec_Version must be ${adiSpecVersion}`);
  for (const [where, a] of levelsOf(parsed).slice(1)) {
    const type = appValue(a, 'Type');
    if (type === undefined) v('app_data.required', where, 'App_Data Type is missing');
    else if (type !== a.assetClass) v('app_data.type', where, `App_Data Type "${type}" does not match Asset_Class "${a.assetClass}"`);
  }
}

function requireAll(a: AdiAsset, where: string, list: string[], v: Report): void {
  for (const k of list) if (!appValue(a, k)?.trim()) v('app_data.required', where, `App_Data ${k} is missing or empty`);
}

function maxLen(a: AdiAsset, where: string, name: string, max: number, rule: string, unit: AdiTextUnit, v: Report): void {
  const val = appValue(a, name);
  if (val !== undefined && textLength(val, unit) > max) v(rule, where, `${name} is ${textLength(val, unit)} long, limit ${max}`);
}

function fileFields(a: AdiAsset, where: string, v: Report): void {
  const size = appValue(a, 'Content_FileSize');
  if (size !== undefined && !/^[1-9]\d*$/.test(size)) v('content.file_size', where, `Content_FileSize "${size}" is not a positive byte count`);
  const sum = appValue(a, 'Content_CheckSum');
  if (sum !== undefined && !/^[0-9a-fA-F]{32}$/.test(sum)) v('content.checksum', where, `Content_CheckSum "${sum}" is not an MD5 in hex`);
}

/** The title's App_Data of a delivery: required fields, lengths, run times, categories, licensing window, preview period. */
function titleRules(title: AdiAsset, unit: AdiTextUnit, v: Report): void {
  requireAll(title, 'title', titleRequired, v);
  maxLen(title, 'title', 'Title_Brief', adiLimits.titleBrief, 'title.title_brief', unit, v);
  maxLen(title, 'title', 'Title', adiLimits.title, 'title.title', unit, v);
  maxLen(title, 'title', 'Summary_Short', adiLimits.summaryShort, 'title.summary_short', unit, v);
  maxLen(title, 'title', 'Billing_ID', adiLimits.billingId, 'title.billing_id', unit, v);
  const rt = appValue(title, 'Run_Time');
  const rts = rt === undefined ? null : runTimeSeconds(rt);
  if (rt !== undefined && rts === null) v('title.run_time', 'title', `Run_Time "${rt}" is not hh:mm:ss`);
  const drt = appValue(title, 'Display_Run_Time');
  const drm = drt === undefined ? null : displayRunTimeMinutes(drt);
  if (drt !== undefined && drm === null) v('title.display_run_time', 'title', `Display_Run_Time "${drt}" is not hh:mm`);
  else if (rts !== null && drm !== null && Math.abs(drm * 60 - rts) > 60) v('title.display_run_time', 'title', `Display_Run_Time ${drt} does not match Run_Time ${rt}`);
  for (const c of title.appData.filter((d) => d.name === 'Category')) {
    const levels = c.value.split('/');
    if (textLength(c.value, unit) > adiLimits.category) v('title.category', 'title', `Category "${c.value}" is longer than ${adiLimits.category}`);
    if (levels.some((l) => !l.trim())) v('title.category', 'title', `Category "${c.value}" has an empty level`);
    for (const l of levels) if (textLength(l, unit) > adiLimits.categoryLevel) v('title.category', 'title', `Category level "${l}" is longer than ${adiLimits.categoryLevel}`);
  }
  const ls = appValue(title, 'Licensing_Window_Start');
  const le = appValue(title, 'Licensing_Window_End');
  const lsv = ls ? parseAdiDate(ls, true) : null;
  const lev = le ? parseAdiDate(le, true) : null;
  if (ls && lsv === null) v('title.license', 'title', `Licensing_Window_Start "${ls}" is not yyyy-mm-dd[Thh:mm:ss]`);
  if (le && lev === null) v('title.license', 'title', `Licensing_Window_End "${le}" is not yyyy-mm-dd[Thh:mm:ss]`);
  if (lsv !== null && lev !== null && lev <= lsv) v('title.license', 'title', 'Licensing_Window_End is not after Licensing_Window_Start');
  const pp = appValue(title, 'Preview_Period');
  if (pp !== undefined && !/^\d+$/.test(pp)) v('title.preview_period', 'title', `Preview_Period "${pp}" is not a number of seconds`);
}

/** Movie, poster and preview assets: their App_Data, one Content each (at most one in a withdrawal), plain unique file names. */
function childRules(children: AdiAsset[], isDelete: boolean, v: Report): void {
  const contentNames = new Map<string, string>();
  for (const c of children) {
    const where = c.assetClass || 'asset';
    if (!isDelete) {
      if (c.assetClass === 'movie') {
        requireAll(c, where, movieRequired, v);
        const at = appValue(c, 'Audio_Type');
        if (at && !audioTypes.has(at)) v('movie.audio_type', where, `Audio_Type "${at}" is not one of ${[...audioTypes].join(', ')}`);
        const sf = appValue(c, 'Screen_Format');
        if (sf && !screenFormats.has(sf)) v('movie.screen_format', where, `Screen_Format "${sf}" is not one of ${[...screenFormats].join(', ')}`);
        const hd = appValue(c, 'HDContent');
        if (hd !== undefined && hd !== 'Y' && hd !== 'N') v('movie.hd_content', where, `HDContent "${hd}" is not Y or N`);
        const br = appValue(c, 'Bit_Rate');
        if (br !== undefined && !/^[1-9]\d*$/.test(br)) v('movie.bit_rate', where, `Bit_Rate "${br}" is not a positive number of kb/s`);
        for (const k of ['Resolution', 'Frame_Rate', 'Codec']) if (appValue(c, k) !== undefined && !appValue(c, k)?.trim()) v('app_data.required', where, `App_Data ${k} is empty`);
      } else if (c.assetClass === 'poster') {
        requireAll(c, where, posterRequired, v);
        const ar = appValue(c, 'Image_Aspect_Ratio');
        if (ar !== undefined && !/^[1-9]\d*x[1-9]\d*$/.test(ar)) v('poster.image_aspect_ratio', where, `Image_Aspect_Ratio "${ar}" is not WxH`);
      } else if (c.assetClass === 'preview') {
        requireAll(c, where, previewRequired, v);
      }
      fileFields(c, where, v);
      if (c.content.length !== 1) v('content.missing', where, `a ${where} asset needs exactly one Content, found ${c.content.length}`);
    } else if (c.content.length > 1) {
      v('content.missing', where, `at most one Content, found ${c.content.length}`);
    }
    for (const name of c.content) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name) || name === adiFileNames.xml) v('content.name', where, `Content Value "${name}" is not a plain file name beside ADI.XML`);
      const seen = contentNames.get(name);
      if (seen) v('content.duplicate', where, `file ${name} is also the Content of ${seen}`);
      else contentNames.set(name, where);
    }
  }
}

/** Validates ADI.XML text alone. `textUnit`: how the operator counts text limits (default characters). */
export function validateAdiXml(xml: string, opts: { textUnit?: AdiTextUnit } = {}): AdiValidation {
  const unit = opts.textUnit ?? 'char';
  const out: AdiViolation[] = [];
  const v: Report = (rule, where, message) => out.push({ rule, where, message });
  const parsed = readPackage(xml, v);
  if (!parsed) return { violations: out, adi: null };
  amsRules(parsed, unit, v);
  classRules(parsed, v);
  if (!parsed.isDelete && parsed.title) titleRules(parsed.title, unit, v);
  childRules(parsed.children, parsed.isDelete, v);
  return { violations: out, adi: parsed };
}

/**
 * Checks the package's Content files against the files in its folder: every one present, with the
 * Content_FileSize and Content_CheckSum the XML states, and no file the XML does not name.
 */
export function validateAdiFiles(adi: ParsedAdi, files: ReadonlyMap<string, FileFacts>): AdiViolation[] {
  const out: AdiViolation[] = [];
  const named = new Set<string>([adiFileNames.xml]);
  for (const c of adi.children) {
    for (const name of c.content) {
      named.add(name);
      const f = files.get(name);
      if (!f) {
        out.push({ rule: 'file.missing', where: c.assetClass, message: `file ${name} is not in the package folder` });
        continue;
      }
      const size = appValue(c, 'Content_FileSize');
      if (size !== undefined && Number(size) !== f.size) out.push({ rule: 'file.size', where: c.assetClass, message: `${name} is ${f.size} bytes, Content_FileSize says ${size}` });
      const sum = appValue(c, 'Content_CheckSum');
      if (sum !== undefined && sum.toLowerCase() !== f.md5.toLowerCase()) out.push({ rule: 'file.md5', where: c.assetClass, message: `${name} has MD5 ${f.md5}, Content_CheckSum says ${sum}` });
    }
  }
  for (const name of files.keys()) if (!named.has(name)) out.push({ rule: 'file.unreferenced', where: 'files', message: `${name} is in the package folder but no Content names it` });
  return out;
}

/** Validates ADI.XML and, when `files` is given, the files beside it. */
export function validateAdiPackage(xml: string, files?: ReadonlyMap<string, FileFacts>, opts: { textUnit?: AdiTextUnit } = {}): AdiValidation {
  const r = validateAdiXml(xml, opts);
  if (r.adi && files) r.violations.push(...validateAdiFiles(r.adi, files));
  return r;
}

