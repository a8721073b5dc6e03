import { describe, expect, it } from 'vitest';
import { auditActions, auditEntities, systemActors } from '../../src/domain/audit-codes.ts';
import { lessonStatuses, publicFields, scheduleFields } from '../../src/domain/lesson-state.ts';
import { assetStates, cablePackageStates, cableVerbs, channels, publicationStates, roles, stages } from '../../src/domain/types.ts';
import { entryStates, timetableStatuses } from '../../src/domain/timetable-rules.ts';
import { liveSessionStates } from '../../src/jobs/live.job.ts';
import { queueNames } from '../../src/jobs/job-types.ts';
import { streamAdviceCodes } from '../../src/media/stream-meter.ts';
import {
  assetStateLabels, auditActionLabels, auditEntityLabels, cablePackageStateLabels, cableVerbLabels, channelLabels, editFieldLabels,
  entryStateLabels, jobKindLabels, lessonStatusLabels, liveSessionStateLabels, publicationStateLabels, roleLabels, stageLabels,
  streamAdviceMessages, systemActorLabels, timetableStatusLabels, unknownCode,
} from '../../web/i18n/zh-CN.ts';
import { auditActionLabel, auditActorLabel, auditEntityLabel, auditStateLabel, labelOf } from '../../web/lib/code-labels.ts';

const chinese = /[\u4e00-\u9fff]/;
const tables: [string, readonly string[], Record<string, string>][] = [
  ['audit actions', auditActions, auditActionLabels],
  ['audit entities', auditEntities, auditEntityLabels],
  ['system actors', systemActors, systemActorLabels],
  ['lesson states', lessonStatuses, lessonStatusLabels],
  ['asset states', assetStates, assetStateLabels],
  ['publication states', publicationStates, publicationStateLabels],
  ['cable package states', cablePackageStates, cablePackageStateLabels],
  ['cable verbs', cableVerbs, cableVerbLabels],
  ['live session states', liveSessionStates, liveSessionStateLabels],
  ['roles', roles, roleLabels],
  ['channels', channels, channelLabels],
  ['stages', stages, stageLabels],
  ['timetable states', timetableStatuses, timetableStatusLabels],
  ['timetable entry states', entryStates, entryStateLabels],
  ['job kinds', Object.values(queueNames), jobKindLabels],
  ['stream advice', streamAdviceCodes, streamAdviceMessages],
  ['edit fields', [...publicFields, ...scheduleFields], editFieldLabels],
];

describe('Chinese labels of the codes a person reads', () => {
  it.each(tables)('when a code of %s is listed in src/, then the catalog has a Chinese label for it and for nothing else', (_name, codes, labels) => {
    expect(codes.filter((c) => !chinese.test(labels[c] ?? ''))).toEqual([]);
    expect(Object.keys(labels).filter((k) => !codes.includes(k))).toEqual([]);
  });

  it('when audit actions are listed, then each is snake_case and listed once', () => {
    expect(auditActions.filter((c) => !/^[a-z]+(_[a-z]+)*$/.test(c))).toEqual([]);
    expect(new Set(auditActions).size).toBe(auditActions.length);
  });

  it('when the server sends a code the pages do not know, then a neutral Chinese word shows instead of the code', () => {
    expect(auditActionLabel('teleported')).toBe(unknownCode.action);
    expect(auditEntityLabel('spaceship')).toBe(unknownCode.kind);
    expect(labelOf(lessonStatusLabels, 'hibernating')).toBe(unknownCode.state);
    expect(labelOf(lessonStatusLabels, 'toString')).toBe(unknownCode.state);
    expect(labelOf(lessonStatusLabels, null)).toBe(unknownCode.state);
    expect(auditStateLabel('lesson', 'hibernating')).toBe(unknownCode.state);
    expect(auditStateLabel('spaceship', 'draft')).toBe(unknownCode.state);
    expect(auditActorLabel('robot')).toBe(unknownCode.actor);
    expect(auditActorLabel('martian:zork')).toBe(`${unknownCode.actor} zork`);
    for (const v of Object.values(unknownCode)) expect(v).toMatch(chinese);
  });

  it('when an audit record names states and actors, then they read in Chinese by what the record is about', () => {
    expect(auditActionLabel('processing_succeeded')).toBe('处理完成');
    expect(auditStateLabel('lesson', 'in_review')).toBe('待审核');
    expect(auditStateLabel('cable_package', 'delivered')).toBe(cablePackageStateLabels.delivered);
    expect(auditStateLabel('timetable', 'v3')).toBe('第 3 版');
    expect(auditStateLabel('timetable', 'draft')).toBe(timetableStatusLabels.draft);
    expect(auditStateLabel('user', 'teacher')).toBe('教师');
    expect(auditStateLabel('school', 'true')).toBe('已停用');
    expect(auditActorLabel('operator:ops_1')).toBe('运营人员 ops_1');
    expect(auditActorLabel('worker')).toBe('后台处理服务');
  });
});
