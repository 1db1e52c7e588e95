// OpenSSH known_hosts, as the platform's Known Hosts (SSH) artifact and JSch read it: plain and
// hashed (|1|salt|hash) host names, [host]:port for ports other than 22, one key per line, and the
// @revoked and @cert-authority markers (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT").
import { decodeUtf16 } from '../utf16.js';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { judgeAlgorithm } from './algorithms.js';
import { type HostKey, keyTypeOfAlgorithm, sha256Fingerprint } from './host-key.js';

/**
 * sshd(8): "@cert-authority, to indicate that the line contains a certification authority (CA) key"
 * (host certificates signed by it are trusted), "@revoked, to indicate that the key contained on the
 * line is revoked and must not ever be accepted".
 */
export type KnownHostsMarker = '@cert-authority' | '@revoked';

export interface KnownHostsEntry {
  /** 1-based line number in the file. */
  line: number;
  /** The host field as written: "host,alias", "[host]:2222" or "|1|salt|hash". */
  hosts: string;
  type: string;
  blob: Buffer;
  /** A marked line is not a host key of the host: a revoked key, or a CA's key. */
  marker?: KnownHostsMarker;
}

export interface KnownHostsFile {
  entries: KnownHostsEntry[];
  /** Lines that are neither comments nor host keys, with why. */
  problems: { line: number; message: string }[];
}

/** revoked: an @revoked line holds this very key (OpenSSH and JSch refuse it, whatever else the file says). */
export type KnownHostsVerdict = 'match' | 'changed' | 'unknown' | 'revoked';

export interface KnownHostsCheck {
  verdict: KnownHostsVerdict;
  /** The @revoked line holding this key (verdict revoked). */
  revokedLine?: number;
  /** @cert-authority lines naming this host: CA keys, not host keys (see certAuthorityNote). */
  certAuthorities: { line: number; type: string; sha256: string }[];
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
const MARKERS = new Set<string>(['@cert-authority', '@revoked'] satisfies KnownHostsMarker[]);

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
 * @cert-authority and @revoked lines are entries with their marker; comments and blank lines are
 * skipped; anything else is a problem.
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
    entries.push({ line, hosts, type, blob, ...(marker ? { marker: fields[0] as KnownHostsMarker } : {}) });
  });
  return { entries, problems };
}

/**
 * The sentence for a file that is not a known_hosts file (`parsed.problems` holds one problem or
 * more): it names the first bad line but never echoes it, since it may be a secret (a private key,
 * a service key): "FILE is not a known_hosts file (line 1: not a ... line, and 3 more)".
 */
export function notKnownHostsSentence(file: string, parsed: KnownHostsFile): string {
  const first = parsed.problems[0]!;
  return `${file} is not a known_hosts file (line ${first.line}: ${first.message}${parsed.problems.length > 1 ? `, and ${parsed.problems.length - 1} more` : ''})`;
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
 * Holds a server key against the file as JSch and OpenSSH do: an @revoked line naming the host with
 * this key makes it revoked ("revoked HostKey", JSch Session.checkHost; ssh: "REVOKED HOST KEY
 * DETECTED"), whatever else the file holds; else a line for this host and key type with this key is
 * a match; with another key the key changed ("HostKey has been changed"); no line for this host and
 * type leaves it unknown ("reject HostKey"). @cert-authority lines hold no host key: they are listed.
 */
export function checkHostKey(
  file: KnownHostsFile,
  host: string,
  port: number,
  key: HostKey,
): KnownHostsCheck {
  const named = file.entries.filter((e) => entryNamesHost(e, host, port));
  const forHost = named.filter((e) => !e.marker);
  const revoked = named.find((e) => e.marker === '@revoked' && e.blob.equals(key.blob));
  const sameType = forHost.filter((e) => e.type === key.type);
  const verdict: KnownHostsVerdict = revoked
    ? 'revoked'
    : sameType.some((e) => e.blob.equals(key.blob))
      ? 'match'
      : sameType.length
        ? 'changed'
        : 'unknown';
  const summary = (e: KnownHostsEntry) => ({ line: e.line, type: e.type, sha256: sha256Fingerprint(e.blob) });
  return {
    verdict,
    ...(revoked ? { revokedLine: revoked.line } : {}),
    certAuthorities: named.filter((e) => e.marker === '@cert-authority').map(summary),
    stored: sameType.map(summary),
    otherTypes: [...new Set(forHost.filter((e) => e.type !== key.type).map((e) => e.type))],
    sameKeyElsewhere: file.entries
      .filter((e) => !e.marker && !named.includes(e) && e.blob.equals(key.blob))
      .map((e) => ({ line: e.line, hosts: e.hosts })),
    lineToAdd: knownHostsLine(host, port, key),
  };
}

/**
 * The key types the file holds for a host, marked lines too: JSch asks the server for those first
 * (algorithms.ts jschHostKeyOrder), as OpenSSH does.
 */
export function knownKeyTypes(file: KnownHostsFile, host: string, port: number): string[] {
  return [...new Set(file.entries.filter((e) => entryNamesHost(e, host, port)).map((e) => e.type))];
}

/** The one known_hosts judgement of a server for a file, shared by `known-hosts check` and the probe. */
export interface HostKeysJudgement {
  /** The key the platform's client (JSch) would negotiate with this file: the verdict is its. */
  key: HostKey;
  check: KnownHostsCheck;
  /** The host-key algorithm JSch would pick (absent when the server offers none JSch knows). */
  jschAlgorithm?: string;
  /** The server's other keys with their own verdicts: notes (a client asking for them first meets those). */
  others: { key: HostKey; check: KnownHostsCheck }[];
}

/**
 * Judges a server on the key the platform's SFTP adapter (JSch) would negotiate with this file: the
 * first of JSch's host-key algorithms, reordered to prefer the key types the file holds for the host
 * (algorithms.ts jschHostKeyOrder), that the server offers. `keys`: the server keys seen (one or all);
 * `offered`: the server's host-key algorithms from its KEXINIT. When none of the keys is of the type
 * JSch would pick, the first key is judged.
 */
export function judgeHostKeys(
  file: KnownHostsFile,
  host: string,
  port: number,
  keys: HostKey[],
  offered: string[],
): HostKeysJudgement {
  const jschAlgorithm = judgeAlgorithm(
    'serverHostKey',
    offered,
    undefined,
    knownKeyTypes(file, host, port),
  ).jschPicks;
  const type = jschAlgorithm && keyTypeOfAlgorithm(jschAlgorithm);
  const key = keys.find((k) => k.type === type) ?? keys[0]!;
  return {
    key,
    check: checkHostKey(file, host, port, key),
    ...(jschAlgorithm ? { jschAlgorithm } : {}),
    others: keys.filter((k) => k !== key).map((k) => ({ key: k, check: checkHostKey(file, host, port, k) })),
  };
}

/**
 * What a file's @cert-authority lines for a host mean here, or undefined when it has none. Sources:
 * sshd(8) for the marker; mwiede/jsch verifies host certificates against such lines since jsch-2.28.0
 * (OpenSshCertificateHostKeyVerifier, commit d8a5d81d) and ignores them as host keys since jsch-2.28.6
 * (KnownHosts.check, commit dac7a9c8; before, a CA line of the server key's type reads as a changed
 * key). SAP does not publish which JSch version a tenant's SFTP adapter runs, so whether it honours
 * them is not known here; this tool does not check host certificates.
 */
export function certAuthorityNote(check: KnownHostsCheck, file: string): string | undefined {
  const ca = check.certAuthorities;
  if (!ca.length) return undefined;
  const lines = ca.map((c) => `line ${c.line}, ${c.type} ${c.sha256}`).join('; ');
  return `${file} holds ${ca.length > 1 ? `${ca.length} @cert-authority lines` : 'an @cert-authority line'} for this host (${lines}): a CA key that OpenSSH trusts for host certificates it signed, not a host key; linkdoctor does not check host certificates, and whether the tenant's SFTP adapter honours the line depends on its JSch version (mwiede JSch verifies host certificates from 2.28.0 on; SAP does not publish the version a tenant runs)`;
}

/**
 * A known_hosts file's bytes as text: UTF-8 (OpenSSH writes ASCII), or UTF-16 with a byte order mark,
 * as Windows PowerShell 5 writes `ssh-keyscan host > known_hosts` (`utf16: true`: OpenSSH itself
 * cannot read it).
 */
export function knownHostsText(buf: Buffer): { text: string; utf16: boolean } {
  const utf16 = decodeUtf16(buf);
  return utf16 === undefined ? { text: buf.toString('utf8'), utf16: false } : { text: utf16, utf16: true };
}

/** The note on a UTF-16 known_hosts file: read, but OpenSSH and the tenant's upload want UTF-8. */
export function utf16KnownHostsNote(file: string): string {
  return `${file} is UTF-16 text (Windows PowerShell 5's \`>\` writes it): read as such, but OpenSSH's ssh and the tenant's Known Hosts upload expect UTF-8 or ASCII: save it as UTF-8 (Get-Content ${file} | Set-Content -Encoding ascii known_hosts, or iconv -f UTF-16 -t UTF-8)`;
}

/** Far above any real known_hosts file (a line is ~100 bytes): a bound on what is read into memory. */
export const MAX_KNOWN_HOSTS_BYTES = 64 * 1024 * 1024;

/** The user's known_hosts file, where OpenSSH's ssh reads it: ~/.ssh/known_hosts (HOME on Unix). */
export function defaultKnownHostsFile(): string {
  return join(homedir(), '.ssh', 'known_hosts');
}
