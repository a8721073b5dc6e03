import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client.ts';
import { staff } from '../api/staff-client.ts';
import { ErrorNote } from './error-note.tsx';
import { TranscodeNote, type TranscodeState } from './transcode-note.tsx';
import { labelOf } from '../lib/code-labels.ts';
import { ct, streamAdviceMessages, t, unknownCode } from '../i18n/zh-CN.ts';

interface LiveStatus {
  connected: boolean;
  stream: { bitrateKbps: number; fps: number; keyframeIntervalS: number | null; width: number; height: number } | null;
  advice: string[];
  stopped: boolean;
  transcode: TranscodeState | null;
}

/** OBS settings (server, key with copy and rotate) and the ingest's view of the stream, refreshed every 2 s. */
export function LivePanel({ lessonId, keys = true }: { lessonId: string; keys?: boolean }) {
  const [obs, setObs] = useState<{ rtmpUrl: string; streamKey: string } | null>(null);
  const [status, setStatus] = useState<LiveStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    let live = true;
    const tick = () => staff<LiveStatus>('liveStatus', { params: { id: lessonId } }).then((s) => live && setStatus(s), () => undefined);
    void tick();
    const timer = setInterval(tick, 2000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [lessonId]);
  const act = async (name: 'liveKey' | 'rotateKey') => {
    if (name === 'rotateKey' && !confirm(ct.rotateConfirm)) return;
    try {
      setObs(await staff<{ rtmpUrl: string; streamKey: string }>(name, { params: { id: lessonId } }));
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : t.networkError);
    }
  };
  const copy = async () => {
    if (!obs) return;
    await navigator.clipboard?.writeText(obs.streamKey).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 2000);
  };
  return (
    <div class="live-panel">
      {error && <ErrorNote message={error} />}
      {keys && <p class="note">{ct.obsHint}</p>}
      {keys && !obs && <button type="button" class="button button--ghost" onClick={() => act('liveKey')}>{ct.showKey}</button>}
      {keys && obs && (
        <dl class="kv">
          <dt>{ct.obsServer}</dt><dd><span class="secret">{obs.rtmpUrl}</span></dd>
          <dt>{ct.obsKey}</dt>
          <dd>
            <span class="secret" data-testid="stream-key">{obs.streamKey}</span>
            <span class="item__actions live-panel__key-actions">
              <button type="button" class="button button--small" onClick={copy}>{copied ? ct.copied : ct.copy}</button>
              <button type="button" class="button button--small button--ghost" onClick={() => act('rotateKey')}>{ct.rotate}</button>
            </span>
          </dd>
        </dl>
      )}
      {status && (
        <div role="status" aria-live="polite" class="live-status">
          <p><span class={`state ${status.connected ? 'state--good' : ''}`} data-testid="live-connected">{status.stopped ? ct.stopped : status.connected ? ct.connected : ct.notConnected}</span></p>
          {status.stopped && <p class="note">{ct.stoppedNote}</p>}
          {status.stream && (
            <dl class="kv">
              <dt>{ct.bitrate}</dt><dd>{ct.kbps(status.stream.bitrateKbps)}</dd>
              <dt>{ct.fps}</dt><dd>{status.stream.fps}</dd>
              <dt>{ct.keyframe}</dt><dd>{status.stream.keyframeIntervalS === null ? '—' : ct.seconds(status.stream.keyframeIntervalS)}</dd>
            </dl>
          )}
          {status.advice.map((a) => <p key={a} class="advice">{labelOf(streamAdviceMessages, a, unknownCode.advice)}</p>)}
          <TranscodeNote transcode={status.transcode} />
        </div>
      )}
    </div>
  );
}
