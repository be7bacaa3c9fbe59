#!/usr/bin/env node
// v2probe entry point: runs the compiled CLI (dist/, built by `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('v2probe: not built yet (dist/cli/main.js missing): run `npm run build`\n');
  process.exit(1);
}
await import(main.href);
