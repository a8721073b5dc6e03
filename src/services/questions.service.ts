import { createHmac, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Db, Queryable } from '../infra/db.ts';
import type { ObjectStorage } from '../infra/storage.ts';
import { addressBucket, type AttemptLimiter } from '../infra/rate-limit.ts';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError, TooManyRequestsError, UnavailableError } from '../domain/errors.ts';
import type { Principal } from '../domain/types.ts';
import { defaultImageLimits, ImageRejectedError, reencodeImage, type EncodedImage, type ImageLimits, type ImageType } from '../media/question-image.ts';
import { toShanghaiIso } from '../domain/shanghai-time.ts';
import { questionImageKey } from '../media/storage-keys.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import {
  answersOf, findAnswer, findQuestion, insertAnswer, insertQuestion, lessonForQuestion, lockAnswer, lockQuestion, pageQuestions, questionCreatedAt,
  questionImages, questionStage, refreshQuestion, schoolStage, setHidden, taughtSubjects, updateAnswerText,
  type AnswerRow, type LockedAnswer, type QuestionRow,
} from '../infra/questions.repo.ts';
import { isUuid } from '../domain/ids.ts';
import { UrlSigner } from './url-signer.ts';
import { isApprovedLive } from './schedule.service.ts';
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
      const l = await lessonForQuestion(this.db, input.lessonId);
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
      await this.db.tx(async (q) => {
        await insertQuestion(q, {
          id, stage: stage!, subject: subject!, lessonId: input.lessonId ?? null, text: input.text, displayName: input.displayName, clientKey,
          images: images.map((i) => ({ type: i.type, width: i.width, height: i.height, bytes: i.data.length })),
        });
        await writeAudit(q, { actor: 'public', entity: 'question', entityId: id, action: 'ask', to: 'open', data: { stage, subject, lessonId: input.lessonId ?? null, images: images.length, client: clientKey } });
      });
    } catch (err) {
      for (const key of stored) await this.storage.remove(this.storage.mediaBucket, key).catch(() => undefined);
      throw err;
    }
    const createdAt = await questionCreatedAt(this.db, id);
    return { id, status: 'open', text: input.text, displayName: input.displayName, stage: stage!, subject: subject!, lessonId: input.lessonId ?? null, images: images.length, createdAt: toShanghaiIso(createdAt) };
  }

  /** Answered, visible questions with their visible answers, newest first; search works on Chinese text. */
  async listPublic(f: QuestionFilters, cursor: string | undefined, limit: number, baseUrl: string): Promise<{ items: QuestionView[]; nextCursor: string | null }> {
    const page = await pageQuestions(this.db, { visibility: 'public', ...f }, cursor, limit, 'desc');
    const answers = await answersOf(this.db, page.rows.map((r) => r.id), false);
    const tax = await this.taxonomy.get();
    return {
      items: page.rows.map((r) => this.publicView(r, answers.get(r.id) ?? [], tax, baseUrl)),
      nextCursor: page.nextCursor,
    };
  }

  /** One public question (answered and visible), else NotFound. */
  async getPublic(id: string, baseUrl: string): Promise<QuestionView> {
    const r = isUuid(id) ? await findQuestion(this.db, id, true) : undefined;
    if (!r) throw new NotFoundError('question_not_found', 'question not found');
    const answers = await answersOf(this.db, [r.id], false);
    return this.publicView(r, answers.get(r.id) ?? [], await this.taxonomy.get(), baseUrl);
  }

  /**
   * Questions for staff. Teachers and reviewers see their school's stage; a teacher's open list
   * defaults to the subjects of the lessons they teach. Operators and admins see everything.
   * Open questions come oldest first (the longest waiting), the others newest first.
   */
  async listForStaff(actor: Principal, f: QuestionFilters & { state: StaffQuestionState; subject?: string }, cursor: string | undefined, limit: number, baseUrl: string): Promise<{ items: StaffQuestionView[]; nextCursor: string | null; scope: { stage: string | null; subjects: string[] | null } }> {
    const scopeStage = await this.stageOf(actor);
    if (scopeStage && f.stage && f.stage !== scopeStage) throw new ForbiddenError('question_stage_forbidden', `you answer questions of stage ${scopeStage}`);
    let subjects: string[] | null = null;
    if (actor.role === 'teacher' && !f.subject && f.state === 'open') {
      const taught = await taughtSubjects(this.db, actor.userId);
      if (taught.length) subjects = taught;
    }
    const { state, ...filters } = f;
    const page = await pageQuestions(this.db, { ...filters, visibility: state, stage: scopeStage ?? f.stage, subjects: subjects ?? undefined }, cursor, limit, state === 'open' ? 'asc' : 'desc');
    const answers = await answersOf(this.db, page.rows.map((r) => r.id), true);
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
      await insertAnswer(q, { id, questionId: question.id, teacherId: actor.userId, text });
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
      await updateAnswerText(q, a.id, text);
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
      await setHidden(q, 'questions', question.id, hidden ? { by: actor.userId, reason: reason ?? null } : null);
      await writeAudit(q, { actor, entity: 'question', entityId: question.id, action: hidden ? 'hide' : 'unhide', from: hidden ? 'visible' : 'hidden', to: hidden ? 'hidden' : 'visible', reason: reason ?? null });
    });
    return this.staffQuestion(actor, questionId, baseUrl);
  }

  /** Hides an answer (with a reason) or shows it again; the question's public state follows. */
  async setAnswerHidden(actor: Principal, answerId: string, hidden: boolean, reason: string | undefined): Promise<StaffAnswerView> {
    const stage = await this.moderatorStage(actor);
    await this.db.tx(async (q) => {
      const a = await this.lockAnswer(q, answerId);
      if (stage && (await questionStage(q, a.question_id)) !== stage) throw new NotFoundError('answer_not_found', 'answer not found');
      if (Boolean(a.hidden_at) === hidden) throw new ConflictError('hidden_state_unchanged', hidden ? 'the answer is already hidden' : 'the answer is not hidden');
      await setHidden(q, 'answers', a.id, hidden ? { by: actor.userId, reason: reason ?? null } : null);
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
    const r = await questionImages(this.db, questionId);
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
    const r = (await findQuestion(this.db, id, false))!;
    const answers = await answersOf(this.db, [id], true);
    return this.staffView(r, answers.get(id) ?? [], await this.taxonomy.get(), baseUrl, actor);
  }

  private async staffAnswer(actor: Principal, id: string): Promise<StaffAnswerView> {
    return staffAnswer((await findAnswer(this.db, id))!, actor);
  }

  /** The stage a school-bound staff member works in (their school's); null for city-wide roles. */
  private async stageOf(actor: Principal): Promise<string | null> {
    if (actor.role !== 'teacher' && actor.role !== 'reviewer') return null;
    const stage = await schoolStage(this.db, actor.schoolId);
    if (!stage) throw new ForbiddenError('no_school', 'your account has no school');
    return stage;
  }

  private async moderatorStage(actor: Principal): Promise<string | null> {
    if (actor.role === 'operator' || actor.role === 'admin') return null;
    if (actor.role !== 'reviewer') throw new ForbiddenError('moderator_only', 'only reviewers and operators moderate questions');
    return this.stageOf(actor);
  }

  private async lockQuestion(q: Queryable, id: string): Promise<{ id: string; stage: string; hidden_at: Date | null }> {
    const r = isUuid(id) ? await lockQuestion(q, id) : undefined;
    if (!r) throw new NotFoundError('question_not_found', 'question not found');
    return r;
  }

  private async lockAnswer(q: Queryable, id: string): Promise<LockedAnswer> {
    const a = isUuid(id) ? await lockAnswer(q, id) : undefined;
    if (!a) throw new NotFoundError('answer_not_found', 'answer not found');
    return a;
  }
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
