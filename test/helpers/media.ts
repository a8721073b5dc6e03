import { spawn } from 'node:child_process';
import { mkdir, open, rename, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Test media made with ffmpeg's lavfi sources at test time (DESIGN.md: no binary fixtures). Each kind
 * is what phones, cameras and screen recorders produce, or a broken upload.
 */
export type GoodMediaKind =
  | 'normal-720p'
  | 'normal-1080p'
  | 'rotated-90'
  | 'odd-dimensions'
  | 'anamorphic'
  | 'vfr'
  | 'interlaced'
  | 'h264-10bit'
  | 'hevc-10bit-hlg'
  | 'mono'
  | 'surround-5.1'
  | 'no-audio'
  | 'audio-longer';

export type BrokenMediaKind = 'no-streams' | 'audio-only' | 'truncated' | 'truncated-faststart' | 'text-as-mp4' | 'picture';

export type MediaKind = GoodMediaKind | BrokenMediaKind;

export interface GeneratedMedia {
  kind: MediaKind;
  file: string;
  /** Extension of the upload (as the API would store it). */
  ext: string;
  /** What a viewer should see: display size after SAR and rotation, and the lesson length. */
  expect: { displayWidth?: number; displayHeight?: number; durationS?: number };
}

export function runFfmpegCli(args: string[], ffmpegPath = 'ffmpeg'): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${args.join(' ')} failed (${code}): ${err.slice(-2000)}`))));
  });
}

const video = (size: string, rate: number, seconds: number): string[] => ['-f', 'lavfi', '-t', String(seconds), '-i', `testsrc2=size=${size}:rate=${rate}`];
const tone = (seconds: number, layout = 'stereo', rate = 48000): string[] => [
  '-f', 'lavfi', '-t', String(seconds), '-i', `sine=frequency=440:sample_rate=${rate},aformat=channel_layouts=${layout}`,
];
const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const aac = ['-c:a', 'aac', '-b:a', '96k'];

/** Makes one test file of the given kind in `dir`. */
export async function generateMedia(kind: MediaKind, dir: string): Promise<GeneratedMedia> {
  await mkdir(dir, { recursive: true });
  const out = (ext: string) => path.join(dir, `${kind}.${ext}`);
  const mp4 = out('mp4');
  switch (kind) {
    case 'normal-720p':
      // Exactly one 6 s segment long: AAC priming then gives the audio-only rendition a sliver to merge.
      await runFfmpegCli([...video('1280x720', 30, 6), ...tone(6), ...x264, ...aac, '-shortest', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 1280, displayHeight: 720, durationS: 6 } };
    case 'normal-1080p':
      await runFfmpegCli([...video('1920x1080', 30, 4), ...tone(4), ...x264, ...aac, '-shortest', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 1920, displayHeight: 1080, durationS: 4 } };
    case 'rotated-90': {
      // A phone held upright: coded 1280x720 with a display matrix turning it to 720x1280.
      const plain = out('plain.mp4');
      await runFfmpegCli([...video('1280x720', 30, 4), ...tone(4), ...x264, ...aac, '-shortest', plain]);
      await runFfmpegCli(['-i', plain, '-map', '0', '-c', 'copy', '-metadata:s:v:0', 'rotate=90', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 720, displayHeight: 1280, durationS: 4 } };
    }
    case 'odd-dimensions':
      // 853x479: odd sizes need 4:4:4 in H.264 (4:2:0 crops in steps of 2).
      await runFfmpegCli([...video('854x480', 30, 4), ...tone(4), '-vf', 'scale=853:479,format=yuv444p', '-c:v', 'libx264', '-preset', 'ultrafast', ...aac, '-shortest', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 853, displayHeight: 479, durationS: 4 } };
    case 'anamorphic':
      // 960x720 stored, pixels 4:3 wide (HDV-style): shown as 1280x720.
      await runFfmpegCli([...video('960x720', 25, 4), ...tone(4), '-vf', 'setsar=4/3', ...x264, ...aac, '-shortest', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 1280, displayHeight: 720, durationS: 4 } };
    case 'vfr': {
      // A screen recorder: 30 fps while the picture moves, then one frame in four.
      await runFfmpegCli([
        ...video('640x360', 30, 5), ...tone(5),
        '-vf', "select='lt(t\\,2)+not(mod(n\\,4))'",
        '-fps_mode', 'vfr', ...x264, ...aac, '-shortest', mp4,
      ]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 640, displayHeight: 360, durationS: 5 } };
    }
    case 'interlaced': {
      // PAL camera: 720x576 25i, top field first, in MPEG-TS.
      const ts = out('ts');
      await runFfmpegCli([
        ...video('720x576', 50, 4), ...tone(4),
        '-vf', 'setsar=16/15,tinterlace=mode=interleave_top,setfield=tff',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-flags', '+ildct+ilme', '-x264-params', 'tff=1',
        ...aac, '-shortest', '-f', 'mpegts', ts,
      ]);
      return { kind, file: ts, ext: 'ts', expect: { displayWidth: 768, displayHeight: 576, durationS: 4 } };
    }
    case 'h264-10bit':
      await runFfmpegCli([...video('1280x720', 30, 4), ...tone(4), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', ...aac, '-shortest', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 1280, displayHeight: 720, durationS: 4 } };
    case 'hevc-10bit-hlg': {
      // An HDR phone clip: HEVC Main 10, BT.2020, HLG, in MOV.
      const mov = out('mov');
      await runFfmpegCli([
        ...video('1280x720', 30, 4), ...tone(4),
        '-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-tag:v', 'hvc1', '-x265-params', 'log-level=error',
        '-color_primaries', 'bt2020', '-color_trc', 'arib-std-b67', '-colorspace', 'bt2020nc',
        ...aac, '-shortest', mov,
      ]);
      return { kind, file: mov, ext: 'mov', expect: { displayWidth: 1280, displayHeight: 720, durationS: 4 } };
    }
    case 'mono':
      await runFfmpegCli([...video('640x360', 30, 4), ...tone(4, 'mono', 44100), ...x264, ...aac, '-shortest', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 640, displayHeight: 360, durationS: 4 } };
    case 'surround-5.1': {
      const mkv = out('mkv');
      await runFfmpegCli([...video('640x360', 25, 4), ...tone(4, '5.1'), ...x264, '-c:a', 'aac', '-b:a', '256k', '-shortest', mkv]);
      return { kind, file: mkv, ext: 'mkv', expect: { displayWidth: 640, displayHeight: 360, durationS: 4 } };
    }
    case 'no-audio':
      await runFfmpegCli([...video('640x360', 30, 4), ...x264, mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 640, displayHeight: 360, durationS: 4 } };
    case 'audio-longer':
      // Picture stops at 3 s, sound goes on to 5 s.
      await runFfmpegCli([...video('640x360', 30, 3), ...tone(5), ...x264, ...aac, mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: { displayWidth: 640, displayHeight: 360, durationS: 5 } };
    case 'no-streams': {
      // An MP4 holding only a subtitle track: no picture, no sound.
      const srt = out('srt');
      await writeFile(srt, '1\n00:00:00,000 --> 00:00:02,000\nhello\n');
      await runFfmpegCli(['-i', srt, '-c:s', 'mov_text', mp4]);
      return { kind, file: mp4, ext: 'mp4', expect: {} };
    }
    case 'audio-only': {
      const m4a = out('m4a');
      await runFfmpegCli([...tone(3), ...aac, m4a]);
      return { kind, file: m4a, ext: 'm4a', expect: {} };
    }
    case 'truncated': {
      // The index (moov) is written at the end: a cut upload loses it.
      await runFfmpegCli([...video('640x360', 30, 4), ...tone(4), ...x264, ...aac, '-shortest', mp4]);
      await truncate(mp4, Math.floor((await stat(mp4)).size / 2));
      return { kind, file: mp4, ext: 'mp4', expect: {} };
    }
    case 'truncated-faststart': {
      // Index up front (faststart): the file looks whole but its media data stops half way.
      await runFfmpegCli([...video('640x360', 30, 4), ...tone(4), ...x264, ...aac, '-shortest', '-movflags', '+faststart', mp4]);
      await truncate(mp4, Math.floor((await stat(mp4)).size * 0.5));
      return { kind, file: mp4, ext: 'mp4', expect: {} };
    }
    case 'text-as-mp4':
      await writeFile(mp4, 'Lesson plan for Monday\n\n1. Fractions\n2. Decimals\n'.repeat(50));
      return { kind, file: mp4, ext: 'mp4', expect: {} };
    case 'picture': {
      const jpg = out('jpg');
      await runFfmpegCli([...video('640x360', 1, 1), '-frames:v', '1', jpg]);
      const renamed = out('mp4');
      await rename(jpg, renamed);
      return { kind, file: renamed, ext: 'mp4', expect: {} };
    }
  }
}

/** The first bytes of a file (for assertions on what was generated). */
export async function head(file: string, n = 16): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(n);
    await fh.read(b, 0, n, 0);
    return b;
  } finally {
    await fh.close();
  }
}
