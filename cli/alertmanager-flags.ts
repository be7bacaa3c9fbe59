/**
 * cli/alertmanager-flags.ts — the `--alertmanager*` flags of `v2probe alerts`
 * and `v2probe up`, turned into an AlertmanagerConfig that is checked at
 * start-up (URLs, auth, TLS files): a bad one is a usage error (exit 2).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AlertmanagerClient, AlertmanagerConfigError, parseAlertmanagerUrl, type AlertmanagerConfig } from '../alerts/alertmanager.js';
import { redactDsn } from '../store/dsn.js';
import { UsageError } from './errors.js';
import { checkedOption, listOption, parseDuration, parseHostname, parseReadableFile, type FlagParser } from './parse.js';

/** `--alertmanager URL`: an Alertmanager base URL (http(s), a host, no query; user:password@ is basic auth, never echoed). */
const alertmanagerUrl: FlagParser = (flag, text) => {
  try {
    return parseAlertmanagerUrl(text);
  } catch (e) {
    if (e instanceof AlertmanagerConfigError) throw new UsageError(`${flag}: ${redactDsn(e.message)}`);
    throw e;
  }
};

/** A basic-auth user id: not empty, no ':' (RFC 7617), no control characters. */
const basicAuthUser: FlagParser = (flag, text) => {
  if (!text || /[:\x00-\x1f\x7f]/.test(text)) throw new UsageError(`${flag}: '${text}' is not a basic auth user name (not empty, no ':' or control characters)`);
  return text;
};

const file = (what: string): FlagParser => (flag, text) => parseReadableFile(flag, text, what);

export function addAlertmanagerOptions(c: Command): Command {
  return c
    .addOption(listOption('--alertmanager <url>', 'send alerts to this Alertmanager (base URL, API v2: POST /api/v2/alerts); repeatable or comma-separated for HA pairs', alertmanagerUrl, { split: true }))
    .addOption(checkedOption('--alertmanager-timeout <d>', 'time limit of one request to an Alertmanager', parseDuration, '10s'))
    .addOption(checkedOption('--alertmanager-resend <d>', 're-send firing alerts to Alertmanager this often', parseDuration, '1m'))
    .addOption(checkedOption('--alertmanager-user <name>', 'basic auth user (password from --alertmanager-password-file or V2PROBE_ALERTMANAGER_PASSWORD)', basicAuthUser))
    .addOption(checkedOption('--alertmanager-password-file <file>', 'basic auth password file', file('password file')))
    .addOption(checkedOption('--alertmanager-token-file <file>', 'bearer token file (or V2PROBE_ALERTMANAGER_TOKEN)', file('bearer token file')))
    .addOption(checkedOption('--alertmanager-ca <file>', 'CA bundle (PEM) for https Alertmanagers', file('TLS CA file')))
    .addOption(checkedOption('--alertmanager-cert <file>', 'client certificate (PEM) for mutual TLS', file('TLS certificate file')))
    .addOption(checkedOption('--alertmanager-key <file>', 'client key (PEM) for mutual TLS', file('TLS key file')))
    .addOption(checkedOption('--alertmanager-server-name <name>', 'TLS server name to expect, when it differs from the URL host', parseHostname))
    .option('--alertmanager-insecure', 'do not verify the Alertmanager TLS certificate (testing only)');
}

function secret(flag: string, file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The Alertmanager config of the flags (undefined without --alertmanager); validated now. */
export function alertmanagerConfigFromFlags(o: Record<string, unknown>): AlertmanagerConfig | undefined {
  const urls = (o.alertmanager as string[] | undefined) ?? [];
  if (!urls.length) {
    const stray = Object.keys(o).filter((k) => k.startsWith('alertmanager') && k !== 'alertmanager' && o[k] !== undefined && !['alertmanagerTimeout', 'alertmanagerResend'].includes(k));
    if (stray.length) throw new UsageError(`--${stray[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --alertmanager URL`);
    return undefined;
  }
  const password = secret('--alertmanager-password-file', o.alertmanagerPasswordFile as string | undefined) ?? process.env.V2PROBE_ALERTMANAGER_PASSWORD;
  const token = secret('--alertmanager-token-file', o.alertmanagerTokenFile as string | undefined) ?? process.env.V2PROBE_ALERTMANAGER_TOKEN;
  if (o.alertmanagerPasswordFile && !o.alertmanagerUser) throw new UsageError('--alertmanager-password-file needs --alertmanager-user');
  const cfg: AlertmanagerConfig = {
    urls,
    timeoutMs: parseDuration('--alertmanager-timeout', String(o.alertmanagerTimeout ?? '10s')),
    resendDelayMs: parseDuration('--alertmanager-resend', String(o.alertmanagerResend ?? '1m')),
    basicAuth: o.alertmanagerUser ? { username: String(o.alertmanagerUser), password: password ?? '' } : undefined,
    bearerToken: token || undefined,
    tls: {
      caFile: o.alertmanagerCa as string | undefined,
      certFile: o.alertmanagerCert as string | undefined,
      keyFile: o.alertmanagerKey as string | undefined,
      serverName: o.alertmanagerServerName as string | undefined,
      insecureSkipVerify: !!o.alertmanagerInsecure,
    },
  };
  try {
    new AlertmanagerClient(cfg); // checks URLs, auth and TLS files; starts nothing
  } catch (e) {
    if (e instanceof AlertmanagerConfigError) throw new UsageError(`--alertmanager: ${redactDsn(e.message)}`);
    throw e;
  }
  return cfg;
}
