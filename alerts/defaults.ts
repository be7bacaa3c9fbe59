/** alerts/defaults.ts — where the default rule pack lives (alerts/rules/, also when running from dist/). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function find(): string {
  for (const rel of ['./rules', '../../alerts/rules']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return fileURLToPath(new URL('./rules', import.meta.url));
}
export const DEFAULT_RULES_DIR = find();
