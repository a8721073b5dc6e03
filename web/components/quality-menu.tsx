import { t } from '../i18n/zh-CN.ts';
import type { Quality, Rung } from '../lib/playback-engine.ts';

/** 自动 / each video rung / 仅声音: a native select, so touch, mouse and keyboard all work. */
export function QualityMenu({ rungs, audioOnly, value, playing, onChange }: { rungs: Rung[]; audioOnly: boolean; value: Quality; playing: number | undefined; onChange: (q: Quality) => void }) {
  const current = rungs.find((r) => r.index === playing);
  return (
    <label class="quality-menu">
      <span class="visually-hidden">{t.quality}</span>
      <select
        value={String(value)}
        onChange={(e) => {
          const v = (e.currentTarget as HTMLSelectElement).value;
          onChange(v === 'auto' || v === 'audio' ? v : Number(v));
        }}
      >
        <option value="auto">{value === 'auto' && current ? `${t.qualityAuto}（${current.height}p）` : t.qualityAuto}</option>
        {[...rungs].reverse().map((r) => (
          <option value={String(r.index)}>{r.height}p</option>
        ))}
        {audioOnly && <option value="audio">{t.qualityAudio}</option>}
      </select>
    </label>
  );
}
