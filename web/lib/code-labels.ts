import {
  assetStateLabels, auditActionLabels, auditEntityLabels, cablePackageStateLabels, lessonStatusLabels, liveSessionStateLabels,
  publicationStateLabels, roleLabels, systemActorLabels, timetableStatusLabels, unknownCode,
} from '../i18n/zh-CN.ts';

/** The Chinese name of a code the server sent, or the neutral fallback when this page does not know it. */
export function labelOf<K extends string>(table: Readonly<Partial<Record<K, string>>>, code: string | null | undefined, fallback: string = unknownCode.state): string {
  return (code != null && Object.prototype.hasOwnProperty.call(table, code) ? table[code as K] : undefined) ?? fallback;
}

/** A state in the audit log's from/to, read by what the record is about. */
const statesOf: Partial<Record<string, Readonly<Record<string, string>>>> = {
  lesson: lessonStatusLabels,
  asset: assetStateLabels,
  publication: publicationStateLabels,
  cable_package: cablePackageStateLabels,
  live_session: liveSessionStateLabels,
  question: { visible: '显示', hidden: '已隐藏' },
  answer: { visible: '显示', hidden: '已隐藏' },
  school: { true: '已停用', false: '正常' },
  user: { true: '已停用', false: '正常', ...roleLabels },
  timetable: timetableStatusLabels,
};

export function auditStateLabel(entity: string, value: string): string {
  const version = /^v(\d+)$/.exec(value);
  if (entity === 'timetable' && version) return `第 ${version[1]} 版`;
  return labelOf(statesOf[entity] ?? {}, value);
}

export const auditActionLabel = (action: string): string => labelOf(auditActionLabels, action, unknownCode.action);
export const auditEntityLabel = (entity: string): string => labelOf(auditEntityLabels, entity, unknownCode.kind);

/** `role:username` for staff, a service's name otherwise. */
export function auditActorLabel(actor: string): string {
  const i = actor.indexOf(':');
  if (i < 0) return labelOf(systemActorLabels, actor, unknownCode.actor);
  return `${labelOf(roleLabels, actor.slice(0, i), unknownCode.actor)} ${actor.slice(i + 1)}`;
}
