/**
 * `classcast worker` in a child process for the live failover test: the worker role of startSystem
 * with the configuration from the environment (the test passes its own config plus the ingest's
 * RTMP_PORT and RTMP_WORKER_PLAY_TOKEN). Prints "ready" once running; SIGTERM stops it.
 */
import { startWorkerRole } from '../../workers/role.ts';
import { loadConfig } from '../../config/load.ts';
import { startSystem } from '../../src/system.ts';

const config = loadConfig();
const sys = await startSystem({ config, roles: { api: false, ingest: false, worker: true }, startWorkers: startWorkerRole });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void sys.stop().finally(() => process.exit(0));
});
