import { describe, expect, it } from 'vitest';
import { withMeasuredEnds } from '../../src/media/media-info.ts';
import { durationFailure, failureFromProbeError, formatDuration, looksTruncated } from '../../src/media/probe-failures.ts';
import { parseDisplayMatrix, parseProbe, type ProbeRun } from '../../src/media/probe.ts';

const mp4Head = Buffer.from([0, 0, 0, 0x20, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d]);

function videoStream(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index: 0, codec_name: 'h264', codec_type: 'video', profile: 'High', width: 1280, height: 720, sample_aspect_ratio: '1:1', display_aspect_ratio: '16:9',
    pix_fmt: 'yuv420p', field_order: 'progressive', r_frame_rate: '30/1', avg_frame_rate: '30/1', start_time: '0.000000', duration: '10.000000',
    bit_rate: '2000000', nb_frames: '300', bits_per_raw_sample: '8', disposition: { default: 1, attached_pic: 0 }, ...over,
  };
}

function audioStream(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index: 1, codec_name: 'aac', codec_type: 'audio', profile: 'LC', sample_rate: '48000', channels: 2, channel_layout: 'stereo',
    start_time: '0.000000', duration: '10.000000', bit_rate: '128000', disposition: { default: 1 }, ...over,
  };
}

function run(streams: Record<string, unknown>[], format: Record<string, unknown> = {}, over: Partial<ProbeRun> = {}): ProbeRun {
  return {
    json: { streams, format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', start_time: '0.000000', duration: '10.000000', size: '3000000', bit_rate: '2400000', ...format } },
    stderr: '',
    exitCode: 0,
    fileSize: 3_000_000,
    head: mp4Head,
    ...over,
  };
}

describe('parseProbe: what a source is', () => {
  it('when a plain 720p file is probed, then picture, sound and lengths are typed', () => {
    const r = parseProbe(run([videoStream(), audioStream()]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, displayWidth: 1280, displayHeight: 720, rotation: 0, interlaced: false, vfr: false, bitDepth: 8, hdr: null });
    expect(r.info.audio).toMatchObject({ index: 1, channels: 2, sampleRate: 48000 });
    expect(r.info.durationS).toBe(10);
  });

  it('when the display matrix says rotation 90 (counter-clockwise), then the picture is shown turned 270 clockwise, portrait', () => {
    const side = [{ side_data_type: 'Display Matrix', displaymatrix: '\n00000000:            0      -65536           0\n00000001:        65536           0           0\n00000002:            0           0  1073741824\n', rotation: 90 }];
    const r = parseProbe(run([videoStream({ side_data_list: side }), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video.rotation).toBe(270);
    expect(r.info.video.displayMatrix).toEqual([0, -65536, 0, 65536, 0, 0, 0, 0, 1073741824]);
    expect([r.info.video.displayWidth, r.info.video.displayHeight]).toEqual([720, 1280]);
  });

  it('when a phone writes rotation -90, then it is a 90 degree clockwise turn', () => {
    const r = parseProbe(run([videoStream({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video.rotation).toBe(90);
  });

  it('when only the legacy rotate tag is there, then it is read as clockwise', () => {
    const r = parseProbe(run([videoStream({ tags: { rotate: '180' } }), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video.rotation).toBe(180);
    expect([r.info.video.displayWidth, r.info.video.displayHeight]).toEqual([1280, 720]);
  });

  it('when pixels are not square, then the display width follows the sample aspect ratio', () => {
    const r = parseProbe(run([videoStream({ width: 720, height: 576, sample_aspect_ratio: '16:15', display_aspect_ratio: '4:3', field_order: 'tt', r_frame_rate: '25/1', avg_frame_rate: '25/1' }), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video).toMatchObject({ displayWidth: 768, displayHeight: 576, interlaced: true, fieldOrder: 'tt', sar: { num: 16, den: 15 }, dar: { num: 4, den: 3 } });
  });

  it('when the frame rates disagree, then the source is variable-rate', () => {
    const r = parseProbe(run([videoStream({ r_frame_rate: '30/1', avg_frame_rate: '2490/149' }), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video.vfr).toBe(true);
  });

  it('when the source is 10-bit HLG HEVC, then depth and HDR transfer are known', () => {
    const r = parseProbe(run([videoStream({ codec_name: 'hevc', profile: 'Main 10', pix_fmt: 'yuv420p10le', bits_per_raw_sample: undefined, color_transfer: 'arib-std-b67', color_primaries: 'bt2020' }), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video).toMatchObject({ codec: 'hevc', bitDepth: 10, hdr: 'hlg' });
    const pq = parseProbe(run([videoStream({ pix_fmt: 'p010le', bits_per_raw_sample: undefined, color_transfer: 'smpte2084' })]));
    if (!pq.ok) throw new Error(pq.failure.message);
    expect(pq.info.video).toMatchObject({ bitDepth: 10, hdr: 'pq' });
  });

  it('when a Matroska file gives lengths only as DURATION tags, then they are used', () => {
    const r = parseProbe(run([videoStream({ duration: undefined, tags: { DURATION: '00:00:04.040000000' } }), audioStream({ duration: undefined, tags: { DURATION: '00:00:04.021000000' }, channels: 6, channel_layout: '5.1(side)' })], { format_name: 'matroska,webm', duration: '4.040000' }));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.videoEndS).toBeCloseTo(4.04, 6);
    expect(r.info.audioEndS).toBeCloseTo(4.021, 6);
    expect(r.info.audio?.channels).toBe(6);
  });

  it('when there is no audio track, then audio is null and the length is the picture', () => {
    const r = parseProbe(run([videoStream({ duration: '4.000000' })], { duration: '4.000000' }));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.audio).toBeNull();
    expect(r.info.durationS).toBe(4);
  });

  it('when the sound outlasts the picture, then the lesson length is the sound', () => {
    const r = parseProbe(run([videoStream({ duration: '3.000000' }), audioStream({ duration: '5.000000' })], { duration: '5.000000' }));
    if (!r.ok) throw new Error(r.failure.message);
    expect([r.info.videoEndS, r.info.audioEndS, r.info.durationS]).toEqual([3, 5, 5]);
  });

  it('when a cover picture and a default audio track are present, then the cover is not the video and the default audio is chosen', () => {
    const r = parseProbe(run([
      videoStream({ index: 0, codec_name: 'mjpeg', disposition: { attached_pic: 1 } }),
      videoStream({ index: 1, disposition: { default: 0 } }),
      audioStream({ index: 2, disposition: { default: 0 } }),
      audioStream({ index: 3, channels: 1, channel_layout: 'mono', disposition: { default: 1 } }),
    ]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.video.index).toBe(1);
    expect(r.info.audio?.index).toBe(3);
    expect(r.info.streamCounts).toEqual({ video: 1, audio: 2, other: 1 });
  });
});

describe('parseProbe: files that cannot be a lesson', () => {
  it('when the upload is empty, then the teacher is told so', () => {
    const r = parseProbe(run([], {}, { fileSize: 0 }));
    expect(r.ok ? null : r.failure.reason).toBe('empty');
  });

  it('when a text file is renamed .mp4, then it is not media (even though the MP4 reader complains of a missing moov)', () => {
    const r = parseProbe({ json: { error: { code: -1094995529, string: 'Invalid data found when processing input' } }, stderr: '[mov,mp4 @ 0x1] moov atom not found\n', exitCode: 1, fileSize: 2000, head: Buffer.from('Lesson plan for Monday\n') });
    expect(r.ok ? null : r.failure).toEqual({ reason: 'not-media', message: expect.stringContaining('not a video we can read') });
  });

  it('when an MP4 lost its index at the end, then it is reported as incomplete', () => {
    const r = parseProbe({ json: { error: { code: -1094995529, string: 'Invalid data found when processing input' } }, stderr: '[mov,mp4 @ 0x1] moov atom not found\n', exitCode: 1, fileSize: 2000, head: mp4Head });
    expect(r.ok ? null : r.failure.reason).toBe('truncated');
    expect(r.ok ? '' : r.failure.message).toMatch(/incomplete/);
  });

  it('when an MP4 with its index up front holds fewer bytes than its tables promise, then it is reported as incomplete', () => {
    const r = parseProbe(run([videoStream({ bit_rate: '2000000' }), audioStream({ bit_rate: '128000' })], {}, { fileSize: 1_000_000 }));
    expect(r.ok ? null : r.failure.reason).toBe('truncated');
  });

  it('when a file has only a subtitle track, then it has no picture or sound', () => {
    const r = parseProbe(run([{ index: 0, codec_type: 'subtitle', codec_name: 'mov_text' }]));
    expect(r.ok ? null : r.failure).toEqual({ reason: 'no-streams', message: expect.stringContaining('no picture or sound') });
  });

  it('when a file has sound only, then the teacher is asked for a video', () => {
    const r = parseProbe(run([audioStream({ index: 0 })]));
    expect(r.ok ? null : r.failure.reason).toBe('no-video');
  });

  it('when the video codec is unknown and there is no sound, then it cannot be decoded', () => {
    const r = parseProbe(run([videoStream({ codec_name: undefined })]));
    expect(r.ok ? null : r.failure.reason).toBe('undecodable');
  });

  it('when the upload is a still picture, then it is refused as a picture', () => {
    const r = parseProbe(run([videoStream({ codec_name: 'mjpeg', nb_frames: undefined, duration: undefined })], { format_name: 'image2', duration: '0.040000' }));
    expect(r.ok ? null : r.failure.reason).toBe('picture-only');
  });

  it('when the lesson is longer than allowed, then the message gives both lengths', () => {
    const r = parseProbe(run([videoStream({ duration: '15000' }), audioStream({ duration: '15000' })], { duration: '15000' }, { fileSize: 10_000_000_000 }), 4 * 3600);
    expect(r.ok ? null : r.failure).toEqual({ reason: 'too-long', message: 'The lesson is 4 h 10 min long; the longest accepted is 4 h 00 min. Please shorten it or split it into parts.' });
  });

  it('when the picture is tiny, then it is refused', () => {
    const r = parseProbe(run([videoStream({ width: 32, height: 32 })]));
    expect(r.ok ? null : r.failure.reason).toBe('too-small');
  });

  it('when ffprobe finds a subtitle or text format, then it is not media', () => {
    const r = parseProbe(run([{ index: 0, codec_type: 'video', codec_name: 'ansi', width: 640, height: 400 }], { format_name: 'tty' }));
    expect(r.ok ? null : r.failure.reason).toBe('not-media');
  });
});

describe('withMeasuredEnds', () => {
  it('when a Matroska header length counts the start offset twice, then the last packets decide where each stream ends', () => {
    const r = parseProbe(run([videoStream({ start_time: '0.046000', duration: undefined, tags: { DURATION: '00:00:03.046000000' } }), audioStream({ start_time: '0.000000', duration: undefined, tags: { DURATION: '00:00:03.046000000' } })], { format_name: 'matroska,webm', duration: '3.046000' }));
    if (!r.ok) throw new Error(r.failure.message);
    expect(r.info.videoEndS).toBeCloseTo(3.092, 6);
    const m = withMeasuredEnds(r.info, { 0: 3.046, 1: 3.0 });
    expect([m.videoEndS, m.audioEndS, m.durationS]).toEqual([3.046, 3.0, 3.046]);
    expect(m.video.durationS).toBeCloseTo(3.0, 6);
  });
  it('when the file starts late, then measured ends are made relative to its start', () => {
    const r = parseProbe(run([videoStream({ start_time: '10.000000' }), audioStream({ start_time: '10.000000' })], { start_time: '10.000000' }));
    if (!r.ok) throw new Error(r.failure.message);
    expect(withMeasuredEnds(r.info, { 0: 19.5, 1: 20 }).durationS).toBe(10);
  });
  it('when nothing was measured, then the header lengths stay', () => {
    const r = parseProbe(run([videoStream(), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(withMeasuredEnds(r.info, {})).toBe(r.info);
  });
  it('when the measured lesson is over the limit, then the too-long failure is given', () => {
    const r = parseProbe(run([videoStream(), audioStream()]));
    if (!r.ok) throw new Error(r.failure.message);
    expect(durationFailure(withMeasuredEnds(r.info, { 1: 130 }), 120)?.reason).toBe('too-long');
    expect(durationFailure(r.info, 120)).toBeNull();
  });
});

describe('helpers', () => {
  it('when durations are formatted, then they read naturally', () => {
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(750)).toBe('12 min 30 s');
    expect(formatDuration(3900)).toBe('1 h 05 min');
  });
  it('when a display matrix is printed by ffprobe, then its nine numbers are read', () => {
    expect(parseDisplayMatrix('\n00000000:        65536           0           0\n00000001:            0       65536           0\n00000002:            0           0  1073741824\n')).toEqual([65536, 0, 0, 0, 65536, 0, 0, 0, 1073741824]);
    expect(parseDisplayMatrix(undefined)).toBeNull();
  });
  it('when ffprobe reports an unknown problem without a file head, then it is not media', () => {
    expect(failureFromProbeError('something odd').reason).toBe('not-media');
  });
  it('when ffmpeg stopped early on a partial file, then the output is judged truncated', () => {
    expect(looksTruncated('[mov @ 0x1] stream 1, offset 0x1234: partial file', 10, 5)).toBe(true);
    expect(looksTruncated('', 10, 9.98)).toBe(false);
    expect(looksTruncated('', 10, 4)).toBe(true);
  });
});
