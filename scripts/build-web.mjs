#!/usr/bin/env node
// Builds the pages (web/ -> web/dist/) with Vite when the build is missing or stale, and writes a gzip
// and a brotli copy beside each file so the API sends them without compressing per request.
// Stale = the SHA-256 over every source file of web/ (plus the lockfile and the error-code list the
// message catalog is checked against) differs from the one recorded in web/dist/.source-hash. Content,
// not mtimes: a checkout, a rebase or a copy that keeps the content never causes a rebuild, and any
// real change does. Plain Node; runs from setup.mjs (npm run dev, npm test) and from the web tests.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webDir = path.join(root, 'web');
export const distDir = path.join(webDir, 'dist');
const stampFile = path.join(distDir, '.source-hash');
const lockDir = path.join(webDir, '.build-lock');
const extraInputs = ['package-lock.json', 'src/domain/error-codes.ts', 'src/domain/processing-failures.ts'];

async function files(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'dist' || e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

/** The hash of everything the build reads. */
export async function sourceHash() {
  const h = createHash('sha256');
  const list = [...(await files(webDir)), ...extraInputs.map((f) => path.join(root, f)).filter(existsSync)].sort();
  for (const f of list) {
    h.update(path.relative(root, f)).update('\0').update(await readFile(f)).update('\0');
  }
  return h.digest('hex');
}

async function built() {
  try {
    return (await readFile(stampFile, 'utf8')).trim();
  } catch {
    return '';
  }
}

async function lock() {
  for (let i = 0; ; i++) {
    try {
      await mkdir(lockDir);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 300_000) await rm(lockDir, { recursive: true, force: true }); // a crashed build's lock
      else if (i > 1500) throw new Error('web build: another build holds web/.build-lock for too long');
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function precompress(dir) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      await precompress(p);
      continue;
    }
    if (!/\.(js|css|html|svg|json|txt)$/.test(e.name)) continue;
    const body = await readFile(p);
    if (body.length < 512) continue;
    const gz = gzipSync(body, { level: 9 });
    const br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
    if (gz.length < body.length) await writeFile(`${p}.gz`, gz);
    if (br.length < body.length) await writeFile(`${p}.br`, br);
  }
}

/** Builds web/dist unless it is current; returns whether it built. */
export async function ensureWebBuild({ force = false, log = (m) => process.stderr.write(`[web] ${m}\n`) } = {}) {
  const want = await sourceHash();
  if (!force && (await built()) === want) return false;
  await lock();
  try {
    if (!force && (await built()) === want) return false; // built by another process meanwhile
    log('building the pages (vite)');
    const tmp = `${distDir}.tmp-${process.pid}`;
    const { build } = await import('vite');
    await build({ configFile: path.join(webDir, 'vite.config.ts'), build: { outDir: tmp }, logLevel: 'warn' });
    await precompress(tmp);
    await writeFile(path.join(tmp, '.source-hash'), `${want}\n`);
    await rm(distDir, { recursive: true, force: true });
    await rename(tmp, distDir);
    return true;
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  ensureWebBuild({ force: process.argv.includes('--force') }).then(
    (b) => process.stderr.write(`[web] ${b ? 'built' : 'up to date'}: ${path.relative(process.cwd(), distDir)}\n`),
    (err) => {
      process.stderr.write(`[web] build failed: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
