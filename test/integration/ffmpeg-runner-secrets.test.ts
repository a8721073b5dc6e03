import { describe, expect, it } from 'vitest';
import { FfmpegError, runFfmpeg } from '../../src/infra/ffmpeg.runner.ts';

/**
 * A live pull's URL carries the ingest's worker token (`?token=`), and ffmpeg repeats its input URL in
 * its error lines. The failure the runner logs and rejects with (which reaches job failure reasons and
 * the operators' logs) must not carry it. Real ffmpeg, a refused connection on 127.0.0.1.
 */
describe('ffmpeg runner keeps secrets out of its errors', () => {
  it('when a pull with a token fails, then neither the error message nor its stderr tail holds the token', async () => {
    const secret = 'TOKEN-5f1e2d3c4b';
    const err = await runFfmpeg(['-hide_banner', '-rw_timeout', '2000000', '-i', `rtmp://127.0.0.1:1/live/lesson?token=${secret}`, '-f', 'null', '-'], { ffmpegPath: process.env.FFMPEG_PATH || 'ffmpeg' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FfmpegError);
    const e = err as FfmpegError;
    // ffmpeg did say which URL failed: the test sees its error line, with the token taken out
    expect(e.stderrTail).toMatch(/rtmp:\/\/127\.0\.0\.1:1\/live\/lesson\?token=\[redacted\]/);
    expect(e.stderrTail).not.toContain(secret);
    expect(e.message).not.toContain(secret);
  });
});
