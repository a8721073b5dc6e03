import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import type { Redis } from 'ioredis';
import type { Db, Queryable } from '../infra/db.ts';
import { likeEscape } from '../infra/text-search.ts';
import { addressBucket, AttemptLimiter } from '../infra/rate-limit.ts';
import { ConflictError, InvalidError, NotFoundError, TooManyRequestsError, UnauthorizedError } from '../domain/errors.ts';
import { schoolRoles, type Principal, type Role } from '../domain/types.ts';
import { writeAudit } from '../infra/audit.repo.ts';

export interface AuthServiceOptions {
  tokenTtlHours: number;
  maxFailures: number;
  windowS: number;
  redisPrefix: string;
}

export interface PublicUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  schoolId: string | null;
  districtId: string | null;
}

interface UserRow {
  id: string;
  username: string;
  display_name: string;
  password_hash: string;
  role: Role;
  school_id: string | null;
  district_id: string | null;
  disabled: boolean;
}

/** Tokens are opaque: `cc_` + 32 random bytes; only their SHA-256 is stored. */
export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
const newToken = (): string => `cc_${randomBytes(32).toString('base64url')}`;

/** A generated password: 16 characters without look-alikes (0/O, 1/l/I), easy to read aloud or type on a phone. */
export function newPassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return Array.from({ length: 16 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

async function revokeAll(q: Queryable, userId: string): Promise<number> {
  return (await q.query('UPDATE auth_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id', [userId])).length;
}

export interface AdminUser extends PublicUser {
  disabled: boolean;
  createdAt: string;
  activeTokens: number;
  school: { id: string; code: string; name: string } | null;
}

const toPublic = (u: UserRow): PublicUser => ({ id: u.id, username: u.username, displayName: u.display_name, role: u.role, schoolId: u.school_id, districtId: u.district_id });

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
    const rows = await this.db.query<UserRow & { school_disabled: boolean }>(
      'SELECT u.*, coalesce(s.disabled, false) school_disabled FROM users u LEFT JOIN schools s ON s.id = u.school_id WHERE lower(u.username) = lower($1)',
      [username],
    );
    const user = rows[0];
    dummyHash ??= argonHash('not-a-password');
    const ok = await argonVerify(user?.password_hash ?? (await dummyHash), password).catch(() => false);
    if (!user || !ok || user.disabled || user.school_disabled) {
      await Promise.all([this.byUser.fail(userKey), this.byAddress.fail(addressKey)]);
      throw new UnauthorizedError('wrong_credentials', 'wrong username or password');
    }
    await this.byUser.reset(userKey);
    const { token, expiresAt } = await this.issueToken(user.id, 'login', this.opts.tokenTtlHours);
    return { token, expiresAt, user: toPublic(user) };
  }

  /** Issues a token for a user (login or CLI); returns the only copy of the secret. */
  async issueToken(userId: string, label: string, ttlHours: number): Promise<{ token: string; id: string; expiresAt: Date }> {
    const token = newToken();
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + ttlHours * 3600_000);
    await this.db.query('INSERT INTO auth_tokens (id, user_id, token_hash, label, expires_at) VALUES ($1, $2, $3, $4, $5)', [id, userId, hashToken(token), label, expiresAt]);
    return { token, id, expiresAt };
  }

  /** Resolves a bearer token to its principal, or undefined when unknown, expired, revoked or disabled. */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (!/^cc_[A-Za-z0-9_-]{20,100}$/.test(token)) return undefined;
    const rows = await this.db.query<UserRow>(
      `SELECT u.* FROM auth_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN schools s ON s.id = u.school_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND NOT u.disabled AND NOT coalesce(s.disabled, false)`,
      [hashToken(token)],
    );
    const u = rows[0];
    if (!u) return undefined;
    return { userId: u.id, username: u.username, role: u.role, schoolId: u.school_id, districtId: u.district_id };
  }

  /** Revokes a token given itself or its id. */
  async revokeToken(tokenOrId: string): Promise<boolean> {
    const rows = tokenOrId.startsWith('cc_')
      ? await this.db.query('UPDATE auth_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id', [hashToken(tokenOrId)])
      : await this.db.query('UPDATE auth_tokens SET revoked_at = now() WHERE id::text = $1 AND revoked_at IS NULL RETURNING id', [tokenOrId]);
    return rows.length > 0;
  }

  /** Creates a user; teachers and reviewers need a school, city-wide roles must not have one. */
  async createUser(input: { username: string; password: string; displayName?: string; role: Role; schoolCode?: string; districtCode?: string }, actor: Principal | string = 'cli'): Promise<PublicUser> {
    if (!/^[A-Za-z0-9_.-]{3,64}$/.test(input.username)) throw new InvalidError('invalid_username', 'username must be 3-64 letters, digits, "_", "." or "-"', [{ field: 'username', message: 'invalid' }]);
    if (input.password.length < 10) throw new InvalidError('password_too_short', 'password must be at least 10 characters', [{ field: 'password', message: 'too short' }]);
    let schoolId: string | null = null;
    let districtId: string | null = null;
    if (schoolRoles.includes(input.role)) {
      if (!input.schoolCode) throw new InvalidError('school_required', `a ${input.role} belongs to one school`, [{ field: 'school', message: 'required' }]);
      const s = await this.db.query<{ id: string; district_id: string }>('SELECT id, district_id FROM schools WHERE code = $1', [input.schoolCode]);
      if (!s[0]) throw new NotFoundError('school_not_found', `school ${input.schoolCode} not found`);
      schoolId = s[0].id;
      districtId = s[0].district_id;
    } else if (input.role === 'district_admin') {
      if (!input.districtCode) throw new InvalidError('district_required', 'a district admin belongs to one district', [{ field: 'district', message: 'required' }]);
      const d = await this.db.query<{ id: string }>('SELECT id FROM districts WHERE code = $1', [input.districtCode]);
      if (!d[0]) throw new NotFoundError('district_not_found', `district ${input.districtCode} not found`);
      districtId = d[0].id;
    }
    const id = randomUUID();
    const passwordHash = await argonHash(input.password);
    return this.db.tx(async (q) => {
      const exists = await q.query('SELECT 1 FROM users WHERE lower(username) = lower($1)', [input.username]);
      if (exists.length) throw new ConflictError('user_exists', `user ${input.username} already exists`);
      await q.query(
        'INSERT INTO users (id, username, display_name, password_hash, role, school_id, district_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [id, input.username, input.displayName ?? input.username, passwordHash, input.role, schoolId, districtId],
      );
      await writeAudit(q, { actor, entity: 'user', entityId: id, action: 'create', to: input.role });
      return { id, username: input.username, displayName: input.displayName ?? input.username, role: input.role, schoolId, districtId };
    });
  }

  /** What the consoles show about the signed-in person: name and school. */
  async profile(p: Principal): Promise<{ displayName: string; school: { id: string; code: string; name: string; stage: string } | null }> {
    const rows = await this.db.query<{ display_name: string; s_id: string | null; s_code: string | null; s_name: string | null; s_stage: string | null }>(
      'SELECT u.display_name, s.id s_id, s.code s_code, s.name s_name, s.stage s_stage FROM users u LEFT JOIN schools s ON s.id = u.school_id WHERE u.id = $1',
      [p.userId],
    );
    const r = rows[0];
    if (!r) throw new NotFoundError('user_not_found', 'user not found');
    return { displayName: r.display_name, school: r.s_id ? { id: r.s_id, code: r.s_code!, name: r.s_name!, stage: r.s_stage! } : null };
  }

  // ---- administration (the admin console and the CLI) -------------------------------------

  /** Users for the admin console, newest first, optionally of one school or role or matching a name. */
  async listUsers(f: { schoolId?: string; role?: Role; q?: string; limit: number }): Promise<AdminUser[]> {
    const where: string[] = ['true'];
    const params: unknown[] = [];
    if (f.schoolId) { params.push(f.schoolId); where.push(`u.school_id = $${params.length}`); }
    if (f.role) { params.push(f.role); where.push(`u.role = $${params.length}`); }
    if (f.q) { params.push(`%${likeEscape(f.q)}%`); where.push(`(u.username ILIKE $${params.length} OR u.display_name ILIKE $${params.length})`); }
    params.push(f.limit);
    const rows = await this.db.query<UserRow & { created_at: Date; s_code: string | null; s_name: string | null; tokens: number }>(
      `SELECT u.*, s.code s_code, s.name s_name,
              (SELECT count(*)::int FROM auth_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL AND t.expires_at > now()) tokens
       FROM users u LEFT JOIN schools s ON s.id = u.school_id WHERE ${where.join(' AND ')} ORDER BY u.created_at DESC, u.username LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      ...toPublic(r), disabled: r.disabled, createdAt: r.created_at.toISOString(), activeTokens: Number(r.tokens),
      school: r.school_id ? { id: r.school_id, code: r.s_code ?? '', name: r.s_name ?? '' } : null,
    }));
  }

  /** A fresh password for a new or reset account (see newPassword). */
  generatePassword(): string {
    return newPassword();
  }

  /** Disables (tokens revoked at once) or re-enables a user; an admin cannot lock themselves out. */
  async setDisabled(actor: Principal, userId: string, disabled: boolean): Promise<void> {
    if (disabled && actor.userId === userId) throw new ConflictError('cannot_disable_self', 'you cannot disable your own account');
    await this.db.tx(async (q) => {
      const rows = await q.query<{ disabled: boolean }>('SELECT disabled FROM users WHERE id = $1 FOR UPDATE', [userId]);
      if (!rows[0]) throw new NotFoundError('user_not_found', 'user not found');
      await q.query('UPDATE users SET disabled = $2 WHERE id = $1', [userId, disabled]);
      const revoked = disabled ? await revokeAll(q, userId) : 0;
      await writeAudit(q, { actor, entity: 'user', entityId: userId, action: disabled ? 'disable' : 'enable', from: String(rows[0].disabled), to: String(disabled), data: { tokensRevoked: revoked } });
    });
  }

  /** Sets a new password (generated when none is given, returned once) and revokes the user's tokens. */
  async resetPassword(actor: Principal, userId: string, password?: string): Promise<{ password: string; generated: boolean }> {
    const pw = password ?? newPassword();
    if (pw.length < 10) throw new InvalidError('password_too_short', 'password must be at least 10 characters', [{ field: 'password', message: 'too short' }]);
    const h = await argonHash(pw);
    await this.db.tx(async (q) => {
      const rows = await q.query('UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id', [userId, h]);
      if (!rows.length) throw new NotFoundError('user_not_found', 'user not found');
      const revoked = await revokeAll(q, userId);
      await writeAudit(q, { actor, entity: 'user', entityId: userId, action: 'password_reset', data: { tokensRevoked: revoked } });
    });
    return { password: pw, generated: password === undefined };
  }

  /** Revokes every token of a user (signs them out everywhere). */
  async revokeUserTokens(actor: Principal, userId: string): Promise<{ revoked: number }> {
    return this.db.tx(async (q) => {
      if (!(await q.query('SELECT 1 FROM users WHERE id = $1', [userId])).length) throw new NotFoundError('user_not_found', 'user not found');
      const revoked = await revokeAll(q, userId);
      await writeAudit(q, { actor, entity: 'token', entityId: userId, action: 'revoke_all', data: { tokensRevoked: revoked } });
      return { revoked };
    });
  }

  /** Issues a token for an API client (the cable system, a script), as `classcast token create` does; audited. */
  async issueTokenFor(actor: Principal, userId: string, ttlHours: number, label: string): Promise<{ token: string; id: string; expiresAt: Date }> {
    const u = await this.db.query<{ disabled: boolean }>('SELECT disabled FROM users WHERE id = $1', [userId]);
    if (!u[0]) throw new NotFoundError('user_not_found', 'user not found');
    if (u[0].disabled) throw new ConflictError('user_disabled', 'the user is disabled');
    const t = await this.issueToken(userId, label, ttlHours);
    await writeAudit(this.db, { actor, entity: 'token', entityId: t.id, action: 'create', data: { userId, label, expiresAt: t.expiresAt.toISOString() } });
    return t;
  }

  /** A user's tokens (never their secrets): what the admin can revoke. */
  async listTokens(userId: string): Promise<{ id: string; label: string; createdAt: string; expiresAt: string; revokedAt: string | null }[]> {
    const rows = await this.db.query<{ id: string; label: string; created_at: Date; expires_at: Date; revoked_at: Date | null }>(
      'SELECT id, label, created_at, expires_at, revoked_at FROM auth_tokens WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100',
      [userId],
    );
    return rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at.toISOString(), expiresAt: r.expires_at.toISOString(), revokedAt: r.revoked_at?.toISOString() ?? null }));
  }

  async findUser(username: string): Promise<PublicUser | undefined> {
    const rows = await this.db.query<UserRow>('SELECT * FROM users WHERE lower(username) = lower($1)', [username]);
    return rows[0] ? toPublic(rows[0]) : undefined;
  }

  async setPassword(username: string, password: string): Promise<void> {
    const h = await argonHash(password);
    const rows = await this.db.query('UPDATE users SET password_hash = $2 WHERE lower(username) = lower($1) RETURNING id', [username, h]);
    if (!rows.length) throw new NotFoundError('user_not_found', `user ${username} not found`);
  }
}
