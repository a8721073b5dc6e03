import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import type { Redis } from 'ioredis';
import type { Db } from '../infra/db.ts';
import { addressBucket, AttemptLimiter } from '../infra/rate-limit.ts';
import { ConflictError, InvalidError, NotFoundError, TooManyRequestsError, UnauthorizedError } from '../domain/errors.ts';
import { schoolRoles, type Principal, type Role } from '../domain/types.ts';
import { writeAudit } from '../infra/audit.repo.ts';
import * as users from '../infra/users.repo.ts';
import type { AdminUser, PublicUser, TokenInfo } from '../infra/users.repo.ts';
import { findDistrictByCode, findSchoolByCode } from '../infra/schools.repo.ts';
import type { SystemActor } from '../domain/audit-codes.ts';

export type { AdminUser, PublicUser } from '../infra/users.repo.ts';

export interface AuthServiceOptions {
  tokenTtlHours: number;
  maxFailures: number;
  windowS: number;
  redisPrefix: string;
}

/** Tokens are opaque: `cc_` + 32 random bytes; only their SHA-256 is stored. */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
const newToken = (): string => `cc_${randomBytes(32).toString('base64url')}`;

/** A generated password: 16 characters without look-alikes (0/O, 1/l/I), easy to read aloud or type on a phone. */
export function newPassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return Array.from({ length: 16 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** A hash to verify against when the user does not exist, so timing does not tell usernames apart. */
let dummyHash: Promise<string> | undefined;

/** Users, passwords (argon2id), opaque bearer tokens and the failed-login throttle. */
export class AuthService {
  /** Failed logins per user, and four times as many per address (one address guessing many names). */
  private readonly byUser: AttemptLimiter;
  private readonly byAddress: AttemptLimiter;

  constructor(
    private readonly db: Db,
    redis: Redis,
    private readonly opts: AuthServiceOptions,
  ) {
    const windows = (max: number) => [{ windowS: opts.windowS, max }];
    this.byUser = new AttemptLimiter(redis, { prefix: opts.redisPrefix, name: 'login-fail-user', windows: windows(opts.maxFailures) });
    this.byAddress = new AttemptLimiter(redis, { prefix: opts.redisPrefix, name: 'login-fail-address', windows: windows(opts.maxFailures * 4) });
  }

  /** Checks a password and issues a token; failed attempts are throttled per user and per address. */
  async login(username: string, password: string, ip: string): Promise<{ token: string; expiresAt: Date; user: PublicUser }> {
    const userKey = username.toLowerCase();
    const addressKey = addressBucket(ip);
    for (const v of [await this.byUser.check(userKey), await this.byAddress.check(addressKey)]) {
      if (!v.allowed) throw new TooManyRequestsError('login_throttled', `too many failed logins; try again in ${v.retryAfterS} s`, v.retryAfterS);
    }
    const found = await users.findCredentials(this.db, username);
    dummyHash ??= argonHash('not-a-password');
    const ok = await argonVerify(found?.passwordHash ?? (await dummyHash), password).catch(() => false);
    if (!found || !ok || found.disabled || found.schoolDisabled) {
      await Promise.all([this.byUser.fail(userKey), this.byAddress.fail(addressKey)]);
      throw new UnauthorizedError('wrong_credentials', 'wrong username or password');
    }
    await this.byUser.reset(userKey);
    const { token, expiresAt } = await this.issueToken(found.user.id, 'login', this.opts.tokenTtlHours);
    return { token, expiresAt, user: found.user };
  }

  /** Issues a token for a user (login or CLI); returns the only copy of the secret. */
  async issueToken(userId: string, label: string, ttlHours: number): Promise<{ token: string; id: string; expiresAt: Date }> {
    const token = newToken();
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + ttlHours * 3600_000);
    await users.insertToken(this.db, { id, userId, tokenHash: hashToken(token), label, expiresAt });
    return { token, id, expiresAt };
  }

  /** Resolves a bearer token to its principal, or undefined when unknown, expired, revoked or disabled. */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (!/^cc_[A-Za-z0-9_-]{20,100}$/.test(token)) return undefined;
    return users.findActivePrincipal(this.db, hashToken(token));
  }

  /** Revokes a token given itself or its id. */
  async revokeToken(tokenOrId: string): Promise<boolean> {
    return users.revokeToken(this.db, tokenOrId.startsWith('cc_') ? { tokenHash: hashToken(tokenOrId) } : { id: tokenOrId });
  }

  /** Creates a user; teachers and reviewers need a school, city-wide roles must not have one. */
  async createUser(input: { username: string; password: string; displayName?: string; role: Role; schoolCode?: string; districtCode?: string }, actor: Principal | SystemActor = 'cli'): Promise<PublicUser> {
    if (!/^[A-Za-z0-9_.-]{3,64}$/.test(input.username)) throw new InvalidError('invalid_username', 'username must be 3-64 letters, digits, "_", "." or "-"', [{ field: 'username', message: 'invalid' }]);
    if (input.password.length < 10) throw new InvalidError('password_too_short', 'password must be at least 10 characters', [{ field: 'password', message: 'too short' }]);
    let schoolId: string | null = null;
    let districtId: string | null = null;
    if (schoolRoles.includes(input.role)) {
      if (!input.schoolCode) throw new InvalidError('school_required', `a ${input.role} belongs to one school`, [{ field: 'school', message: 'required' }]);
      const s = await findSchoolByCode(this.db, input.schoolCode);
      if (!s) throw new NotFoundError('school_not_found', `school ${input.schoolCode} not found`);
      schoolId = s.id;
      districtId = s.districtId;
    } else if (input.role === 'district_admin') {
      if (!input.districtCode) throw new InvalidError('district_required', 'a district admin belongs to one district', [{ field: 'district', message: 'required' }]);
      const d = await findDistrictByCode(this.db, input.districtCode);
      if (!d) throw new NotFoundError('district_not_found', `district ${input.districtCode} not found`);
      districtId = d.id;
    }
    const id = randomUUID();
    const passwordHash = await argonHash(input.password);
    return this.db.tx(async (q) => {
      if (await users.usernameTaken(q, input.username)) throw new ConflictError('user_exists', `user ${input.username} already exists`);
      const user: PublicUser = { id, username: input.username, displayName: input.displayName ?? input.username, role: input.role, schoolId, districtId };
      await users.insertUser(q, { ...user, passwordHash });
      await writeAudit(q, { actor, entity: 'user', entityId: id, action: 'create', to: input.role });
      return user;
    });
  }

  /** What the consoles show about the signed-in person: name and school. */
  async profile(p: Principal): Promise<{ displayName: string; school: { id: string; code: string; name: string; stage: string } | null }> {
    const profile = await users.findProfile(this.db, p.userId);
    if (!profile) throw new NotFoundError('user_not_found', 'user not found');
    return profile;
  }

  // ---- administration (the admin console and the CLI) -------------------------------------

  /** Users for the admin console, newest first, optionally of one school or role or matching a name. */
  async listUsers(f: { schoolId?: string; role?: Role; q?: string; limit: number }): Promise<AdminUser[]> {
    return users.listUsers(this.db, f);
  }

  /** A fresh password for a new or reset account (see newPassword). */
  generatePassword(): string {
    return newPassword();
  }

  /** Disables (tokens revoked at once) or re-enables a user; an admin cannot lock themselves out. */
  async setDisabled(actor: Principal, userId: string, disabled: boolean): Promise<void> {
    if (disabled && actor.userId === userId) throw new ConflictError('cannot_disable_self', 'you cannot disable your own account');
    await this.db.tx(async (q) => {
      const was = await users.userDisabled(q, userId, true);
      if (was === undefined) throw new NotFoundError('user_not_found', 'user not found');
      await users.setUserDisabled(q, userId, disabled);
      const revoked = disabled ? await users.revokeUserTokens(q, userId) : 0;
      await writeAudit(q, { actor, entity: 'user', entityId: userId, action: disabled ? 'disable' : 'enable', from: String(was), to: String(disabled), data: { tokensRevoked: revoked } });
    });
  }

  /** Sets a new password (generated when none is given, returned once) and revokes the user's tokens. */
  async resetPassword(actor: Principal, userId: string, password?: string): Promise<{ password: string; generated: boolean }> {
    const pw = password ?? newPassword();
    if (pw.length < 10) throw new InvalidError('password_too_short', 'password must be at least 10 characters', [{ field: 'password', message: 'too short' }]);
    const h = await argonHash(pw);
    await this.db.tx(async (q) => {
      if (!(await users.setPasswordHash(q, { id: userId }, h))) throw new NotFoundError('user_not_found', 'user not found');
      const revoked = await users.revokeUserTokens(q, userId);
      await writeAudit(q, { actor, entity: 'user', entityId: userId, action: 'password_reset', data: { tokensRevoked: revoked } });
    });
    return { password: pw, generated: password === undefined };
  }

  /** Revokes every token of a user (signs them out everywhere). */
  async revokeUserTokens(actor: Principal, userId: string): Promise<{ revoked: number }> {
    return this.db.tx(async (q) => {
      if (!(await users.userExists(q, userId))) throw new NotFoundError('user_not_found', 'user not found');
      const revoked = await users.revokeUserTokens(q, userId);
      await writeAudit(q, { actor, entity: 'token', entityId: userId, action: 'revoke_all', data: { tokensRevoked: revoked } });
      return { revoked };
    });
  }

  /** Issues a token for an API client (the cable system, a script), as `classcast token create` does; audited. */
  async issueTokenFor(actor: Principal, userId: string, ttlHours: number, label: string): Promise<{ token: string; id: string; expiresAt: Date }> {
    const disabled = await users.userDisabled(this.db, userId);
    if (disabled === undefined) throw new NotFoundError('user_not_found', 'user not found');
    if (disabled) throw new ConflictError('user_disabled', 'the user is disabled');
    const t = await this.issueToken(userId, label, ttlHours);
    await writeAudit(this.db, { actor, entity: 'token', entityId: t.id, action: 'create', data: { userId, label, expiresAt: t.expiresAt.toISOString() } });
    return t;
  }

  /** A user's tokens (never their secrets): what the admin can revoke. */
  async listTokens(userId: string): Promise<TokenInfo[]> {
    return users.listTokens(this.db, userId);
  }

  async findUser(username: string): Promise<PublicUser | undefined> {
    return users.findUserByUsername(this.db, username);
  }

  async setPassword(username: string, password: string): Promise<void> {
    const h = await argonHash(password);
    if (!(await users.setPasswordHash(this.db, { username }, h))) throw new NotFoundError('user_not_found', `user ${username} not found`);
  }
}
