import type { Queryable } from './db.ts';
import { likeEscape } from './text-search.ts';
import type { Principal, Role } from '../domain/types.ts';

/** A staff member as the API shows them. */
export interface PublicUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  schoolId: string | null;
  districtId: string | null;
}

/** A staff member as the admin console lists them. */
export interface AdminUser extends PublicUser {
  disabled: boolean;
  createdAt: string;
  activeTokens: number;
  school: { id: string; code: string; name: string } | null;
}

/** What a login is checked against. */
export interface UserCredentials {
  user: PublicUser;
  passwordHash: string;
  disabled: boolean;
  schoolDisabled: boolean;
}

export interface TokenInfo {
  id: string;
  label: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
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

const toPublic = (u: UserRow): PublicUser => ({ id: u.id, username: u.username, displayName: u.display_name, role: u.role, schoolId: u.school_id, districtId: u.district_id });

/** The user of a username (any case) with the password hash and whether they or their school are disabled. */
export async function findCredentials(q: Queryable, username: string): Promise<UserCredentials | undefined> {
  const rows = await q.query<UserRow & { school_disabled: boolean }>(
    'SELECT u.*, coalesce(s.disabled, false) school_disabled FROM users u LEFT JOIN schools s ON s.id = u.school_id WHERE lower(u.username) = lower($1)',
    [username],
  );
  const u = rows[0];
  return u && { user: toPublic(u), passwordHash: u.password_hash, disabled: u.disabled, schoolDisabled: u.school_disabled };
}

/** The user of a username (any case), or undefined. */
export async function findUserByUsername(q: Queryable, username: string): Promise<PublicUser | undefined> {
  const rows = await q.query<UserRow>('SELECT * FROM users WHERE lower(username) = lower($1)', [username]);
  return rows[0] ? toPublic(rows[0]) : undefined;
}

/** Whether a username (any case) is taken. */
export async function usernameTaken(q: Queryable, username: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM users WHERE lower(username) = lower($1)', [username])).length > 0;
}

/** Whether a user id exists. */
export async function userExists(q: Queryable, userId: string): Promise<boolean> {
  return (await q.query('SELECT 1 FROM users WHERE id = $1', [userId])).length > 0;
}

/** Whether the user is disabled (undefined: no such user); `lock` holds the row until the transaction ends. */
export async function userDisabled(q: Queryable, userId: string, lock = false): Promise<boolean | undefined> {
  const rows = await q.query<{ disabled: boolean }>(`SELECT disabled FROM users WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [userId]);
  return rows[0]?.disabled;
}

export async function insertUser(q: Queryable, u: Omit<PublicUser, 'id'> & { id: string; passwordHash: string }): Promise<void> {
  await q.query(
    'INSERT INTO users (id, username, display_name, password_hash, role, school_id, district_id) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [u.id, u.username, u.displayName, u.passwordHash, u.role, u.schoolId, u.districtId],
  );
}

export async function setUserDisabled(q: Queryable, userId: string, disabled: boolean): Promise<void> {
  await q.query('UPDATE users SET disabled = $2 WHERE id = $1', [userId, disabled]);
}

/** Stores a new password hash; false when there is no such user. */
export async function setPasswordHash(q: Queryable, by: { id: string } | { username: string }, hash: string): Promise<boolean> {
  const rows = 'id' in by
    ? await q.query('UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id', [by.id, hash])
    : await q.query('UPDATE users SET password_hash = $2 WHERE lower(username) = lower($1) RETURNING id', [by.username, hash]);
  return rows.length > 0;
}

/** The signed-in person's name and school, or undefined. */
export async function findProfile(q: Queryable, userId: string): Promise<{ displayName: string; school: { id: string; code: string; name: string; stage: string } | null } | undefined> {
  const rows = await q.query<{ display_name: string; s_id: string | null; s_code: string | null; s_name: string | null; s_stage: string | null }>(
    'SELECT u.display_name, s.id s_id, s.code s_code, s.name s_name, s.stage s_stage FROM users u LEFT JOIN schools s ON s.id = u.school_id WHERE u.id = $1',
    [userId],
  );
  const r = rows[0];
  return r && { displayName: r.display_name, school: r.s_id ? { id: r.s_id, code: r.s_code!, name: r.s_name!, stage: r.s_stage! } : null };
}

/** Users newest first, optionally of one school or role or matching a name, with their active token count. */
export async function listUsers(q: Queryable, f: { schoolId?: string; role?: Role; q?: string; limit: number }): Promise<AdminUser[]> {
  const where: string[] = ['true'];
  const params: unknown[] = [];
  if (f.schoolId) { params.push(f.schoolId); where.push(`u.school_id = $${params.length}`); }
  if (f.role) { params.push(f.role); where.push(`u.role = $${params.length}`); }
  if (f.q) { params.push(`%${likeEscape(f.q)}%`); where.push(`(u.username ILIKE $${params.length} OR u.display_name ILIKE $${params.length})`); }
  params.push(f.limit);
  const rows = await q.query<UserRow & { created_at: Date; s_code: string | null; s_name: string | null; tokens: number }>(
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

// ---- tokens (only their SHA-256 is stored) -------------------------------------------------

export async function insertToken(q: Queryable, t: { id: string; userId: string; tokenHash: string; label: string; expiresAt: Date }): Promise<void> {
  await q.query('INSERT INTO auth_tokens (id, user_id, token_hash, label, expires_at) VALUES ($1, $2, $3, $4, $5)', [t.id, t.userId, t.tokenHash, t.label, t.expiresAt]);
}

/** The principal of a token hash while the token is unrevoked and unexpired and neither user nor school is disabled. */
export async function findActivePrincipal(q: Queryable, tokenHash: string): Promise<Principal | undefined> {
  const rows = await q.query<UserRow>(
    `SELECT u.* FROM auth_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN schools s ON s.id = u.school_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND NOT u.disabled AND NOT coalesce(s.disabled, false)`,
    [tokenHash],
  );
  const u = rows[0];
  return u && { userId: u.id, username: u.username, role: u.role, schoolId: u.school_id, districtId: u.district_id };
}

/** Revokes one token given its hash or its id; false when there was no such unrevoked token. */
export async function revokeToken(q: Queryable, by: { tokenHash: string } | { id: string }): Promise<boolean> {
  const rows = 'tokenHash' in by
    ? await q.query('UPDATE auth_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id', [by.tokenHash])
    : await q.query('UPDATE auth_tokens SET revoked_at = now() WHERE id::text = $1 AND revoked_at IS NULL RETURNING id', [by.id]);
  return rows.length > 0;
}

/** Revokes every unrevoked token of a user; how many there were. */
export async function revokeUserTokens(q: Queryable, userId: string): Promise<number> {
  return (await q.query('UPDATE auth_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id', [userId])).length;
}

/** A user's latest 100 tokens, newest first (never their secrets). */
export async function listTokens(q: Queryable, userId: string): Promise<TokenInfo[]> {
  const rows = await q.query<{ id: string; label: string; created_at: Date; expires_at: Date; revoked_at: Date | null }>(
    'SELECT id, label, created_at, expires_at, revoked_at FROM auth_tokens WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100',
    [userId],
  );
  return rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at.toISOString(), expiresAt: r.expires_at.toISOString(), revokedAt: r.revoked_at?.toISOString() ?? null }));
}
