/** cli/log.ts — the structured logger (pino, JSON lines on stderr so stdout stays data). */
import { pino, type Logger } from 'pino';

export function makeLogger(level = process.env.V2PROBE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { app: 'v2probe' } }, pino.destination({ fd: 2, sync: true }));
}
