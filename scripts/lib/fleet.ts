/**
 * The one launcher of classcast's production shape on one machine (issue 13; the read-path bench starts
 * its API processes behind nginx with it too): PostgreSQL, Redis with AOF, the S3 server, N API
 * processes, M workers, an ingest and nginx as the edge, each its own OS process on free loopback
 * ports, logs under `<dir>/logs/`. Every part can be stopped, killed and started again on the same port
 * and data, which is what the fault tests do.
 *
 * Our own code rather than a process manager's: the parts are this project's commands and Debian's
 * servers started as plain children, and what a fault test needs (kill one part, start it again on the
 * same port, wait for a log line) is a few dozen lines here.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../../src/infra/embedded.ts';
import { Part, portAnswers, sleep, type PartSpec } from './fleet-part.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const s3Child = path.join(root, 'src/infra/s3rver.child.mjs');
const cliEntry = path.join(root, 'scripts/classcast.mjs');

export interface FleetOptions {
  /** API processes behind the edge (default 2). */
  apis?: number;
  /** Worker processes (default 2). */
  workers?: number;
  /** One ingest process (default true). */
  ingest?: boolean;
  /** nginx in front of the API processes (default true). */
  edge?: boolean;
  /**
   * `machine`: DATABASE_URL, else 127.0.0.1:5432, with a schema of its own (dropped at stop);
   * `private`: a cluster of our own through Debian's postgresql (a test that restarts PostgreSQL
   * must not disturb the machine's); `auto` (default): machine when one answers, else private.
   */
  postgres?: 'auto' | 'machine' | 'private';
  /** Directory for data and logs; default a new temp dir, removed at stop unless `keep`. */
  dir?: string;
  keep?: boolean;
  /** Environment (config keys) for every classcast process, over the fleet's own. */
  env?: Record<string, string>;
  /** Environment for the API, worker or ingest processes only, over `env`; a function gets the index. */
  apiEnv?: Record<string, string> | ((i: number) => Record<string, string>);
  workerEnv?: Record<string, string> | ((i: number) => Record<string, string>);
  ingestEnv?: Record<string, string>;
  /** Node flags of the API processes (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
  apiNodeFlags?: string[];
  /** LOG_LEVEL of the classcast processes (default info). */
  logLevel?: string;
  /** Told about parts exiting on their own (e.g. printed by `npm run fleet`). */
  onEvent?: (message: string) => void;
}

export interface Fleet {
  dir: string;
  /** The configuration every classcast process shares (URLs, secrets, schema, prefixes). */
  env: Record<string, string>;
  postgres: { url: string; schema: string; kind: 'machine' | 'private'; part?: Part };
  redis: Part & { url?: string };
  redisUrl: string;
  s3: Part;
  s3Endpoint: string;
  apis: Part[];
  apiUrls: string[];
  workers: Part[];
  ingest?: Part;
  rtmpUrl?: string;
  edge?: Part;
  edgeUrl?: string;
  /** Where students and staff go: the edge, or the first API without one. */
  publicUrl: string;
  /** Starts one more worker (same config, its own work dir unless env names one). */
  addWorker(env?: Record<string, string>): Promise<Part>;
  /** Every part, in start order. */
  parts(): Part[];
  /** Lines saying where everything is. */
  describe(): string[];
  stop(): Promise<void>;
}

/** Starts the fleet; on any failure stops what it started and throws with the failing part's output. */
export async function startFleet(o: FleetOptions = {}): Promise<Fleet> {
  const dir = o.dir ? path.resolve(o.dir) : await mkdtemp(path.join(os.tmpdir(), 'classcast-fleet-'));
  await mkdir(path.join(dir, 'logs'), { recursive: true });
  const started: Part[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const emit = o.onEvent ?? (() => undefined);
  const make = (spec: PartSpec): Part => {
    const p = new Part(spec, path.join(dir, 'logs', `${spec.name}.log`));
    p.onUnexpectedExit = (code, signal) => emit(`${spec.name} exited on its own (code ${code}, signal ${signal}); log: ${p.logFile}`);
    started.push(p);
    return p;
  };
  let stopped = false;
  const killAllNow = () => {
    for (const p of started) if (p.pid) process.kill(p.pid, 'SIGKILL');
  };
  process.once('exit', killAllNow);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const order = [...started].reverse();
    // classcast processes first, together; then the engines underneath, one by one
    const roles = order.filter((p) => /^(edge|api|worker|ingest)/.test(p.name));
    await Promise.all(roles.map((p) => p.stop().catch(() => undefined)));
    for (const p of order) if (!roles.includes(p)) await p.stop().catch(() => undefined);
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    for (const p of started) p.closeLog();
    process.removeListener('exit', killAllNow);
    if (!o.keep && !o.dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    // engines underneath, in parallel
    const [pgInfo, redis, s3] = await Promise.all([startPostgres(o, dir, make, cleanups), startRedis(dir, make), startS3(dir, make)]);

    const rtmpPort = o.ingest === false ? 0 : await freePort();
    const apiPorts = await Promise.all(Array.from({ length: o.apis ?? 2 }, () => freePort()));
    const edgePort = o.edge === false || apiPorts.length === 0 ? 0 : await freePort();
    const apiUrls = apiPorts.map((p) => `http://127.0.0.1:${p}`);
    const edgeUrl = edgePort ? `http://127.0.0.1:${edgePort}` : undefined;
    const publicUrl = edgeUrl ?? apiUrls[0] ?? '';
    const rtmpUrl = rtmpPort ? `rtmp://127.0.0.1:${rtmpPort}/live` : undefined;

    const env = fleetEnv(o, { postgres: pgInfo, redisUrl: redis.url, s3Url: s3.url, rtmpPort, rtmpUrl, publicUrl });
    const pick = (e: FleetOptions['apiEnv'], i: number) => (typeof e === 'function' ? e(i) : e ?? {});
    const roleEnv = (role: string, extra: Record<string, string>): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? os.tmpdir(),
      ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
      ...env,
      DATA_DIR: path.join(dir, role),
      ...extra,
    });
    const rolePart = (name: string, role: 'api' | 'worker' | 'ingest', e: NodeJS.ProcessEnv, ready: Partial<PartSpec>): Part =>
      make({ name, cmd: process.execPath, args: [...(role === 'api' ? o.apiNodeFlags ?? [] : []), cliEntry, role], env: e, graceMs: 25_000, ...ready });

    // the classcast processes: the first API migrates alone (advisory lock or not, a quiet start), then the rest together
    const apis = apiPorts.map((port, i) =>
      rolePart(`api-${i + 1}`, 'api', roleEnv(`api-${i + 1}`, { HTTP_PORT: String(port), ...pick(o.apiEnv, i) }), {
        port,
        probe: async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true,
      }),
    );
    let workerCount = 0;
    const workerPart = (extra: Record<string, string>): Part => {
      workerCount += 1;
      const name = `worker-${workerCount}`;
      return rolePart(name, 'worker', roleEnv(name, { WORK_DIR: path.join(dir, name, 'work'), ...extra }), { readyLine: /"msg":"worker ready"/ });
    };
    const workers = Array.from({ length: o.workers ?? 2 }, (_, i) => workerPart(pick(o.workerEnv, i)));
    const ingest = rtmpPort
      ? rolePart('ingest', 'ingest', roleEnv('ingest', o.ingestEnv ?? {}), { port: rtmpPort, readyLine: /RTMP ingest listening/ })
      : undefined;
    for (const w of workers) await mkdir(path.join(dir, w.name, 'work'), { recursive: true });
    const first = apis[0] ?? workers[0] ?? ingest;
    if (first) await first.start();
    await Promise.all([...apis, ...workers, ...(ingest ? [ingest] : [])].filter((p) => p !== first).map((p) => p.start()));

    const edge = edgePort ? await startEdge(dir, edgePort, apiPorts, make) : undefined;

    const fleet: Fleet = {
      dir,
      env,
      postgres: pgInfo,
      redis,
      redisUrl: redis.url,
      s3,
      s3Endpoint: s3.url,
      apis,
      apiUrls,
      workers,
      ingest,
      rtmpUrl,
      edge,
      edgeUrl,
      publicUrl,
      addWorker: async (extra = {}) => {
        const w = workerPart(extra);
        await mkdir(path.join(dir, w.name, 'work'), { recursive: true });
        await w.start();
        workers.push(w);
        return w;
      },
      parts: () => [...started],
      describe: () => describeFleet(fleet),
      stop,
    };
    return fleet;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The environment every classcast process of the fleet shares (each adds its DATA_DIR and role settings). */
function fleetEnv(o: FleetOptions, at: { postgres: Fleet['postgres']; redisUrl: string; s3Url: string; rtmpPort: number; rtmpUrl?: string; publicUrl: string }): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: o.logLevel ?? 'info',
    DATABASE_URL: at.postgres.url,
    DATABASE_SCHEMA: at.postgres.schema,
    REDIS_URL: at.redisUrl,
    QUEUE_PREFIX: 'classcast',
    S3_ENDPOINT: at.s3Url,
    S3_ACCESS_KEY: 'S3RVER',
    S3_SECRET_KEY: 'S3RVER',
    S3_BUCKET_PREFIX: '',
    SIGNING_SECRET: randomBytes(32).toString('hex'),
    RTMP_WORKER_PLAY_TOKEN: randomBytes(32).toString('base64url'),
    RTMP_HOST: '127.0.0.1',
    RTMP_PORT: String(at.rtmpPort || 1935),
    RTMP_PULL_HOST: '127.0.0.1',
    ...(at.rtmpUrl ? { RTMP_PUBLIC_URL: at.rtmpUrl } : {}),
    PUBLIC_BASE_URL: at.publicUrl,
    HTTP_HOST: '127.0.0.1',
    CABLE_PROVIDER_ID: 'fleet.classcast.lan',
    CABLE_QA_CONTACT: 'cable-qa@fleet.classcast.lan',
    ...(o.env ?? {}),
  };
}

/** Lines saying where every part of a running fleet is. */
function describeFleet(f: Fleet): string[] {
  const { dir, edge, edgeUrl, apis, apiUrls, ingest, rtmpUrl, workers, postgres, redis, s3 } = f;
  const s3Url = f.s3Endpoint;
  return [
    `classcast fleet in ${dir} (logs: ${path.join(dir, 'logs')})`,
    ...(edge ? [`  edge (nginx)      ${edgeUrl}   pid ${edge.pid}  -> ${apiUrls.join(', ')}`] : []),
    ...apis.map((a, i) => `  ${a.name.padEnd(17)} ${apiUrls[i]}   pid ${a.pid}`),
    ...(ingest ? [`  ingest (RTMP)     ${rtmpUrl}   pid ${ingest.pid}`] : []),
    ...workers.map((w) => `  ${w.name.padEnd(17)} pid ${w.pid}  work dir ${path.join(dir, w.name, 'work')}`),
    `  PostgreSQL        ${redactUrl(postgres.url)} schema ${postgres.schema} (${postgres.kind === 'private' ? `private cluster, pid ${postgres.part?.pid}` : "the machine's"})`,
    `  Redis (AOF)       ${f.redisUrl}   pid ${redis.pid}  data ${path.join(dir, 'redis')}`,
    `  S3 server         ${s3Url}   pid ${s3.pid}  data ${path.join(dir, 's3')}`,
  ];
}

function redactUrl(u: string): string {
  return u.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

// ---------------------------------------------------------------------------------------------
// The engines underneath.

type Make = (spec: PartSpec) => Part;

async function startRedis(dir: string, make: Make): Promise<Part & { url: string }> {
  const port = await freePort();
  const data = path.join(dir, 'redis');
  await mkdir(data, { recursive: true });
  const part = make({
    name: 'redis',
    cmd: 'redis-server',
    // AOF as in docker-compose.yml: queued jobs survive a restart; BullMQ needs noeviction
    args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--protected-mode', 'yes'],
    port,
    graceMs: 10_000,
  });
  await part.start();
  return Object.assign(part, { url: `redis://127.0.0.1:${port}/0` });
}

async function startS3(dir: string, make: Make): Promise<Part & { url: string }> {
  const port = await freePort();
  const data = path.join(dir, 's3');
  await mkdir(data, { recursive: true });
  const part = make({ name: 's3', cmd: process.execPath, args: [s3Child, String(port), data], port, graceMs: 5_000 });
  await part.start();
  return Object.assign(part, { url: `http://127.0.0.1:${port}` });
}

async function startPostgres(o: FleetOptions, dir: string, make: Make, cleanups: (() => Promise<void>)[]): Promise<Fleet['postgres']> {
  const want = o.postgres ?? 'auto';
  if (want !== 'private') {
    const url = process.env.DATABASE_URL || ((await portAnswers(5432)) ? 'postgres://postgres@127.0.0.1:5432/postgres' : '');
    if (url) {
      const schema = `fleet_${randomBytes(4).toString('hex')}`;
      if (!o.keep) {
        cleanups.push(async () => {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
        });
      }
      return { url, schema, kind: 'machine' };
    }
    if (want === 'machine') throw new Error('no PostgreSQL: set DATABASE_URL or run one on 127.0.0.1:5432');
  }
  const bin = postgresBinDir();
  const data = path.join(dir, 'pg');
  const sock = path.join(dir, 'pg-socket');
  // initdb and postgres refuse to run as root: a root launcher runs them as the `postgres` user
  const asUser = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  await mkdir(data, { recursive: true, mode: 0o700 });
  await mkdir(sock, { recursive: true });
  if (asUser) {
    await chmod(dir, 0o711);
    await chown(data, asUser.uid, asUser.gid);
    await chown(sock, asUser.uid, asUser.gid);
  }
  if (!existsSync(path.join(data, 'PG_VERSION'))) {
    const r = spawnSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], { uid: asUser?.uid, gid: asUser?.gid, encoding: 'utf8', cwd: os.tmpdir() });
    if (r.status !== 0) throw new Error(`initdb failed: ${r.error?.message ?? ''}${r.stderr}`);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const part = make({
    name: 'postgres',
    cmd: path.join(bin, 'postgres'),
    args: ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${sock}`, '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    cwd: os.tmpdir(),
    uid: asUser?.uid,
    gid: asUser?.gid,
    port,
    probe: async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
    // SIGTERM would wait for every client to leave; SIGINT is PostgreSQL's fast shutdown
    stopSignal: 'SIGINT',
    graceMs: 15_000,
  });
  await part.start();
  return { url, schema: 'classcast', kind: 'private', part };
}

/** Debian's postgresql binaries (/usr/lib/postgresql/<newest>/bin), else the directory of `initdb` on PATH. */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(base, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return path.dirname(which.stdout.trim());
  throw new Error('PostgreSQL server binaries not found: run `npm run setup -- --fleet` (installs Debian\'s postgresql) or set DATABASE_URL');
}

function systemUser(name: string): { uid: number; gid: number } {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error(`no system user ${name} to run PostgreSQL as (install Debian's postgresql package)`);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

// ---------------------------------------------------------------------------------------------
// The edge: deploy/nginx.conf with our ports and paths.

/**
 * deploy/nginx.conf made runnable here: the upstream names our API ports, it listens on a loopback
 * port, and its cache, temp files, logs and pid live under `edgeDir`. Throws when the file no longer
 * has what is replaced, so a change there cannot silently leave the fleet on the compose file's names.
 */
export function renderNginxConf(conf: string, o: { port: number; apiPorts: number[]; edgeDir: string; logDir: string; asRoot: boolean }): string {
  const replace = (s: string, re: RegExp, by: string, what: string): string => {
    if (!re.test(s)) throw new Error(`deploy/nginx.conf: ${what} not found (the fleet's rendering needs updating)`);
    return s.replace(re, by);
  };
  let c = conf;
  c = replace(c, /server\s+api:8080\s*;/, o.apiPorts.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join(' '), 'upstream server api:8080');
  c = replace(c, /listen\s+80\s*;/, `listen 127.0.0.1:${o.port};`, 'listen 80');
  c = replace(c, /\/var\/cache\/nginx/g, path.join(o.edgeDir, 'cache'), 'cache path /var/cache/nginx');
  const t = (n: string) => path.join(o.edgeDir, 'tmp', n);
  c = replace(
    c,
    /http\s*\{/,
    `http {\n  access_log ${path.join(o.logDir, 'edge-access.log')};\n  client_body_temp_path ${t('body')};\n  proxy_temp_path ${t('proxy')};\n  fastcgi_temp_path ${t('fastcgi')};\n  uwsgi_temp_path ${t('uwsgi')};\n  scgi_temp_path ${t('scgi')};\n`,
    'http block',
  );
  const main = [`pid ${path.join(o.edgeDir, 'nginx.pid')};`, `error_log ${path.join(o.logDir, 'edge-error.log')} warn;`, ...(o.asRoot ? ['user root root;'] : [])];
  return `${main.join('\n')}\n${c}`;
}

async function startEdge(dir: string, port: number, apiPorts: number[], make: Make): Promise<Part> {
  const edgeDir = path.join(dir, 'edge');
  await mkdir(path.join(edgeDir, 'cache'), { recursive: true });
  await mkdir(path.join(edgeDir, 'tmp'), { recursive: true });
  const conf = renderNginxConf(await readFile(path.join(root, 'deploy/nginx.conf'), 'utf8'), { port, apiPorts, edgeDir, logDir: path.join(dir, 'logs'), asRoot: process.getuid?.() === 0 });
  const file = path.join(edgeDir, 'nginx.conf');
  await writeFile(file, conf);
  const part = make({
    name: 'edge',
    cmd: nginxBinary(),
    args: ['-p', `${edgeDir}/`, '-c', file, '-e', path.join(dir, 'logs', 'edge-error.log'), '-g', 'daemon off;'],
    port,
    stopSignal: 'SIGTERM',
    graceMs: 5_000,
  });
  await part.start();
  return part;
}

function nginxBinary(): string {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('nginx not found: run `npm run setup -- --fleet` (installs Debian\'s nginx)');
}
