import { describe, expect, it } from 'vitest';
import { buildAdiXml, type AdiPackageInput } from '../../src/media/adi-xml.ts';
import { validateAdiFiles, validateAdiPackage, validateAdiXml, type FileFacts } from '../../src/media/adi-validator.ts';

const ids = { package: 'CLCS0000000000000101', title: 'CLCS0000000000000102', movie: 'CLCS0000000000000103', poster: 'CLCS0000000000000104' };
const good: AdiPackageInput = {
  provider: { name: 'classcast', id: 'classcast.example', product: 'MOD' },
  creationDate: '2025-03-01',
  version: { major: 2, minor: 0 },
  ids,
  verb: 'deliver',
  title: {
    title: '一元二次方程的配方法',
    summary: '本节课讲解配方法。',
    categories: [['吉林市中小学公益课', '初中', '数学']],
    rating: 'G',
    genre: '教育',
    billingId: '00000',
    previewPeriodS: 0,
    qaContact: 'cable-qa@classcast.example',
    licenseStart: '2025-03-01T08:00:00',
    licenseEnd: '2026-03-01T08:00:00',
    runTimeS: 2712,
  },
  movie: { name: 'movie.ts', size: 1000, md5: '0123456789abcdef0123456789abcdef', bitRateKbps: 12000, audioType: 'Stereo', screenFormat: 'Widescreen', hd: true },
  poster: { name: 'poster.jpg', size: 10, md5: 'fedcba9876543210fedcba9876543210', width: 640, height: 360 },
};
const xml = buildAdiXml(good);
const files = new Map<string, FileFacts>([
  ['movie.ts', { size: 1000, md5: '0123456789abcdef0123456789abcdef' }],
  ['poster.jpg', { size: 10, md5: 'fedcba9876543210fedcba9876543210' }],
]);

/** Replaces exactly one occurrence (or every one with `all`), failing loudly when the text is not there. */
function edit(src: string, from: string | RegExp, to: string, all = false): string {
  const out = all ? src.split(from as string).join(to) : src.replace(from, to);
  if (out === src) throw new Error(`fixture edit did not apply: ${String(from)}`);
  return out;
}
const setApp = (name: string, value: string) => edit(xml, new RegExp(`(Name="${name}" Value=")[^"]*"`), `$1${value}"`);
const rules = (x: string, unit?: 'char' | 'gbk') => validateAdiXml(x, unit ? { textUnit: unit } : {}).violations.map((v) => v.rule);

describe('ADI validator: a good package', () => {
  it('when the package is what the writer makes, then there are no violations, files included', () => {
    expect(validateAdiPackage(xml, files).violations).toEqual([]);
  });
});

describe('ADI validator: each rule fails on a crafted bad package', () => {
  const cases: [string, () => string, string][] = [
    ['the DOCTYPE is missing', () => edit(xml, '<!DOCTYPE ADI SYSTEM "ADI.DTD">\n', ''), 'xml.doctype'],
    ['the XML declaration is missing', () => edit(xml, '<?xml version="1.0" encoding="UTF-8"?>\n', ''), 'xml.declaration'],
    ['the XML is not well formed', () => edit(xml, '</ADI>', '</AD>'), 'xml.wellformed'],
    ['the root is not ADI', () => edit(edit(xml, '<ADI>', '<ADX>'), '</ADI>', '</ADX>'), 'structure.root'],
    ['an AMS lacks Description', () => edit(xml, / Description="[^"]*" (?=Creation_Date="2025-03-01" Provider_ID="classcast.example" Asset_ID="CLCS0000000000000102")/, ' '), 'ams.required'],
    ['Provider is longer than 20', () => edit(xml, 'Provider="classcast"', 'Provider="classcast-education-bureau"', true), 'ams.provider'],
    ['Product is longer than 20', () => edit(xml, 'Product="MOD"', 'Product="MOD-FREE-EDUCATION-TIER"', true), 'ams.product'],
    ['Asset_Name is longer than 50', () => edit(xml, 'Asset_Name="CLCS0000000000000103_movie"', `Asset_Name="${'m'.repeat(51)}"`), 'ams.asset_name'],
    ['two assets share an Asset_Name', () => edit(xml, 'Asset_Name="CLCS0000000000000104_poster"', 'Asset_Name="CLCS0000000000000103_movie"'), 'ams.asset_name_unique'],
    ['Version_Major is not an integer', () => edit(xml, 'Version_Major="2"', 'Version_Major="2.0"'), 'ams.version'],
    ['Creation_Date is not a real date', () => edit(xml, 'Creation_Date="2025-03-01"', 'Creation_Date="2025-02-30"'), 'ams.creation_date'],
    ['Creation_Date carries a time', () => edit(xml, 'Creation_Date="2025-03-01"', 'Creation_Date="2025-03-01T00:00:00"'), 'ams.creation_date'],
    ['Provider_ID has capitals', () => edit(xml, 'Provider_ID="classcast.example"', 'Provider_ID="Classcast.example"', true), 'ams.provider_id'],
    ['Provider_ID is longer than 20', () => edit(xml, 'Provider_ID="classcast.example"', 'Provider_ID="classcast-city.example"', true), 'ams.provider_id'],
    ['Provider_ID is not a domain', () => edit(xml, 'Provider_ID="classcast.example"', 'Provider_ID="classcast"', true), 'ams.provider_id'],
    ['an Asset_ID has 15 digits', () => edit(xml, 'Asset_ID="CLCS0000000000000103"', 'Asset_ID="CLCS000000000000103"'), 'ams.asset_id'],
    ['an Asset_ID has a digit among its letters', () => edit(xml, 'Asset_ID="CLCS0000000000000103"', 'Asset_ID="CLC10000000000000103"'), 'ams.asset_id'],
    ['two assets share an Asset_ID', () => edit(xml, 'Asset_ID="CLCS0000000000000104"', 'Asset_ID="CLCS0000000000000103"'), 'ams.asset_id_unique'],
    ['an Asset_Class is unknown', () => edit(xml, 'Asset_Class="poster"', 'Asset_Class="box-cover"'), 'ams.asset_class'],
    ['the title level says package', () => edit(xml, 'Asset_Class="title"', 'Asset_Class="package"'), 'ams.asset_class'],
    ['a Verb is not DELETE', () => edit(xml, 'Asset_Class="package"', 'Asset_Class="package" Verb="UPDATE"'), 'ams.verb'],
    ['only one level says DELETE', () => edit(xml, 'Asset_Class="movie"', 'Asset_Class="movie" Verb="DELETE"'), 'ams.consistent'],
    ['the poster names another Provider_ID', () => edit(xml, /Provider_ID="classcast.example"(?= Asset_ID="CLCS0000000000000104")/, 'Provider_ID="other.example"'), 'ams.consistent'],
    ['an App_Data is not App="MOD"', () => edit(xml, 'App="MOD" Name="Genre"', 'App="VOD" Name="Genre"'), 'app_data.app'],
    ['an App_Data has no Value', () => edit(xml, /Name="Genre" Value="[^"]*"/, 'Name="Genre"'), 'app_data.attrs'],
    ['Title appears twice', () => edit(xml, /(<App_Data App="MOD" Name="Title" [^>]*\/>)/, '$1$1'), 'app_data.duplicate'],
    ['Metadata_Spec_Version is not CableLabsVOD1.1', () => setApp('Metadata_Spec_Version', 'CableLabsVOD1.0'), 'package.spec_version'],
    ['a Type does not match its class', () => edit(xml, 'Name="Type" Value="poster"', 'Name="Type" Value="movie"'), 'app_data.type'],
    ['Title_Brief is 20 characters', () => setApp('Title_Brief', '一'.repeat(20)), 'title.title_brief'],
    ['Title is 129 characters', () => setApp('Title', '题'.repeat(129)), 'title.title'],
    ['Summary_Short is 257 characters', () => setApp('Summary_Short', '课'.repeat(257)), 'title.summary_short'],
    ['Rating is missing', () => edit(xml, /\s*<App_Data App="MOD" Name="Rating" [^>]*\/>/, ''), 'app_data.required'],
    ['Provider_QA_Contact is empty', () => setApp('Provider_QA_Contact', ''), 'app_data.required'],
    ['Run_Time is mm:ss', () => setApp('Run_Time', '45:12'), 'title.run_time'],
    ['Run_Time has 61 minutes', () => setApp('Run_Time', '00:61:00'), 'title.run_time'],
    ['Display_Run_Time is h:mm', () => setApp('Display_Run_Time', '0:45'), 'title.display_run_time'],
    ['Display_Run_Time disagrees with Run_Time', () => setApp('Display_Run_Time', '01:45'), 'title.display_run_time'],
    ['a Category level is 21 characters', () => setApp('Category', `吉林市中小学公益课/${'初'.repeat(21)}/数学`), 'title.category'],
    ['a Category has an empty level', () => setApp('Category', '吉林市中小学公益课//数学'), 'title.category'],
    ['a Category is longer than 256', () => setApp('Category', Array.from({ length: 13 }, () => '一'.repeat(20)).join('/')), 'title.category'],
    ['Billing_ID is 6 characters', () => setApp('Billing_ID', '123456'), 'title.billing_id'],
    ['the licence start is not a date', () => setApp('Licensing_Window_Start', '2025/03/01'), 'title.license'],
    ['the licence ends before it starts', () => setApp('Licensing_Window_End', '2024-03-01'), 'title.license'],
    ['Preview_Period is not seconds', () => setApp('Preview_Period', '5 min'), 'title.preview_period'],
    ['Audio_Type is unknown', () => setApp('Audio_Type', 'Surround'), 'movie.audio_type'],
    ['Screen_Format is unknown', () => setApp('Screen_Format', '16:9'), 'movie.screen_format'],
    ['HDContent is not Y/N', () => setApp('HDContent', 'yes'), 'movie.hd_content'],
    ['Bit_Rate is not kb/s', () => setApp('Bit_Rate', '12 Mb/s'), 'movie.bit_rate'],
    ['Content_FileSize is not a byte count', () => setApp('Content_FileSize', '-1000'), 'content.file_size'],
    ['Content_CheckSum is not an MD5', () => setApp('Content_CheckSum', 'not-an-md5'), 'content.checksum'],
    ['Image_Aspect_Ratio is not WxH', () => setApp('Image_Aspect_Ratio', '16:9'), 'poster.image_aspect_ratio'],
    ['the movie has no Content', () => edit(xml, /\s*<Content Value="movie.ts"\/>/, ''), 'content.missing'],
    ['a Content points outside the folder', () => edit(xml, '<Content Value="movie.ts"/>', '<Content Value="../movie.ts"/>'), 'content.name'],
    ['two assets name the same file', () => edit(xml, '<Content Value="poster.jpg"/>', '<Content Value="movie.ts"/>'), 'content.duplicate'],
    ['the title has no movie', () => edit(edit(xml, 'Asset_Class="movie"', 'Asset_Class="preview"'), 'Name="Type" Value="movie"', 'Name="Type" Value="preview"'), 'structure.movie'],
    ['the package holds two titles', () => edit(xml, '</ADI>', '  <Asset><Metadata><AMS/></Metadata></Asset>\n</ADI>'), 'structure.title'],
    ['the title carries a Content', () => edit(xml, '\n    </Metadata>\n    <Asset>', '\n    </Metadata>\n    <Content Value="extra.ts"/>\n    <Asset>'), 'structure.content'],
    ['a child asset holds an Asset', () => edit(xml, '      <Content Value="movie.ts"/>', '      <Content Value="movie.ts"/>\n      <Asset><Metadata/></Asset>'), 'structure.depth'],
  ];
  for (const [what, make, rule] of cases) {
    it(`when ${what}, then ${rule} is reported`, () => {
      expect(rules(make())).toContain(rule);
    });
  }

  it('when the operator counts GBK bytes, then a 10-character Chinese Title_Brief passes by characters and fails by bytes', () => {
    const x = setApp('Title_Brief', '一元二次方程的公式法');
    expect(rules(x, 'char')).not.toContain('title.title_brief');
    expect(rules(x, 'gbk')).toContain('title.title_brief');
  });

  it('when a withdrawal carries only AMS and Type, then it passes; when it lacks Type, then it fails', () => {
    const del = buildAdiXml({ ...good, verb: 'delete', version: { major: 2, minor: 1 }, title: { title: good.title.title } });
    expect(validateAdiXml(del).violations).toEqual([]);
    expect(validateAdiXml(del).adi?.isDelete).toBe(true);
    expect(rules(edit(del, /\s*<App_Data App="MOD" Name="Type" Value="movie"\/>/, ''))).toContain('app_data.required');
  });
});

describe('ADI validator: files against the XML', () => {
  const adi = validateAdiXml(xml).adi!;
  const ruleOf = (m: Map<string, FileFacts>) => validateAdiFiles(adi, m).map((v) => v.rule);

  it('when a Content file is missing, then file.missing', () => {
    expect(ruleOf(new Map([...files].filter(([n]) => n !== 'poster.jpg')))).toEqual(['file.missing']);
  });

  it('when a file size differs from Content_FileSize, then file.size', () => {
    expect(ruleOf(new Map([...files, ['movie.ts', { size: 999, md5: '0123456789abcdef0123456789abcdef' }]]))).toEqual(['file.size']);
  });

  it('when a file MD5 differs from Content_CheckSum, then file.md5', () => {
    expect(ruleOf(new Map([...files, ['poster.jpg', { size: 10, md5: '00000000000000000000000000000000' }]]))).toEqual(['file.md5']);
  });

  it('when the folder holds a file no Content names, then file.unreferenced (ADI.XML itself is expected)', () => {
    expect(ruleOf(new Map([...files, ['ADI.XML', { size: 1, md5: 'x' }], ['preview.ts', { size: 1, md5: 'x' }]]))).toEqual(['file.unreferenced']);
  });
});
