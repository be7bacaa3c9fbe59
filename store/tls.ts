/**
 * store/tls.ts — read and check TLS material given as files (a CA bundle, a
 * client certificate and its private key, PEM) for the ClickHouse client and
 * the Kafka clients. Every failure is one line naming the option and the file;
 * the key's bytes never appear in a message.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** A TLS option that cannot be used: `option` names it as the user gave it (e.g. `ca=`, `kafka.key`). */
export class TlsFileError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'TlsFileError';
  }
}

const WHAT = { ca: 'CA certificate (PEM)', cert: 'client certificate (PEM)', key: 'private key (PEM)' } as const;

function readPem(kind: keyof TlsFiles, option: string, path: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : (e.code ?? e.message);
    throw new TlsFileError(option, `${option}: cannot read the ${WHAT[kind]} '${path}': ${why}`);
  }
  const text = buf.toString('latin1');
  const ok = kind === 'key' ? /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) : text.includes('-----BEGIN CERTIFICATE-----');
  if (!ok) throw new TlsFileError(option, `${option}: '${path}' is not a ${WHAT[kind]}${kind === 'key' ? ' (no BEGIN ... PRIVATE KEY block)' : ' (no BEGIN CERTIFICATE block)'}`);
  return buf;
}

/**
 * Read the files and check that Node's TLS accepts them (a CA that parses, a
 * key that belongs to the certificate). `names` maps each field to the option
 * name for messages. A certificate without a key (or the reverse) is an error.
 */
export function loadTlsFiles(files: TlsFiles, names: Record<keyof TlsFiles, string>): TlsMaterial {
  if (files.cert !== undefined && files.key === undefined)
    throw new TlsFileError(names.cert, `${names.cert} needs ${names.key} too: a client certificate is used with its private key`);
  if (files.key !== undefined && files.cert === undefined)
    throw new TlsFileError(names.key, `${names.key} needs ${names.cert} too: a private key is used with its client certificate`);
  const out: TlsMaterial = {};
  if (files.ca !== undefined) {
    out.ca = readPem('ca', names.ca, files.ca);
    try {
      createSecureContext({ ca: out.ca });
    } catch (err) {
      throw new TlsFileError(names.ca, `${names.ca}: '${files.ca}' is not a usable CA certificate: ${(err as Error).message}`);
    }
  }
  if (files.cert !== undefined && files.key !== undefined) {
    out.cert = readPem('cert', names.cert, files.cert);
    out.key = readPem('key', names.key, files.key);
    try {
      createSecureContext({ cert: out.cert, key: out.key });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = /mismatch/i.test(e.message) ? 'the key does not belong to the certificate' : e.message.includes('bad decrypt') || /passphrase/i.test(e.message) ? 'the key is encrypted (give an unencrypted PEM key)' : e.message;
      throw new TlsFileError(names.cert, `${names.cert} / ${names.key}: '${files.cert}' and '${files.key}' cannot be used together: ${why}`);
    }
  }
  return out;
}
