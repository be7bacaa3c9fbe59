// Test runner configuration: every test under test/, run serially because the
// probe tests share the kernel (one machine, global counters like /proc/stat),
// with the services they need started first (test/helpers/services.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kafka and a ClickHouse server for the pipeline and server-store tests (given, containers, or local scripts)
    globalSetup: ['test/helpers/services.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
