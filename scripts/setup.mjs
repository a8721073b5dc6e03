#!/usr/bin/env node
// Installs what classcast needs on a fresh Debian machine: npm packages, then ffmpeg and redis-server
// (chromium for the browser tests; nginx, and PostgreSQL's server when a private cluster is needed, for
// `npm run fleet` and its fault tests) through apt-get when they are missing. Plain Node, no deps.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--test');
const forFleet = process.argv.includes('--fleet');
const log = (m) => process.stderr.write(`[setup] ${m}\n`);

const answers = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.setTimeout(2000, () => { s.destroy(); resolve(false); });
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  return r.status === 0;
}

// 1. npm packages (node_modules missing or older than the lockfile)
const lock = path.join(root, 'package-lock.json');
const marker = path.join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || (existsSync(lock) && (await import('node:fs')).statSync(lock).mtimeMs > (await import('node:fs')).statSync(marker).mtimeMs + 1000)) {
  log('installing npm packages');
  if (!run('npm', [existsSync(lock) ? 'ci' : 'install', '--no-audit', '--no-fund'])) {
    log('npm install failed');
    process.exit(1);
  }
}

// 2. system packages
const wanted = [
  ['ffmpeg', 'ffmpeg'],
  ['ffprobe', 'ffmpeg'],
  ['redis-server', 'redis-server'],
];
if (forTests) {
  wanted.push(['chromium', 'chromium']);
  // the pages' screenshots need a Chinese font to be readable (phones have one; a server may not)
  const cjk = spawnSync('fc-list', [':lang=zh'], { encoding: 'utf8' });
  if (cjk.status === 0 && !cjk.stdout.trim()) wanted.push(['', 'fonts-wqy-microhei']);
}
if (forFleet || forTests) {
  // npm run fleet and its fault tests: nginx as the edge; PostgreSQL's server binaries when the fleet
  // needs a private cluster (none configured or answering; the tests restart one of their own)
  wanted.push(['nginx', 'nginx']);
  const pgServer = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(path.join('/usr/lib/postgresql', v, 'bin', 'postgres')));
  const needPrivate = forTests || (!process.env.DATABASE_URL && !(await answers(5432)));
  if (!pgServer && needPrivate) wanted.push(['', 'postgresql']); // no server binaries: missing whatever is on PATH
}
const missing = [...new Set(wanted.filter(([cmd]) => !cmd || !has(cmd)).map(([, pkg]) => pkg))];
if (missing.length) {
  const isRoot = process.getuid?.() === 0;
  const sudo = !isRoot && has('sudo') ? ['sudo', '-n'] : [];
  if (has('apt-get') && (isRoot || sudo.length)) {
    log(`installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const [c, ...pre] = sudo.length ? sudo : ['apt-get'];
    const aptArgs = (a) => (sudo.length ? [...pre, 'apt-get', ...a] : a);
    let ok = run(c, aptArgs(['install', '-y', '-qq', '--no-install-recommends', ...missing]), { env });
    if (!ok) {
      run(c, aptArgs(['update', '-qq']), { env });
      ok = run(c, aptArgs(['install', '-y', '-qq', '--no-install-recommends', ...missing]), { env });
    }
    if (!ok) {
      log(`could not install ${missing.join(', ')}; install them yourself: apt-get install ${missing.join(' ')}`);
      process.exit(1);
    }
  } else {
    log(`missing programs: ${missing.join(', ')}. Install them (Debian/Ubuntu: sudo apt-get install ${missing.join(' ')}; macOS: brew install ${missing.join(' ').replace('redis-server', 'redis')}) and run again.`);
    process.exit(1);
  }
}

// 3. the pages (web/ -> web/dist/), when missing or their sources changed
try {
  await (await import('./build-web.mjs')).ensureWebBuild({ log });
} catch (err) {
  log(`building the pages failed: ${err.stack ?? err}`);
  process.exit(1);
}
