/**
 * cli/errors.ts — how failures become exit codes: 2 for bad input (usage,
 * DSN, probe name, pid, ...), 1 for runtime failures (kernel, store, I/O).
 * Messages are one line, naming what was wrong and where; no stack traces.
 */
import { StoreError } from '../store/errors.js';
import { KernelError } from '../collector/errors.js';
import { KafkaError } from '../kafka/client.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof StoreError && (err.code === 'BAD_DSN' || err.code === 'UNREACHABLE' || err.code === 'AUTH')) return 2;
  if (err instanceof KafkaError && ['BAD_ADDRESS', 'BAD_OPTION', 'UNREACHABLE', 'AUTH', 'TLS', 'NO_TOPIC'].includes(err.code)) return 2;
  return 1;
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n').map((l) => l.trimEnd()).filter(Boolean).join('\n  ');
  return String(err);
}

export { StoreError, KernelError };
