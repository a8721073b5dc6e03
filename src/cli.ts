import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, ConfigError } from '../config/load.ts';
import type { Config } from '../config/config.schema.ts';
import { createLogger, type Logger } from './infra/logger.ts';
import { migrate, openDb, type Db } from './infra/db.ts';
import { startSystem, type Roles, type System } from './system.ts';
import type { StartWorkers } from './roles/worker.role.ts';
import { AuthService } from './services/auth.service.ts';
import { SchoolsService } from './services/schools.service.ts';
import { TaxonomyService } from './services/taxonomy.service.ts';
import { roles as allRoles, type Role } from './domain/types.ts';
import { createRedis } from './infra/redis.ts';

const usage = `classcast: the internet school's video backend

  classcast all [--dev]          every role in one process (embedded defaults); --dev seeds demo data
  classcast api                  catalog API + playback gateway
  classcast ingest               RTMP ingest
  classcast worker               media worker (transcode, live, cable)
  classcast migrate              apply database migrations and exit
  classcast school create --code C --name N --district D [--district-name N] --stage primary|junior|senior|vocational
  classcast user create --username U --role ${allRoles.join('|')} [--school C] [--district D] [--password P] [--name N]
  classcast token create --username U [--ttl-hours H] [--label L]
  classcast token revoke TOKEN_OR_ID

Configuration comes from environment variables (see README.md).`;

/** The composition root: parses the command line and starts what it names. */
export async function main(argv: string[], o: { startWorkers?: StartWorkers } = {}): Promise<number> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  const [cmd, sub, ...rest] = argv;
  switch (cmd) {
    case 'all':
    case 'api':
    case 'worker':
    case 'ingest': {
      const roles: Roles = { api: cmd === 'all' || cmd === 'api', worker: cmd === 'all' || cmd === 'worker', ingest: cmd === 'all' || cmd === 'ingest' };
      const dev = [sub, ...rest].includes('--dev');
      return runRoles(config, log, roles, dev, o.startWorkers);
    }
    case 'migrate': {
      const db = await openConfiguredDb(config);
      const applied = await migrate(db, config.DATABASE_SCHEMA, log);
      process.stdout.write(`applied ${applied.length} migration(s)\n`);
      await db.close();
      return 0;
    }
    case 'school':
    case 'user':
    case 'token':
      return admin(config, cmd, sub, rest);
    default:
      process.stdout.write(`${usage}\n`);
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

async function openConfiguredDb(config: Config): Promise<Db> {
  return openDb({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, poolMax: 2, pgliteDir: path.join(path.resolve(config.DATA_DIR), 'pglite') });
}

async function runRoles(config: Config, log: Logger, roles: Roles, dev: boolean, startWorkers?: StartWorkers): Promise<number> {
  const system = await startSystem({ config, roles, log, startWorkers });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    await system.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (dev && system.apiUrl) await seedDemo(system);
  return new Promise<number>(() => undefined);
}

interface DevCredentials {
  users: { role: Role; school: string | null; username: string; password: string; token: string }[];
  apiUrl: string;
  rtmpUrl: string;
}

const demoUsers: { username: string; role: Role; school?: string; name: string }[] = [
  { username: 'teacher.cy', role: 'teacher', school: 'cy-shiyan-primary', name: '王老师' },
  { username: 'reviewer.cy', role: 'reviewer', school: 'cy-shiyan-primary', name: '李审核' },
  { username: 'teacher.yz', role: 'teacher', school: 'jl-yizhong', name: '张老师' },
  { username: 'reviewer.yz', role: 'reviewer', school: 'jl-yizhong', name: '赵审核' },
  { username: 'operator', role: 'operator', name: '平台运营' },
  { username: 'admin', role: 'admin', name: '系统管理员' },
];

/** First start: a district, two schools of different stages, one user per role; every start: fresh tokens. */
export async function seedDemo(system: System): Promise<DevCredentials> {
  const { services, config } = system;
  const file = path.join(path.resolve(config.DATA_DIR), 'dev-credentials.json');
  const previous = JSON.parse(await readFile(file, 'utf8').catch(() => '{"users":[]}')) as DevCredentials;
  const schools = new Set((await services.schools.list()).map((s) => s.code));
  const district = { districtCode: 'chuanying', districtName: '吉林市船营区' };
  if (!schools.has('cy-shiyan-primary')) await services.schools.createSchoolInDistrict({ code: 'cy-shiyan-primary', name: '船营区实验小学', stage: 'primary', ...district }, 'seed');
  if (!schools.has('jl-yizhong')) await services.schools.createSchoolInDistrict({ code: 'jl-yizhong', name: '吉林市第一中学', stage: 'senior', ...district }, 'seed');
  const users: DevCredentials['users'] = [];
  for (const u of demoUsers) {
    let password = previous.users.find((p) => p.username === u.username)?.password;
    const existing = await services.auth.findUser(u.username);
    if (!existing || !password) {
      password = randomBytes(9).toString('base64url');
      if (existing) await services.auth.setPassword(u.username, password);
      else await services.auth.createUser({ username: u.username, password, role: u.role, schoolCode: u.school, displayName: u.name }, 'seed');
    }
    const user = (await services.auth.findUser(u.username))!;
    const { token } = await services.auth.issueToken(user.id, 'dev', 24 * 30);
    users.push({ role: u.role, school: u.school ?? null, username: u.username, password, token });
  }
  const host = new URL(system.apiUrl!).hostname;
  const creds: DevCredentials = { users, apiUrl: system.apiUrl!, rtmpUrl: config.RTMP_PUBLIC_URL || `rtmp://${host}:${config.RTMP_PORT}/live` };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 });
  const lines = [
    '',
    `classcast is up: API ${creds.apiUrl}  (OpenAPI: ${creds.apiUrl}/api/v1/openapi.json)`,
    `RTMP ingest for OBS: ${creds.rtmpUrl}`,
    'demo users (also in data/dev-credentials.json):',
    ...users.map((u) => `  ${u.role.padEnd(9)} ${u.username.padEnd(12)} password ${u.password}  token ${u.token}${u.school ? `  (${u.school})` : ''}`),
    'Ctrl-C stops everything; data stays under data/.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return creds;
}

async function admin(config: Config, cmd: string, sub: string | undefined, rest: string[]): Promise<number> {
  const db = await openConfiguredDb(config);
  const redis = config.REDIS_URL ? createRedis(config.REDIS_URL) : undefined;
  try {
    await migrate(db, config.DATABASE_SCHEMA);
    const schools = new SchoolsService(db);
    await new TaxonomyService(db).seed();
    // the CLI never logs in, so the throttle's Redis is not needed; a stand-in keeps the type honest
    const auth = new AuthService(db, (redis ?? ({} as never)), { tokenTtlHours: config.AUTH_TOKEN_TTL_HOURS, maxFailures: config.AUTH_LOGIN_MAX_FAILURES, windowS: config.AUTH_LOGIN_WINDOW_S, redisPrefix: config.QUEUE_PREFIX });
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        code: { type: 'string' }, name: { type: 'string' }, district: { type: 'string' }, 'district-name': { type: 'string' }, stage: { type: 'string' },
        username: { type: 'string' }, role: { type: 'string' }, school: { type: 'string' }, password: { type: 'string' },
        'ttl-hours': { type: 'string' }, label: { type: 'string' },
      },
    });
    const need = (k: keyof typeof values): string => {
      const v = values[k];
      if (typeof v !== 'string' || !v) throw new Error(`--${k} is required`);
      return v;
    };
    if (cmd === 'school' && sub === 'create') {
      const s = await schools.createSchoolInDistrict({ code: need('code'), name: need('name'), districtCode: need('district'), districtName: values['district-name'], stage: need('stage') });
      process.stdout.write(`school ${s.code} created (${s.id})\n`);
      return 0;
    }
    if (cmd === 'user' && sub === 'create') {
      const role = need('role') as Role;
      if (!allRoles.includes(role)) throw new Error(`--role must be one of ${allRoles.join(', ')}`);
      const password = values.password ?? randomBytes(12).toString('base64url');
      const u = await auth.createUser({ username: need('username'), password, role, schoolCode: values.school, districtCode: values.district, displayName: values.name });
      process.stdout.write(`user ${u.username} (${u.role}) created${values.password ? '' : `; password: ${password}`}\n`);
      return 0;
    }
    if (cmd === 'token' && sub === 'create') {
      const u = await auth.findUser(need('username'));
      if (!u) throw new Error('no such user');
      const ttl = Number(values['ttl-hours'] ?? 24 * 90);
      if (!Number.isFinite(ttl) || ttl <= 0) throw new Error('--ttl-hours must be a positive number');
      const t = await auth.issueToken(u.id, values.label ?? 'cli', ttl);
      process.stdout.write(`${t.token}\n`);
      process.stderr.write(`token id ${t.id}, expires ${t.expiresAt.toISOString()}\n`);
      return 0;
    }
    if (cmd === 'token' && sub === 'revoke') {
      const target = positionals[0];
      if (!target) throw new Error('give the token or its id');
      const ok = await auth.revokeToken(target);
      process.stdout.write(ok ? 'revoked\n' : 'no such active token\n');
      return ok ? 0 : 1;
    }
    process.stdout.write(`${usage}\n`);
    return 2;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return 1;
  } finally {
    redis?.disconnect();
    await db.close();
  }
}
