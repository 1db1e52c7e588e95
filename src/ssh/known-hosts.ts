// OpenSSH known_hosts, as the platform's Known Hosts (SSH) artifact and JSch read it: plain and
// hashed (|1|salt|hash) host names, [host]:port for ports other than 22, one key per line.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type HostKey, sha256Fingerprint } from './host-key.js';

export interface KnownHostsEntry {
  /** 1-based line number in the file. */
  line: number;
  /** The host field as written: "host,alias", "[host]:2222" or "|1|salt|hash". */
  hosts: string;
  type: string;
  blob: Buffer;
}

export interface KnownHostsFile {
  entries: KnownHostsEntry[];
  /** Lines that are neither comments nor host keys, with why. */
  problems: { line: number; message: string }[];
}

export type KnownHostsVerdict = 'match' | 'changed' | 'unknown';

export interface KnownHostsCheck {
  verdict: KnownHostsVerdict;
  /** The lines holding a key of the server key's type for this host: the stored key when it changed. */
  stored: { line: number; type: string; sha256: string }[];
  /** Key types the file holds for this host other than the server key's (a client prefers those). */
  otherTypes: string[];
  /** Lines holding this very key under another host name: a virtual host, another port, an address. */
  sameKeyElsewhere: { line: number; hosts: string }[];
  /** The line that makes the host known. */
  lineToAdd: string;
}

/** The markers OpenSSH puts before a line's host field. */
const MARKERS = new Set(['@cert-authority', '@revoked']);

/**
 * The key of a line, when it is one: base64 of an SSH wire-format blob whose first field is the key
 * type the line names, as OpenSSH checks it. A PEM header or body line never is.
 */
function keyBlob(type: string, key: string | undefined): Buffer | undefined {
  if (!key || !/^[A-Za-z0-9+/]+={0,2}$/.test(key) || !/^[a-z0-9][a-z0-9@.+-]*$/i.test(type)) return undefined;
  const blob = Buffer.from(key, 'base64');
  if (blob.length < 4 + type.length) return undefined;
  const length = blob.readUInt32BE(0);
  return length === type.length && blob.toString('latin1', 4, 4 + length) === type ? blob : undefined;
}

/**
 * Parses an OpenSSH known_hosts file: one `host[,host...] key-type base64-key [comment]` line per key;
 * comments, blank lines and @cert-authority/@revoked lines are skipped; anything else is a problem.
 */
export function parseKnownHosts(text: string): KnownHostsFile {
  const entries: KnownHostsEntry[] = [];
  const problems: KnownHostsFile['problems'] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const fields = raw.trim().split(/[ \t]+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    // @cert-authority and @revoked lines are not host keys of a host, but must be well-formed too.
    const marker = fields[0].startsWith('@');
    if (marker && !MARKERS.has(fields[0])) {
      problems.push({ line, message: `unknown marker (OpenSSH knows ${[...MARKERS].join(', ')})` });
      return;
    }
    const [hosts, type, key] = marker ? fields.slice(1) : fields;
    const blob = hosts && type ? keyBlob(type, key) : undefined;
    if (!hosts || !type || !blob) {
      problems.push({ line, message: 'not a "host key-type base64-key" line' });
      return;
    }
    if (!marker) entries.push({ line, hosts, type, blob });
  });
  return { entries, problems };
}

/** How known_hosts names a server: the host for port 22, [host]:port for any other port. */
export function hostField(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

export function knownHostsLine(host: string, port: number, key: HostKey): string {
  return `${hostField(host, port)} ${key.type} ${key.blob.toString('base64')}`;
}

/** A hashed field holds HMAC-SHA1(salt, name) of one name: `|1|base64(salt)|base64(hash)`. */
function hashedMatches(field: string, name: string): boolean {
  const [, salt, hash] = /^\|1\|([^|]+)\|([^|]+)$/.exec(field) ?? [];
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** OpenSSH host patterns: * and ? wildcards, case-insensitive. */
function patternMatches(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** Whether an entry names the host: one pattern matches and no negated one (!pattern) does. */
export function entryNamesHost(entry: KnownHostsEntry, host: string, port: number): boolean {
  const name = hostField(host, port);
  if (entry.hosts.startsWith('|')) return hashedMatches(entry.hosts, name);
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (patternMatches(pattern, name)) matched = true;
  }
  return matched;
}

/**
 * Holds a server key against the file as JSch does: a line for this host and key type with this key
 * is a match; with another key the key changed ("HostKey has been changed"); no line for this host
 * and type leaves it unknown ("reject HostKey").
 */
export function checkHostKey(
  file: KnownHostsFile,
  host: string,
  port: number,
  key: HostKey,
): KnownHostsCheck {
  const forHost = file.entries.filter((e) => entryNamesHost(e, host, port));
  const sameType = forHost.filter((e) => e.type === key.type);
  const verdict: KnownHostsVerdict = sameType.some((e) => e.blob.equals(key.blob))
    ? 'match'
    : sameType.length
      ? 'changed'
      : 'unknown';
  return {
    verdict,
    stored: sameType.map((e) => ({ line: e.line, type: e.type, sha256: sha256Fingerprint(e.blob) })),
    otherTypes: [...new Set(forHost.filter((e) => e.type !== key.type).map((e) => e.type))],
    sameKeyElsewhere: file.entries
      .filter((e) => !forHost.includes(e) && e.blob.equals(key.blob))
      .map((e) => ({ line: e.line, hosts: e.hosts })),
    lineToAdd: knownHostsLine(host, port, key),
  };
}

/** The key types the file holds for a host: a client like OpenSSH or JSch asks the server for those first. */
export function knownKeyTypes(file: KnownHostsFile, host: string, port: number): string[] {
  return [...new Set(file.entries.filter((e) => entryNamesHost(e, host, port)).map((e) => e.type))];
}

/** The user's known_hosts file, where OpenSSH's ssh reads it: ~/.ssh/known_hosts (HOME on Unix). */
export function defaultKnownHostsFile(): string {
  return join(homedir(), '.ssh', 'known_hosts');
}
