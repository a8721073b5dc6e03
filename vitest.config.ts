import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit+integration',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          // two cores: at most two files at once
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // each end-to-end file runs a whole system with ffmpeg encoders in real time: one at a time,
          // after the rest, so that no other file's load starves their live encoders
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          // each file runs a whole fleet of processes (scripts/lib/fleet.ts) and breaks parts of it:
          // one at a time, after everything else
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
