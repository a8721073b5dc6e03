import type { Db } from '../infra/db.ts';
import { ConflictError, InvalidError } from '../domain/errors.ts';
import { taxonomySeed } from '../domain/taxonomy-seed.ts';
import type { Principal } from '../domain/types.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { insertTaxonomyItem, listTaxonomyItems, nextTaxonomySort } from '../infra/taxonomy.repo.ts';

export const taxonomyKinds = ['stage', 'grade', 'subject', 'type', 'edition'] as const;
export type TaxonomyKind = (typeof taxonomyKinds)[number];

export interface TaxonomyItem {
  code: string;
  label: string;
  stage?: string;
  parent?: string;
}
export type Taxonomy = Record<TaxonomyKind, TaxonomyItem[]>;

/** The stage/grade/subject/type/edition vocabularies, cached in memory (reloaded after a change). */
export class TaxonomyService {
  private cache: { at: number; value: Taxonomy } | undefined;
  constructor(private readonly db: Db, private readonly ttlMs = 30_000) {}

  /** Inserts the built-in taxonomy; existing codes are left alone. */
  async seed(): Promise<void> {
    await this.db.tx(async (q) => {
      for (const kind of taxonomyKinds) {
        let sort = 0;
        for (const item of taxonomySeed[kind]) {
          await insertTaxonomyItem(q, kind, item, sort++, true);
        }
      }
    });
    this.cache = undefined;
  }

  async get(): Promise<Taxonomy> {
    if (this.cache && Date.now() - this.cache.at < this.ttlMs) return this.cache.value;
    const value: Taxonomy = { stage: [], grade: [], subject: [], type: [], edition: [] };
    for (const { kind, item } of await listTaxonomyItems(this.db)) value[kind as TaxonomyKind].push(item);
    this.cache = { at: Date.now(), value };
    return value;
  }

  async label(kind: TaxonomyKind, code: string): Promise<string> {
    return (await this.get())[kind].find((i) => i.code === code)?.label ?? code;
  }

  /** Adds an item (operators); codes are stable identifiers and never change once created. */
  async add(kind: TaxonomyKind, item: TaxonomyItem, actor: Principal): Promise<TaxonomyItem> {
    const tax = await this.get();
    if (tax[kind].some((i) => i.code === item.code)) throw new ConflictError('taxonomy_item_exists', `${kind} ${item.code} already exists`);
    if (item.stage && !tax.stage.some((s) => s.code === item.stage)) throw new InvalidError('stage_not_found', `unknown stage ${item.stage}`, [{ field: 'stage', message: 'unknown stage' }]);
    if (kind === 'grade' && !item.stage) throw new InvalidError('stage_required', 'a grade belongs to a stage', [{ field: 'stage', message: 'required for a grade' }]);
    if (item.parent && !tax[kind].some((i) => i.code === item.parent)) throw new InvalidError('parent_not_found', `unknown parent ${item.parent}`, [{ field: 'parent', message: 'unknown' }]);
    await this.db.tx(async (q) => {
      await insertTaxonomyItem(q, kind, item, await nextTaxonomySort(q, kind));
      await writeAudit(q, { actor, entity: 'taxonomy', entityId: `${kind}:${item.code}`, action: 'add', data: { label: item.label } });
    });
    this.cache = undefined;
    return item;
  }

  /** Checks a lesson's classification against the vocabularies; lists every bad field. */
  async validateLesson(input: { stage: string; grade: string; subject: string; type: string; edition: string }): Promise<void> {
    const tax = await this.get();
    const errors: { field: string; message: string }[] = [];
    for (const kind of taxonomyKinds) {
      if (!tax[kind].some((i) => i.code === input[kind])) errors.push({ field: kind, message: `unknown ${kind} code "${input[kind]}"` });
    }
    const grade = tax.grade.find((g) => g.code === input.grade);
    if (grade && grade.stage !== input.stage) errors.push({ field: 'grade', message: `grade ${input.grade} is not in stage ${input.stage}` });
    const subject = tax.subject.find((s) => s.code === input.subject);
    if (subject?.stage && subject.stage !== input.stage) errors.push({ field: 'subject', message: `subject ${input.subject} is only for stage ${subject.stage}` });
    if (errors.length) throw new InvalidError('validation_failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
  }

  /** A type code and its children (filtering by 专题教育 finds every special topic). */
  async typeWithChildren(code: string): Promise<string[]> {
    const tax = await this.get();
    return [code, ...tax.type.filter((t) => t.parent === code).map((t) => t.code)];
  }
}
