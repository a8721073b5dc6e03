import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // two cores: ffmpeg-heavy files must not all run at once
    maxWorkers: 2,
    fileParallelism: true,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
