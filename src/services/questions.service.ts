import { createHmac, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Db, Queryable } from '../infra/db.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import { addressBucket, type AttemptLimiter } from '../infra/rate-limit.ts';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError, TooManyRequestsError, UnavailableError } from '../domain/errors.ts';
import type { LessonStatus } from '../domain/lesson-state.ts';
import type { Principal } from '../domain/types.ts';
import { defaultImageLimits, ImageRejectedError, reencodeImage, type EncodedImage, type ImageLimits, type ImageType } from '../media/question-image.ts';
import { toShanghaiIso } from '../domain/shanghai-time.ts';
import { questionImageKey } from '../media/storage-keys.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import { searchBigrams, textSearchWhere } from '../infra/text-search.ts';
import { afterCursorWhere, encodeCursor } from '../infra/cursor.ts';
import { isUuid } from '../domain/ids.ts';
import { UrlSigner } from './url-signer.ts';
import { isApprovedLive, planDecisionSql } from './schedule.service.ts';
import type { Taxonomy, TaxonomyService } from './taxonomy.service.ts';

export interface AskInput {
  stage?: string;
  subject?: string;
  lessonId?: string;
  text: string;
  displayName: string;
  /** Base64, optionally as a `data:image/...;base64,` URL; the declared type is ignored. */
  images?: string[];
}

export interface QuestionFilters {
  stage?: string;
  subject?: string;
  lesson?: string;
  q?: string;
}

export type StaffQuestionState = 'open' | 'answered' | 'hidden' | 'all';

interface QuestionRow {
  id: string;
  stage: string;
  subject: string;
  lesson_id: string | null;
  lesson_title: string | null;
  text: string;
  display_name: string;
  images: { type: ImageType; width: number; height: number; bytes: number }[];
  answer_count: number;
  answered_at: Date | null;
  hidden_at: Date | null;
  hidden_reason: string | null;
  created_at: Date;
}

interface AnswerRow {
  id: string;
  question_id: string;
  teacher_id: string;
  text: string;
  edits: number;
  hidden_at: Date | null;
  hidden_reason: string | null;
  created_at: Date;
  updated_at: Date;
  teacher_name: string;
  school_name: string | null;
}

export interface AnswerView {
  id: string;
  text: string;
  teacher: { name: string; school: string | null };
  createdAt: string;
  updatedAt: string;
  edited: boolean;
}

export interface StaffAnswerView extends AnswerView {
  mine: boolean;
  hidden: { at: string; reason: string | null } | null;
}

export interface QuestionView {
  id: string;
  stage: { code: string; label: string };
  subject: { code: string; label: string };
  lesson: { id: string; title: string | null } | null;
  text: string;
  displayName: string;
  images: { url: string; type: ImageType; width: number; height: number }[];
  createdAt: string;
  answeredAt: string | null;
  answers: AnswerView[];
}

export interface StaffQuestionView extends Omit<QuestionView, 'answers'> {
  status: 'open' | 'answered';
  hidden: { at: string; reason: string | null } | null;
  answers: StaffAnswerView[];
}

export interface QuestionsOptions {
  maxImages: number;
  imageLimits: ImageLimits;
  /** Lifetime of signed image links given to staff (open and hidden questions are not public). */
  imageUrlTtlS: number;
  now?: () => number;
}

const questionCols = `q.id, q.stage, q.subject, q.lesson_id, q.text, q.display_name, q.images, q.answer_count, q.answered_at, q.hidden_at, q.hidden_reason, q.created_at,
  CASE WHEN l.portal_published_at IS NOT NULL OR (l.kind = 'live' AND l.status IN ('approved_for_air', 'on_air')) THEN l.title END lesson_title`;

/**
 * Online Q&A (在线答疑): anyone asks (rate limited per address in Redis), teachers of the stage answer,
 * reviewers of the stage and operators hide abuse; only answered, visible questions are public.
 * Text is stored exactly as given (after validation) and only ever returned inside JSON.
 */
export class QuestionsService {
  private readonly opts: QuestionsOptions;
  private readonly signer: UrlSigner;
  constructor(
    private readonly db: Db,
    private readonly storage: ObjectStorage,
    private readonly taxonomy: TaxonomyService,
    private readonly limiter: AttemptLimiter,
    private readonly secret: string,
    opts: Partial<QuestionsOptions> = {},
  ) {
    this.opts = { maxImages: 3, imageLimits: defaultImageLimits, imageUrlTtlS: 3600, ...opts };
    this.signer = new UrlSigner(secret);
  }

  /** A student's question: rate limited per address, images checked by content and stripped of metadata. */
  async ask(input: AskInput, ip: string): Promise<{ id: string; status: 'open'; text: string; displayName: string; stage: string; subject: string; lessonId: string | null; images: number; createdAt: string }> {
    // fail closed: without the shared counter there is no limit, so no question is taken
    const rate = await this.limiter.attempt(addressBucket(ip)).catch(() => {
      throw new UnavailableError('questions_unavailable', 'questions cannot be taken right now; try again in a minute');
    });
    if (!rate.allowed) throw new TooManyRequestsError('rate_limited', `too many questions from your network; try again in ${rate.retryAfterS} s`, rate.retryAfterS);

    const given = input.images ?? [];
    if (given.length > this.opts.maxImages) throw new InvalidError('too_many_images', `at most ${this.opts.maxImages} images`, [{ field: 'images', message: `at most ${this.opts.maxImages}` }]);
    const images: EncodedImage[] = [];
    for (const [n, b64] of given.entries()) {
      const raw = Buffer.from(b64.replace(/^data:[^,]*,/, ''), 'base64');
      try {
        images.push(await reencodeImage(raw, this.opts.imageLimits));
      } catch (err) {
        if (err instanceof ImageRejectedError) throw new InvalidError('image_rejected', `images.${n}: ${err.message}`, [{ field: `images.${n}`, message: err.message }]);
        throw err;
      }
    }

    let stage = input.stage;
    let subject = input.subject;
    if (input.lessonId) {
      const l = (await this.db.query<{ kind: 'live' | 'recorded'; status: LessonStatus; stage: string; subject: string; portal_published_at: Date | null; plan_decision: 'approve' | 'reject' | null }>(
        `SELECT l.kind, l.status, l.stage, l.subject, l.portal_published_at, ${planDecisionSql} plan_decision FROM lessons l WHERE l.id = $1`,
        [input.lessonId],
      ))[0];
      if (!l || !(l.portal_published_at || isApprovedLive(l.kind, l.status, l.plan_decision))) {
        throw new InvalidError('lesson_not_found', 'no public lesson with that id', [{ field: 'lessonId', message: 'unknown lesson' }]);
      }
      const errors: { field: string; message: string }[] = [];
      if (stage && stage !== l.stage) errors.push({ field: 'stage', message: `the lesson is for stage ${l.stage}` });
      if (subject && subject !== l.subject) errors.push({ field: 'subject', message: `the lesson is about subject ${l.subject}` });
      if (errors.length) throw new InvalidError('validation_failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
      stage = l.stage;
      subject = l.subject;
    }
    const tax = await this.taxonomy.get();
    const errors: { field: string; message: string }[] = [];
    if (!stage) errors.push({ field: 'stage', message: 'required (or give lessonId)' });
    else if (!tax.stage.some((s) => s.code === stage)) errors.push({ field: 'stage', message: `unknown stage code "${stage}"` });
    const subj = tax.subject.find((s) => s.code === subject);
    if (!subject) errors.push({ field: 'subject', message: 'required (or give lessonId)' });
    else if (!subj) errors.push({ field: 'subject', message: `unknown subject code "${subject}"` });
    else if (subj.stage && stage && subj.stage !== stage) errors.push({ field: 'subject', message: `subject ${subject} is only for stage ${subj.stage}` });
    if (errors.length) throw new InvalidError('validation_failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);

    const id = randomUUID();
    const clientKey = createHmac('sha256', this.secret).update(`qa-client:${addressBucket(ip)}`).digest('base64url').slice(0, 22);
    const stored: string[] = [];
    try {
      for (const [n, img] of images.entries()) {
        const key = questionImageKey(id, n);
        await this.storage.putBuffer(this.storage.mediaBucket, key, img.data, img.type);
        stored.push(key);
      }
      const text = input.text;
      await this.db.tx(async (q) => {
        await q.query(
          `INSERT INTO questions (id, stage, subject, lesson_id, text, display_name, images, client_key, search_text, search_bigrams)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [id, stage, subject, input.lessonId ?? null, text, input.displayName, JSON.stringify(images.map((i) => ({ type: i.type, width: i.width, height: i.height, bytes: i.data.length }))), clientKey, text.toLowerCase(), searchBigrams(text)],
        );
        await writeAudit(q, { actor: 'public', entity: 'question', entityId: id, action: 'ask', to: 'open', data: { stage, subject, lessonId: input.lessonId ?? null, images: images.length, client: clientKey } });
      });
    } catch (err) {
      for (const key of stored) await this.storage.remove(this.storage.mediaBucket, key).catch(() => undefined);
      throw err;
    }
    const row = (await this.db.query<{ created_at: Date }>('SELECT created_at FROM questions WHERE id = $1', [id]))[0];
    return { id, status: 'open', text: input.text, displayName: input.displayName, stage: stage!, subject: subject!, lessonId: input.lessonId ?? null, images: images.length, createdAt: toShanghaiIso(row.created_at) };
  }

  /** Answered, visible questions with their visible answers, newest first; search works on Chinese text. */
  async listPublic(f: QuestionFilters, cursor: string | undefined, limit: number, baseUrl: string): Promise<{ items: QuestionView[]; nextCursor: string | null }> {
    const where = ['q.hidden_at IS NULL', 'q.answer_count > 0'];
    const params: unknown[] = [];
    this.filterSql(f, where, params);
    const page = await this.page(where, params, cursor, limit, 'desc');
    const answers = await this.answersOf(page.rows.map((r) => r.id), false);
    const tax = await this.taxonomy.get();
    return {
      items: page.rows.map((r) => this.publicView(r, answers.get(r.id) ?? [], tax, baseUrl)),
      nextCursor: page.nextCursor,
    };
  }

  /** One public question (answered and visible), else NotFound. */
  async getPublic(id: string, baseUrl: string): Promise<QuestionView> {
    const r = isUuid(id) ? (await this.db.query<QuestionRow>(`SELECT ${questionCols} FROM questions q LEFT JOIN lessons l ON l.id = q.lesson_id WHERE q.id = $1 AND q.hidden_at IS NULL AND q.answer_count > 0`, [id]))[0] : undefined;
    if (!r) throw new NotFoundError('question_not_found', 'question not found');
    const answers = await this.answersOf([r.id], false);
    return this.publicView(r, answers.get(r.id) ?? [], await this.taxonomy.get(), baseUrl);
  }

  /**
   * Questions for staff. Teachers and reviewers see their school's stage; a teacher's open list
   * defaults to the subjects of the lessons they teach. Operators and admins see everything.
   * Open questions come oldest first (the longest waiting), the others newest first.
   */
  async listForStaff(actor: Principal, f: QuestionFilters & { state: StaffQuestionState; subject?: string }, cursor: string | undefined, limit: number, baseUrl: string): Promise<{ items: StaffQuestionView[]; nextCursor: string | null; scope: { stage: string | null; subjects: string[] | null } }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const scopeStage = await this.stageOf(actor);
    let subjects: string[] | null = null;
    if (scopeStage) {
      if (f.stage && f.stage !== scopeStage) throw new ForbiddenError('question_stage_forbidden', `you answer questions of stage ${scopeStage}`);
      params.push(scopeStage);
      where.push(`q.stage = $${params.length}`);
    }
    if (actor.role === 'teacher' && !f.subject && f.state === 'open') {
      const taught = await this.db.query<{ subject: string }>('SELECT DISTINCT subject FROM lessons WHERE teacher_id = $1 ORDER BY subject', [actor.userId]);
      if (taught.length) {
        subjects = taught.map((t) => t.subject);
        params.push(subjects);
        where.push(`q.subject = ANY($${params.length})`);
      }
    }
    if (f.state === 'open') where.push('q.hidden_at IS NULL', 'q.answer_count = 0');
    else if (f.state === 'answered') where.push('q.hidden_at IS NULL', 'q.answer_count > 0');
    else if (f.state === 'hidden') where.push('q.hidden_at IS NOT NULL');
    this.filterSql(f, where, params);
    if (!where.length) where.push('true');
    const page = await this.page(where, params, cursor, limit, f.state === 'open' ? 'asc' : 'desc');
    const answers = await this.answersOf(page.rows.map((r) => r.id), true);
    const tax = await this.taxonomy.get();
    return {
      items: page.rows.map((r) => this.staffView(r, answers.get(r.id) ?? [], tax, baseUrl, actor)),
      nextCursor: page.nextCursor,
      scope: { stage: scopeStage ?? null, subjects },
    };
  }

  /** A teacher of the question's stage answers it (several answers are allowed). */
  async answer(actor: Principal, questionId: string, text: string): Promise<StaffAnswerView> {
    if (actor.role !== 'teacher') throw new ForbiddenError('teacher_only', 'only teachers answer questions');
    const stage = await this.stageOf(actor);
    const id = randomUUID();
    await this.db.tx(async (q) => {
      const question = await this.lockQuestion(q, questionId);
      if (question.stage !== stage) throw new NotFoundError('question_not_found', 'question not found');
      if (question.hidden_at) throw new ConflictError('question_hidden', 'the question was hidden by a moderator');
      await q.query('INSERT INTO answers (id, question_id, teacher_id, text) VALUES ($1, $2, $3, $4)', [id, question.id, actor.userId, text]);
      await refreshQuestion(q, question.id);
      await writeAudit(q, { actor, entity: 'answer', entityId: id, action: 'create', data: { questionId: question.id } });
    });
    return this.staffAnswer(actor, id);
  }

  /** The author edits their answer; the previous text is kept in the audit log. */
  async editAnswer(actor: Principal, answerId: string, text: string): Promise<StaffAnswerView> {
    await this.db.tx(async (q) => {
      const a = await this.lockAnswer(q, answerId);
      if (a.teacher_id !== actor.userId) throw new ForbiddenError('answer_author_only', 'only its author edits an answer');
      if (a.hidden_at) throw new ConflictError('answer_hidden', 'the answer was hidden by a moderator');
      if (a.text === text) return;
      await q.query('UPDATE answers SET text = $2, edits = edits + 1, updated_at = now() WHERE id = $1', [a.id, text]);
      await refreshQuestion(q, a.question_id);
      await writeAudit(q, { actor, entity: 'answer', entityId: a.id, action: 'edit', data: { questionId: a.question_id, before: a.text } });
    });
    return this.staffAnswer(actor, answerId);
  }

  /** Hides a question (with a reason) or shows it again: reviewers of its stage, operators, admins. */
  async setQuestionHidden(actor: Principal, questionId: string, hidden: boolean, reason: string | undefined, baseUrl: string): Promise<StaffQuestionView> {
    const stage = await this.moderatorStage(actor);
    await this.db.tx(async (q) => {
      const question = await this.lockQuestion(q, questionId);
      if (stage && question.stage !== stage) throw new NotFoundError('question_not_found', 'question not found');
      if (Boolean(question.hidden_at) === hidden) throw new ConflictError('hidden_state_unchanged', hidden ? 'the question is already hidden' : 'the question is not hidden');
      await q.query('UPDATE questions SET hidden_at = $2, hidden_by = $3, hidden_reason = $4, updated_at = now() WHERE id = $1', [question.id, hidden ? new Date() : null, hidden ? actor.userId : null, hidden ? reason : null]);
      await writeAudit(q, { actor, entity: 'question', entityId: question.id, action: hidden ? 'hide' : 'unhide', from: hidden ? 'visible' : 'hidden', to: hidden ? 'hidden' : 'visible', reason: reason ?? null });
    });
    return this.staffQuestion(actor, questionId, baseUrl);
  }

  /** Hides an answer (with a reason) or shows it again; the question's public state follows. */
  async setAnswerHidden(actor: Principal, answerId: string, hidden: boolean, reason: string | undefined): Promise<StaffAnswerView> {
    const stage = await this.moderatorStage(actor);
    await this.db.tx(async (q) => {
      const a = await this.lockAnswer(q, answerId);
      const question = (await q.query<{ stage: string }>('SELECT stage FROM questions WHERE id = $1', [a.question_id]))[0];
      if (stage && question.stage !== stage) throw new NotFoundError('answer_not_found', 'answer not found');
      if (Boolean(a.hidden_at) === hidden) throw new ConflictError('hidden_state_unchanged', hidden ? 'the answer is already hidden' : 'the answer is not hidden');
      await q.query('UPDATE answers SET hidden_at = $2, hidden_by = $3, hidden_reason = $4, updated_at = now() WHERE id = $1', [a.id, hidden ? new Date() : null, hidden ? actor.userId : null, hidden ? reason : null]);
      await refreshQuestion(q, a.question_id);
      await writeAudit(q, { actor, entity: 'answer', entityId: a.id, action: hidden ? 'hide' : 'unhide', from: hidden ? 'visible' : 'hidden', to: hidden ? 'hidden' : 'visible', reason: reason ?? null, data: { questionId: a.question_id } });
    });
    return this.staffAnswer(actor, answerId);
  }

  /**
   * An attachment: public while its question is public, otherwise only with a valid signature
   * (the links staff views carry).
   */
  async image(questionId: string, n: number, sig?: { exp: number; sig: string }): Promise<{ body: Readable; type: ImageType; bytes: number; signed: boolean }> {
    if (!isUuid(questionId)) throw new NotFoundError('image_not_found', 'image not found');
    const signed = sig ? this.verifySig(questionId, n, sig.exp, sig.sig) : false;
    const r = (await this.db.query<{ images: QuestionRow['images']; public: boolean }>(
      'SELECT images, (hidden_at IS NULL AND answer_count > 0) public FROM questions WHERE id = $1',
      [questionId],
    ))[0];
    const img = r?.images[n];
    if (!r || !img || !(r.public || signed)) throw new NotFoundError('image_not_found', 'image not found');
    const body = await this.storage.get(this.storage.mediaBucket, questionImageKey(questionId, n));
    return { body, type: img.type, bytes: img.bytes, signed };
  }

  // ---------------------------------------------------------------------------------------- helpers

  private imageUrls(r: QuestionRow, baseUrl: string, signed: boolean): QuestionView['images'] {
    const exp = Math.floor((this.opts.now?.() ?? Date.now()) / 1000) + this.opts.imageUrlTtlS;
    return r.images.map((img, n) => ({
      url: `${baseUrl}/api/v1/questions/${r.id}/images/${n}${signed ? `?exp=${exp}&sig=${this.sign(r.id, n, exp)}` : ''}`,
      type: img.type,
      width: img.width,
      height: img.height,
    }));
  }

  private sign(questionId: string, n: number, exp: number): string {
    return this.signer.signLink('qa-image', `${questionId}:${n}`, exp);
  }

  private verifySig(questionId: string, n: number, exp: number, sig: string): boolean {
    return this.signer.verifyLink('qa-image', `${questionId}:${n}`, exp, sig, this.opts.now?.() ?? Date.now());
  }

  private filterSql(f: QuestionFilters, where: string[], params: unknown[]): void {
    if (f.stage) { params.push(f.stage); where.push(`q.stage = $${params.length}`); }
    if (f.subject) { params.push(f.subject); where.push(`q.subject = $${params.length}`); }
    if (f.lesson) { params.push(f.lesson); where.push(`q.lesson_id = $${params.length}`); }
    textSearchWhere('q', f.q, where, params);
  }

  private async page(where: string[], params: unknown[], cursor: string | undefined, limit: number, dir: 'asc' | 'desc'): Promise<{ rows: QuestionRow[]; nextCursor: string | null }> {
    afterCursorWhere(cursor, { at: 'q.created_at', id: 'q.id' }, dir, where, params);
    params.push(limit + 1);
    const order = dir === 'desc' ? 'DESC' : 'ASC';
    const rows = await this.db.query<QuestionRow>(
      `SELECT ${questionCols} FROM questions q LEFT JOIN lessons l ON l.id = q.lesson_id
       WHERE ${where.join(' AND ')} ORDER BY q.created_at ${order}, q.id ${order} LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { rows: page, nextCursor: more && last ? encodeCursor(last.created_at, last.id) : null };
  }

  private async answersOf(questionIds: string[], includeHidden: boolean): Promise<Map<string, AnswerRow[]>> {
    const out = new Map<string, AnswerRow[]>();
    if (!questionIds.length) return out;
    const rows = await this.db.query<AnswerRow>(
      `SELECT a.id, a.question_id, a.teacher_id, a.text, a.edits, a.hidden_at, a.hidden_reason, a.created_at, a.updated_at, u.display_name teacher_name, s.name school_name
       FROM answers a JOIN users u ON u.id = a.teacher_id LEFT JOIN schools s ON s.id = u.school_id
       WHERE a.question_id = ANY($1) ${includeHidden ? '' : 'AND a.hidden_at IS NULL'} ORDER BY a.created_at, a.id`,
      [questionIds],
    );
    for (const r of rows) out.set(r.question_id, [...(out.get(r.question_id) ?? []), r]);
    return out;
  }

  private base(r: QuestionRow, tax: Taxonomy, baseUrl: string, signed: boolean): Omit<QuestionView, 'answers'> {
    const term = (kind: 'stage' | 'subject', code: string) => ({ code, label: tax[kind].find((i) => i.code === code)?.label ?? code });
    return {
      id: r.id,
      stage: term('stage', r.stage),
      subject: term('subject', r.subject),
      lesson: r.lesson_id ? { id: r.lesson_id, title: r.lesson_title } : null,
      text: r.text,
      displayName: r.display_name,
      images: this.imageUrls(r, baseUrl, signed),
      createdAt: toShanghaiIso(r.created_at),
      answeredAt: r.answered_at ? toShanghaiIso(r.answered_at) : null,
    };
  }

  private publicView(r: QuestionRow, answers: AnswerRow[], tax: Taxonomy, baseUrl: string): QuestionView {
    return { ...this.base(r, tax, baseUrl, false), answers: answers.map(publicAnswer) };
  }

  private staffView(r: QuestionRow, answers: AnswerRow[], tax: Taxonomy, baseUrl: string, actor: Principal): StaffQuestionView {
    return {
      ...this.base(r, tax, baseUrl, true),
      status: r.answer_count > 0 ? 'answered' : 'open',
      hidden: r.hidden_at ? { at: toShanghaiIso(r.hidden_at), reason: r.hidden_reason } : null,
      answers: answers.map((a) => staffAnswer(a, actor)),
    };
  }

  private async staffQuestion(actor: Principal, id: string, baseUrl: string): Promise<StaffQuestionView> {
    const r = (await this.db.query<QuestionRow>(`SELECT ${questionCols} FROM questions q LEFT JOIN lessons l ON l.id = q.lesson_id WHERE q.id = $1`, [id]))[0];
    const answers = await this.answersOf([id], true);
    return this.staffView(r, answers.get(id) ?? [], await this.taxonomy.get(), baseUrl, actor);
  }

  private async staffAnswer(actor: Principal, id: string): Promise<StaffAnswerView> {
    const rows = await this.db.query<AnswerRow>(
      `SELECT a.id, a.question_id, a.teacher_id, a.text, a.edits, a.hidden_at, a.hidden_reason, a.created_at, a.updated_at, u.display_name teacher_name, s.name school_name
       FROM answers a JOIN users u ON u.id = a.teacher_id LEFT JOIN schools s ON s.id = u.school_id WHERE a.id = $1`,
      [id],
    );
    return staffAnswer(rows[0], actor);
  }

  /** The stage a school-bound staff member works in (their school's); null for city-wide roles. */
  private async stageOf(actor: Principal): Promise<string | null> {
    if (actor.role !== 'teacher' && actor.role !== 'reviewer') return null;
    const s = (await this.db.query<{ stage: string }>('SELECT stage FROM schools WHERE id = $1', [actor.schoolId]))[0];
    if (!s) throw new ForbiddenError('no_school', 'your account has no school');
    return s.stage;
  }

  private async moderatorStage(actor: Principal): Promise<string | null> {
    if (actor.role === 'operator' || actor.role === 'admin') return null;
    if (actor.role !== 'reviewer') throw new ForbiddenError('moderator_only', 'only reviewers and operators moderate questions');
    return this.stageOf(actor);
  }

  private async lockQuestion(q: Queryable, id: string): Promise<{ id: string; stage: string; hidden_at: Date | null }> {
    const r = isUuid(id) ? (await q.query<{ id: string; stage: string; hidden_at: Date | null }>('SELECT id, stage, hidden_at FROM questions WHERE id = $1 FOR UPDATE', [id]))[0] : undefined;
    if (!r) throw new NotFoundError('question_not_found', 'question not found');
    return r;
  }

  private async lockAnswer(q: Queryable, id: string): Promise<{ id: string; question_id: string; teacher_id: string; text: string; hidden_at: Date | null }> {
    const a = isUuid(id) ? (await q.query<{ id: string; question_id: string; teacher_id: string; text: string; hidden_at: Date | null }>('SELECT id, question_id, teacher_id, text, hidden_at FROM answers WHERE id = $1', [id]))[0] : undefined;
    if (!a) throw new NotFoundError('answer_not_found', 'answer not found');
    // lock the question first, then the answer: every writer takes them in this order
    await q.query('SELECT 1 FROM questions WHERE id = $1 FOR UPDATE', [a.question_id]);
    return (await q.query<{ id: string; question_id: string; teacher_id: string; text: string; hidden_at: Date | null }>('SELECT id, question_id, teacher_id, text, hidden_at FROM answers WHERE id = $1 FOR UPDATE', [id]))[0];
  }
}

/** Recomputes a question's visible-answer count, first-answer time and search text. */
async function refreshQuestion(q: Queryable, questionId: string): Promise<void> {
  const question = (await q.query<{ text: string }>('SELECT text FROM questions WHERE id = $1', [questionId]))[0];
  const visible = await q.query<{ text: string; created_at: Date }>('SELECT text, created_at FROM answers WHERE question_id = $1 AND hidden_at IS NULL ORDER BY created_at, id', [questionId]);
  const search = [question.text, ...visible.map((a) => a.text)].join('\n').slice(0, 20_000).toLowerCase();
  await q.query(
    'UPDATE questions SET answer_count = $2, answered_at = $3, search_text = $4, search_bigrams = $5, updated_at = now() WHERE id = $1',
    [questionId, visible.length, visible[0]?.created_at ?? null, search, searchBigrams(search)],
  );
}

function publicAnswer(a: AnswerRow): AnswerView {
  return {
    id: a.id,
    text: a.text,
    teacher: { name: a.teacher_name, school: a.school_name },
    createdAt: toShanghaiIso(a.created_at),
    updatedAt: toShanghaiIso(a.updated_at),
    edited: a.edits > 0,
  };
}

function staffAnswer(a: AnswerRow, actor: Principal): StaffAnswerView {
  return { ...publicAnswer(a), mine: a.teacher_id === actor.userId, hidden: a.hidden_at ? { at: toShanghaiIso(a.hidden_at), reason: a.hidden_reason } : null };
}
