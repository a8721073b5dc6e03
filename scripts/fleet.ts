// npm run fleet: classcast in its production shape on this machine, each part its own OS process
// (scripts/lib/fleet.ts): PostgreSQL, Redis with AOF, the S3 server, two API processes, two workers,
// one ingest and nginx as the edge. Prints where everything is and demo users; Ctrl-C stops it all.
//
//   npm run fleet -- [--apis N] [--workers N] [--no-ingest] [--no-edge] [--postgres auto|machine|private] [--dir D] [--keep]
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import { startSystem } from '../src/system.ts';
import { seedDemo } from '../src/cli.ts';
import { startFleet, type FleetOptions } from './lib/fleet.ts';

const { values } = parseArgs({
  options: {
    apis: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    'no-ingest': { type: 'boolean', default: false },
    'no-edge': { type: 'boolean', default: false },
    postgres: { type: 'string', default: 'auto' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
  },
});
const count = (v: string | undefined, name: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error(`--${name} must be a whole number from 0 to 16`);
  return n;
};
if (!['auto', 'machine', 'private'].includes(values.postgres!)) throw new Error('--postgres must be auto, machine or private');

const say = (m: string) => process.stdout.write(`${m}\n`);
say('starting the classcast fleet...');
const fleet = await startFleet({
  apis: count(values.apis, 'apis'),
  workers: count(values.workers, 'workers'),
  ingest: !values['no-ingest'],
  edge: !values['no-edge'],
  postgres: values.postgres as FleetOptions['postgres'],
  dir: values.dir,
  keep: values.keep,
  logLevel: values['log-level'],
  onEvent: (m) => say(`[fleet] ${m}`),
});

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`\n${signal}: stopping every part...`);
  await fleet.stop();
  say('stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGHUP', () => void stop('SIGHUP'));

// demo schools and users, as `npm run dev` has them (written to <dir>/fleet/dev-credentials.json)
const config = loadConfig({}, { ...fleet.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', DATA_DIR: `${fleet.dir}/fleet` });
const sys = await startSystem({ config, roles: { api: false, worker: false, ingest: false } });
try {
  await seedDemo({ ...sys, apiUrl: fleet.publicUrl });
} finally {
  await sys.stop();
}
for (const line of fleet.describe()) say(line);
say(values.keep || values.dir ? `data stays in ${fleet.dir}` : 'Ctrl-C stops everything and removes its data.');
