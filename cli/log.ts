/**
 * cli/log.ts — the structured logger (pino) on stderr, so stdout stays data.
 * Piped, redirected or under systemd: JSON lines. On a terminal (stderr is a
 * TTY, V2PROBE_LOG_FORMAT not `json`): short human lines (pino-pretty: time,
 * level, message, then the fields on one line, long lists summarised as
 * "N items: a, b, c, …"), written above the live view (cli/tty.ts) so that a
 * log line never tears the view.
 */
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { writeAbove } from './tty.js';

/** Lists longer than this are summarised on a terminal. */
const LIST_MAX = 6;
const FIELD_MAX = 160;

/** On a terminal, long values become short: lists summarised, long text cut. */
export function summarise(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > LIST_MAX ? `${v.length} items: ${v.slice(0, 3).map(String).join(', ')}, …` : v.map(summarise);
  if (typeof v === 'string') return v.length > FIELD_MAX ? `${v.slice(0, FIELD_MAX)}… (${v.length} chars)` : v;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, summarise(x)]));
  return v;
}

export function humanLogs(): boolean {
  const f = process.env.V2PROBE_LOG_FORMAT;
  return f === 'pretty' || (f !== 'json' && process.stderr.isTTY === true);
}

export function makeLogger(level = process.env.V2PROBE_LOG_LEVEL ?? 'info'): Logger {
  if (!humanLogs()) return pino({ level, base: { app: 'v2probe' } }, pino.destination({ fd: 2, sync: true }));
  const pretty = prettyFactory({ colorize: process.stderr.isTTY === true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname,app', singleLine: true });
  return pino(
    { level, base: { app: 'v2probe' } },
    {
      write(line: string) {
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(line) as Record<string, unknown>;
        } catch {
          writeAbove(line);
          return;
        }
        writeAbove(pretty(summarise(obj) as Record<string, unknown>));
      },
    },
  );
}
