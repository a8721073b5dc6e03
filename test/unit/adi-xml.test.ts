import { describe, expect, it } from 'vitest';
import {
  adiDate, adiDateTime, buildAdiXml, categoryPath, cleanText, cutText, formatAssetId, formatDisplayRunTime, formatRunTime, textLength, type AdiPackageInput,
} from '../../src/media/adi-xml.ts';
import { validateAdiXml } from '../../src/media/adi-validator.ts';

const ids = { package: 'CLCS0000000000000101', title: 'CLCS0000000000000102', movie: 'CLCS0000000000000103', poster: 'CLCS0000000000000104' };
const common = {
  provider: { name: 'classcast', id: 'classcast.example', product: 'MOD' },
  creationDate: '2025-03-01',
  version: { major: 1, minor: 0 },
  ids,
};
const fixture: AdiPackageInput = {
  ...common,
  verb: 'deliver',
  title: {
    title: '一元二次方程 <配方法> & "公式法"',
    summary: '本节课讲解一元二次方程的两种解法。\n适合初三学生。',
    categories: [['吉林市中小学公益课', '初中', '数学']],
    rating: 'G',
    genre: '教育',
    billingId: '00000',
    previewPeriodS: 0,
    qaContact: 'cable-qa@classcast.example',
    licenseStart: '2025-03-01T08:00:00',
    licenseEnd: '2026-03-01T08:00:00',
    runTimeS: 2712.4,
  },
  movie: { name: 'movie.ts', size: 4517828, md5: 'A1B2C3D4E5F60718293A4B5C6D7E8F90', bitRateKbps: 12000, audioType: 'Stereo', screenFormat: 'Widescreen', hd: true, resolution: '1920x1080i', frameRate: '25', codec: 'AVC' },
  poster: { name: 'poster.jpg', size: 23827, md5: '0123456789abcdef0123456789abcdef', width: 640, height: 360 },
};

const ams = (id: string, cls: string, desc: string, extra = '') =>
  `<AMS Provider="classcast" Product="MOD" Asset_Name="${id}_${cls}" Version_Major="1" Version_Minor="0" Description="${desc} ${cls}" Creation_Date="2025-03-01" Provider_ID="classcast.example" Asset_ID="${id}" Asset_Class="${cls}"${extra}/>`;
const escTitle = '一元二次方程 &lt;配方法&gt; &amp; &quot;公式法&quot;';

describe('ADI 1.1 XML', () => {
  it('when a lesson is delivered, then the XML is exactly package > title > movie + poster with escaped text', () => {
    expect(buildAdiXml(fixture)).toBe(
      [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE ADI SYSTEM "ADI.DTD">',
        '<ADI>',
        '  <Metadata>',
        `    ${ams(ids.package, 'package', escTitle)}`,
        '    <App_Data App="MOD" Name="Metadata_Spec_Version" Value="CableLabsVOD1.1"/>',
        '  </Metadata>',
        '  <Asset>',
        '    <Metadata>',
        `      ${ams(ids.title, 'title', escTitle)}`,
        '      <App_Data App="MOD" Name="Type" Value="title"/>',
        '      <App_Data App="MOD" Name="Title_Brief" Value="一元二次方程 &lt;配方法&gt; &amp; &quot;公式法"/>',
        `      <App_Data App="MOD" Name="Title" Value="${escTitle}"/>`,
        '      <App_Data App="MOD" Name="Summary_Short" Value="本节课讲解一元二次方程的两种解法。 适合初三学生。"/>',
        '      <App_Data App="MOD" Name="Rating" Value="G"/>',
        '      <App_Data App="MOD" Name="Run_Time" Value="00:45:12"/>',
        '      <App_Data App="MOD" Name="Display_Run_Time" Value="00:45"/>',
        '      <App_Data App="MOD" Name="Category" Value="吉林市中小学公益课/初中/数学"/>',
        '      <App_Data App="MOD" Name="Genre" Value="教育"/>',
        '      <App_Data App="MOD" Name="Billing_ID" Value="00000"/>',
        '      <App_Data App="MOD" Name="Licensing_Window_Start" Value="2025-03-01T08:00:00"/>',
        '      <App_Data App="MOD" Name="Licensing_Window_End" Value="2026-03-01T08:00:00"/>',
        '      <App_Data App="MOD" Name="Preview_Period" Value="0"/>',
        '      <App_Data App="MOD" Name="Provider_QA_Contact" Value="cable-qa@classcast.example"/>',
        '    </Metadata>',
        '    <Asset>',
        '      <Metadata>',
        `        ${ams(ids.movie, 'movie', escTitle)}`,
        '        <App_Data App="MOD" Name="Type" Value="movie"/>',
        '        <App_Data App="MOD" Name="Audio_Type" Value="Stereo"/>',
        '        <App_Data App="MOD" Name="Screen_Format" Value="Widescreen"/>',
        '        <App_Data App="MOD" Name="HDContent" Value="Y"/>',
        '        <App_Data App="MOD" Name="Resolution" Value="1920x1080i"/>',
        '        <App_Data App="MOD" Name="Frame_Rate" Value="25"/>',
        '        <App_Data App="MOD" Name="Codec" Value="AVC"/>',
        '        <App_Data App="MOD" Name="Bit_Rate" Value="12000"/>',
        '        <App_Data App="MOD" Name="Content_FileSize" Value="4517828"/>',
        '        <App_Data App="MOD" Name="Content_CheckSum" Value="a1b2c3d4e5f60718293a4b5c6d7e8f90"/>',
        '      </Metadata>',
        '      <Content Value="movie.ts"/>',
        '    </Asset>',
        '    <Asset>',
        '      <Metadata>',
        `        ${ams(ids.poster, 'poster', escTitle)}`,
        '        <App_Data App="MOD" Name="Type" Value="poster"/>',
        '        <App_Data App="MOD" Name="Image_Aspect_Ratio" Value="640x360"/>',
        '        <App_Data App="MOD" Name="Content_FileSize" Value="23827"/>',
        '        <App_Data App="MOD" Name="Content_CheckSum" Value="0123456789abcdef0123456789abcdef"/>',
        '      </Metadata>',
        '      <Content Value="poster.jpg"/>',
        '    </Asset>',
        '  </Asset>',
        '</ADI>',
        '',
      ].join('\n'),
    );
    expect(validateAdiXml(buildAdiXml(fixture)).violations).toEqual([]);
  });

  it('when a lesson is withdrawn, then every asset carries Verb="DELETE", the same Asset_IDs, the bumped version and no Content', () => {
    const xml = buildAdiXml({ ...common, version: { major: 1, minor: 1 }, verb: 'delete', title: { title: '一元二次方程' } });
    expect(xml.match(/Verb="DELETE"/g)).toHaveLength(4);
    expect(xml.match(/Version_Minor="1"/g)).toHaveLength(4);
    for (const id of Object.values(ids)) expect(xml).toContain(`Asset_ID="${id}"`);
    expect(xml).not.toContain('<Content');
    expect(xml).toContain('<AMS Provider="classcast" Product="MOD" Asset_Name="CLCS0000000000000103_movie" Version_Major="1" Version_Minor="1" Description="一元二次方程 movie" Creation_Date="2025-03-01" Provider_ID="classcast.example" Asset_ID="CLCS0000000000000103" Asset_Class="movie" Verb="DELETE"/>');
    expect(validateAdiXml(xml).violations).toEqual([]);
  });

  it('when the title and description are very long Chinese text, then they are cut to 19/128/256 characters at character boundaries', () => {
    const title = '吉林市初中数学公益课堂：一元二次方程的配方法与公式法综合应用专题复习（第一课时）'.repeat(5);
    const summary = '本节课围绕一元二次方程展开，讲解配方法、公式法与因式分解法，并通过例题比较三种方法的适用场合。'.repeat(8);
    const xml = buildAdiXml({ ...fixture, title: { ...fixture.title, title, summary } });
    const value = (name: string) => new RegExp(`Name="${name}" Value="([^"]*)"`).exec(xml)?.[1] ?? '';
    expect(value('Title_Brief')).toBe([...title].slice(0, 19).join(''));
    expect(value('Title')).toBe([...title].slice(0, 127).join('') + '…');
    expect(value('Summary_Short')).toBe([...summary].slice(0, 255).join('') + '…');
    expect([...value('Title')]).toHaveLength(128);
    expect([...value('Summary_Short')]).toHaveLength(256);
    expect(validateAdiXml(xml).violations).toEqual([]);
  });

  it('when the operator counts GBK bytes, then a 19-byte Title_Brief holds 9 Chinese characters, never half of a tenth', () => {
    const xml = buildAdiXml({ ...fixture, textUnit: 'gbk', title: { ...fixture.title, title: '一元二次方程的配方法与公式法' } });
    expect(/Name="Title_Brief" Value="([^"]*)"/.exec(xml)?.[1]).toBe('一元二次方程的配方');
    expect(validateAdiXml(xml, { textUnit: 'gbk' }).violations).toEqual([]);
  });

  it('when a cut falls inside an emoji sequence, then the whole grapheme is left out', () => {
    expect(cutText('第一课👨‍👩‍👧讲解', 4)).toBe('第一课');
    expect(cutText('第一课👍讲解', 4)).toBe('第一课👍');
  });

  it('when a Title_Brief is given, then it is used (cut to 19) instead of the title', () => {
    const xml = buildAdiXml({ ...fixture, title: { ...fixture.title, brief: '配方法' } });
    expect(xml).toContain('Name="Title_Brief" Value="配方法"');
  });

  it('when the description is empty, then Summary_Short repeats the title', () => {
    const xml = buildAdiXml({ ...fixture, title: { ...fixture.title, summary: '  ' } });
    expect(xml).toContain(`Name="Summary_Short" Value="${escTitle}"`);
  });
});

describe('ADI field helpers', () => {
  it('when a Category is built, then each level is cut to 20 characters and slashes inside a level stay in that level', () => {
    expect(categoryPath(['吉林市中小学公益课', '初中', '道德与法治/历史'])).toBe('吉林市中小学公益课/初中/道德与法治／历史');
    expect(categoryPath(['吉林市中小学公益课', '专题教育：心理健康与生命教育系列课程（春季学期）', '综合'])).toBe('吉林市中小学公益课/专题教育：心理健康与生命教育系列课程（春/综合');
    expect(() => categoryPath(['', ' '])).toThrow(/at least one/);
  });

  it('when a Category would pass 256 characters, then it is refused', () => {
    expect(() => categoryPath(Array.from({ length: 14 }, () => '一二三四五六七八九十一二三四五六七八九十'))).toThrow(/longer than 256/);
  });

  it('when Asset_IDs are formatted, then they are 4 upper-case letters and 16 digits', () => {
    expect(formatAssetId('clcs', 42)).toBe('CLCS0000000000000042');
    expect(formatAssetId('CLCS', 9999999999999999n)).toBe('CLCS9999999999999999');
    expect(() => formatAssetId('CLC1', 1)).toThrow(/4 letters/);
    expect(() => formatAssetId('CLCS', 10n ** 16n)).toThrow(/0\.\.9999999999999999/);
    expect(() => formatAssetId('CLCS', -1)).toThrow();
    expect(() => formatAssetId('CLCS', 1.5)).toThrow();
  });

  it('when run times are formatted, then Run_Time is hh:mm:ss and Display_Run_Time the nearest minute (at least one)', () => {
    expect([formatRunTime(3.008), formatRunTime(2712.4), formatRunTime(3 * 3600 + 59.6)]).toEqual(['00:00:03', '00:45:12', '03:01:00']);
    expect([formatDisplayRunTime(3), formatDisplayRunTime(2712), formatDisplayRunTime(5430), formatDisplayRunTime(0)]).toEqual(['00:01', '00:45', '01:31', '00:00']);
  });

  it('when dates are formatted, then they are in the operator time zone', () => {
    expect(adiDate('2025-02-28T17:30:00Z', 'Asia/Shanghai')).toBe('2025-03-01');
    expect(adiDateTime('2025-02-28T17:30:05Z', 'Asia/Shanghai')).toBe('2025-03-01T01:30:05');
    expect(adiDateTime('2025-02-28T17:30:05Z', 'UTC')).toBe('2025-02-28T17:30:05');
  });

  it('when text has control characters, lone surrogates and runs of whitespace, then they are removed or folded', () => {
    expect(cleanText(' 第一课\u0007\t\n 讲解\ud800 ')).toBe('第一课 讲解');
  });

  it('when lengths are counted, then the unit decides', () => {
    expect([textLength('数学ab', 'char'), textLength('数学ab', 'utf8'), textLength('数学ab', 'gbk'), textLength('👍', 'gbk')]).toEqual([4, 8, 6, 4]);
  });
});
