// Test runner configuration: every test under test/, run serially because the
// probe tests share the kernel (one machine, global counters like /proc/stat).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
