#!/usr/bin/env node
// Entry of the `classcast` command: runs the TypeScript sources through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
// the worker role's handlers are registered here, at the entry (src/ does not import workers/); loaded
// only for the commands that run it, so admin commands start fast
const argv = process.argv.slice(2);
const startWorkers = ['all', 'worker'].includes(argv[0]) ? (await import('../workers/role.ts')).startWorkerRole : undefined;
const code = await main(argv, { startWorkers });
if (code !== undefined) process.exit(code);
