// `linkdoctor known-hosts add|check`: fetch every host key of an SSH/SFTP server (like ssh-keyscan, or
// the platform's Copy Host Key) and add its lines to a known_hosts file, or hold them against one.
import { existsSync } from 'node:fs';
import { describeError, hostPort, UserError } from '../errors.js';
import { readRegularFileSync } from '../fs-read.js';
import { withFileLock, writeFileAtomic, writeTarget } from '../fs-write.js';
import { whatItSpeaks, wrongScheme } from '../probe/sniff.js';
import { parseTarget } from '../probe/target.js';
import { colorsFor, wrap } from '../report/text.js';
import { jsonText, printable } from '../report/printable.js';
import { md5Fingerprint, sha256Fingerprint } from '../ssh/host-key.js';
import { scanHostKeys, type ScannedHost } from '../ssh/keyscan.js';
import {
  certAuthorityNote,
  defaultKnownHostsFile,
  notKnownHostsSentence,
  hostField,
  judgeHostKeys,
  knownHostsText,
  MAX_KNOWN_HOSTS_BYTES,
  utf16KnownHostsNote,
  parseKnownHosts,
  type HostKeysJudgement,
  type KnownHostsCheck,
  type KnownHostsFile,
  type KnownHostsVerdict,
} from '../ssh/known-hosts.js';
import { fitText } from '../report/width.js';

interface Flags {
  timeout: number;
  json?: boolean;
}

/** HOST, HOST:PORT, [HOST]:PORT (IPv6 too) or an sftp:// or ssh:// URL. */
function parseHostPort(raw: string): { host: string; port: number } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    const t = parseTarget(raw);
    if (t.scheme !== 'sftp' && t.scheme !== 'ssh') throw new UserError(`${raw} is not an SSH/SFTP server`);
    return { host: t.host, port: t.port };
  }
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:[\]\s]+)(?::(\d+))?$/.exec(raw);
  // An IPv6 address without brackets has no port.
  const [host, port] = m ? [m[1]!, m[2] ? Number(m[2]) : 22] : raw.includes('::') ? [raw, 22] : [];
  if (!host || !(Number.isInteger(port) && port! >= 1 && port! <= 65535))
    throw new UserError(`"${raw}" is not HOST, HOST:PORT or [HOST]:PORT`);
  return { host, port: port! };
}

function readKnownHosts(
  file: string,
  mustExist: boolean,
): KnownHostsFile & { text: string; utf16?: boolean } {
  if (!mustExist && !existsSync(file)) return { entries: [], problems: [], text: '' };
  const { text, utf16 } = knownHostsText(
    readRegularFileSync(file, { what: 'known_hosts file', maxBytes: MAX_KNOWN_HOSTS_BYTES }),
  );
  return { ...parseKnownHosts(text), text, ...(utf16 ? { utf16 } : {}) };
}

/** notKnownHostsSentence and what was not done: "nothing written". */
function notKnownHosts(file: string, parsed: KnownHostsFile, what: string): UserError {
  return new UserError(`${notKnownHostsSentence(file, parsed)}; ${what}`);
}

/**
 * The file `add` may append to: missing, empty, or a known_hosts file all of whose lines parse. Any
 * other file (a private key, a config file) is refused before anything is written.
 */
function readKnownHostsToAdd(file: string): KnownHostsFile & { text: string } {
  writeTarget(file);
  const parsed = readKnownHosts(file, false);
  // Lines appended in UTF-8 would break a UTF-16 file for every reader.
  if (parsed.utf16) throw new UserError(`${utf16KnownHostsNote(file)}; nothing written`);
  if (parsed.problems.length) throw notKnownHosts(file, parsed, 'nothing written');
  return parsed;
}

/**
 * The file `check` holds the keys against: a file of which no line is a known_hosts line (a JSON
 * service key, a private key) is refused before the server is asked, as `add` refuses it; a
 * known_hosts file with a broken line among good ones is read as ssh reads it (the line skipped).
 */
function readKnownHostsToCheck(file: string, mustExist: boolean): KnownHostsFile & { text: string } {
  const parsed = readKnownHosts(file, mustExist);
  if (parsed.problems.length && !parsed.entries.length) throw notKnownHosts(file, parsed, 'nothing checked');
  if (parsed.utf16) process.stderr.write(printable(`linkdoctor: warning: ${utf16KnownHostsNote(file)}\n`));
  return parsed;
}

async function scan(target: string, f: Flags): Promise<{ host: string; port: number; scanned: ScannedHost }> {
  if (!(f.timeout > 0)) throw new UserError('--timeout takes a number of seconds greater than 0');
  const { host, port } = parseHostPort(target);
  return { host, port, scanned: await scanHostKeys(host, port, f.timeout * 1000) };
}

interface KeyReport {
  type: string;
  sha256: string;
  md5: string;
  line: string;
  verdict: KnownHostsVerdict;
  stored: KnownHostsCheck['stored'];
  /** The @revoked line holding this key. */
  revokedLine?: number;
  /** The key the platform's client (JSch) would negotiate with this file: the overall verdict is its. */
  jsch: boolean;
}

/** Every key of the server with its verdict, and the one judgement (judgeHostKeys) the probe makes too. */
function keyReports(
  file: KnownHostsFile,
  host: string,
  port: number,
  scanned: ScannedHost,
): { keys: KeyReport[]; judged: HostKeysJudgement } {
  const judged = judgeHostKeys(file, host, port, scanned.keys, scanned.offered);
  const checks = new Map([
    [judged.key, judged.check],
    ...judged.others.map((o) => [o.key, o.check] as const),
  ]);
  const keys = scanned.keys.map((key) => {
    const check = checks.get(key)!;
    return {
      type: key.type,
      sha256: sha256Fingerprint(key.blob),
      md5: md5Fingerprint(key.blob),
      line: check.lineToAdd,
      verdict: check.verdict,
      stored: check.stored,
      ...(check.revokedLine ? { revokedLine: check.revokedLine } : {}),
      jsch: key === judged.key,
    };
  });
  return { keys, judged };
}

/**
 * When no key came: says why on stderr and returns true. A socket error is said as the probe says it;
 * a port that answered, but not in SSH, is named by what it speaks (sniff.ts, one more connection:
 * "this port speaks TLS, not what sftp:// expects ...: use https://...").
 */
async function failed(host: string, port: number, scanned: ScannedHost, f: Flags): Promise<boolean> {
  if (scanned.keys.length) return false;
  const where = hostField(host, port);
  const failure = scanned.failure;
  let why =
    failure?.kind === 'socket' && failure.error
      ? describeError(failure.error, where)
      : `no host key from ${where}: ${failure?.message ?? 'no answer'}`;
  if (failure && ['silent', 'garbage', 'closed', 'handshake'].includes(failure.kind)) {
    const ms = f.timeout * 1000;
    // A server silent the whole time waits for the client: only a TLS ClientHello is left to try.
    const found = await whatItSpeaks(
      host,
      port,
      ms,
      AbortSignal.timeout(ms),
      host,
      failure.kind !== 'silent',
    );
    const wrong = found && wrongScheme(parseTarget(`sftp://${hostPort(host, port)}`), found);
    if (wrong) why = `no host key from ${where}: ${wrong.sentence}`;
  }
  process.stderr.write(`linkdoctor: ${printable(why)}\n`);
  process.exitCode = 1;
  return true;
}

function render(where: string, scanned: ScannedHost, keys: KeyReport[], file: string, note: string): string {
  const c = colorsFor(process.stdout);
  const width = Math.max(...keys.map((k) => k.type.length));
  const out = [`${c.bold(printable(where))}  ${c.dim(printable(scanned.banner ?? ''))}`];
  for (const k of keys) {
    const verdict =
      k.verdict === 'revoked'
        ? c.red(`REVOKED in ${file} (line ${k.revokedLine})`)
        : k.verdict === 'match'
          ? c.green(`in ${file} (line ${k.stored.find((s) => s.sha256 === k.sha256)?.line})`)
          : k.verdict === 'changed'
            ? c.red(
                `CHANGED: ${file} holds ${k.stored.map((s) => `${s.sha256} (line ${s.line})`).join(', ')}`,
              )
            : c.yellow(`not in ${file}`);
    out.push(`  ${k.type.padEnd(width)}  ${k.sha256}  ${verdict}`);
  }
  // The sentence wrapped to 100 columns; the lines to add below it stay whole.
  const [first, ...rest] = printable(note).split('\n');
  return `${out.join('\n')}\n\n${[wrap(first!, ''), ...rest].join('\n')}\n`;
}

/**
 * `known-hosts add HOST` without a file: the lines on standard output, as `ssh-keyscan` prints them
 * (so that `>> ~/.ssh/known_hosts` works), the fingerprints to confirm on standard error.
 */
function printLines(host: string, port: number, scanned: ScannedHost, json: boolean | undefined): void {
  const where = hostField(host, port);
  const { keys } = keyReports({ entries: [], problems: [] }, host, port, scanned);
  if (json) {
    const out = {
      host,
      port,
      banner: scanned.banner,
      keys: keys.map(({ stored: _s, verdict: _v, ...k }) => k),
    };
    process.stdout.write(`${jsonText(out, 2)}\n`);
    return;
  }
  process.stdout.write(keys.map((k) => `${k.line}\n`).join(''));
  const c = colorsFor(process.stderr);
  const width = Math.max(...keys.map((k) => k.type.length));
  process.stderr.write(
    `# ${printable(where)}  ${printable(scanned.banner ?? '')}\n${keys.map((k) => `#   ${k.type.padEnd(width)}  ${k.sha256}\n`).join('')}` +
      c.dim(
        `# Confirm the fingerprints with the server's administrator; --known-hosts FILE adds the lines to a file.\n`,
      ),
  );
}

export async function knownHostsAdd(
  target: string,
  f: Flags & { knownHosts?: string; to?: string },
): Promise<void> {
  const to = f.knownHosts ?? f.to;
  if (to === undefined) {
    const { host, port, scanned } = await scan(target, f);
    if (await failed(host, port, scanned, f)) return;
    return printLines(host, port, scanned, f.json);
  }
  // Refused before the server is asked: a file that is not known_hosts is never written.
  readKnownHostsToAdd(to);
  const { host, port, scanned } = await scan(target, f);
  const where = hostField(host, port);
  if (await failed(host, port, scanned, f)) return;
  // Read again, under FILE.lock (not held during the scan): the file may have changed meanwhile, and
  // another linkdoctor adding to it at the same time waits instead of having its line dropped.
  const { keys, added, changed, revoked } = await withFileLock(to, async () => {
    const file = readKnownHostsToAdd(to);
    const { keys } = keyReports(file, host, port, scanned);
    const changed = keys.filter((k) => k.verdict === 'changed');
    const revoked = keys.filter((k) => k.verdict === 'revoked');
    const added = changed.length || revoked.length ? [] : keys.filter((k) => k.verdict === 'unknown');
    if (added.length) {
      const sep = file.text && !file.text.endsWith('\n') ? '\n' : '';
      await writeFileAtomic(to, file.text + sep + added.map((k) => `${k.line}\n`).join(''), {
        mode: 0o644,
      });
    }
    return { keys, added, changed, revoked };
  });
  process.exitCode = changed.length || revoked.length ? 1 : 0;
  if (f.json) {
    const json = { host, port, banner: scanned.banner, file: to, keys, added: added.map((k) => k.line) };
    process.stdout.write(`${jsonText(json, 2)}\n`);
    return;
  }
  const note = revoked.length
    ? `Nothing added: ${to} marks the server's ${revoked.map((k) => `${k.type} key @revoked (line ${k.revokedLine})`).join(' and ')}: a revoked key must never be trusted (ssh: "REVOKED HOST KEY DETECTED"). Ask the server's administrator why the server still shows it.`
    : changed.length
      ? `Nothing added: ${to} holds another key for ${where}. If the change is expected (confirmed with the server's administrator), remove the old line and run this again; otherwise the server is not the one you know.`
      : added.length
        ? `Added ${added.length} line${added.length > 1 ? 's' : ''} to ${to}. Confirm the fingerprints with the server's administrator before trusting them; through the Cloud Connector, the tenant's Known Hosts (SSH) must name the virtual host instead.`
        : `Nothing to add: ${to} already holds every key of ${where}.`;
  process.stdout.write(fitText(render(where, scanned, keys, to, note)));
}

/**
 * The check's sentence: the verdict of the key JSch would negotiate with this file (judgeHostKeys),
 * then the other keys' verdicts that differ, and what @cert-authority lines the file holds.
 */
function checkNote(file: string, where: string, keys: KeyReport[], judged: HostKeysJudgement): string {
  const c = judged.check;
  const k = keys.find((r) => r.jsch)!;
  const jsch =
    keys.length > 1
      ? `Judged on the ${k.type} key: the one the platform's SFTP adapter (JSch) negotiates with this file.`
      : '';
  const head =
    c.verdict === 'revoked'
      ? `revoked: ${file} marks the server's ${k.type} key @revoked (line ${c.revokedLine}): it must never be accepted (the platform: "revoked HostKey"; ssh: "REVOKED HOST KEY DETECTED"). Ask the server's administrator why the server still shows it.`
      : c.verdict === 'match'
        ? `match: ${file} knows ${where}.`
        : c.verdict === 'changed'
          ? `changed: the server's key differs from the one ${file} holds (the platform: "HostKey has been changed"). Confirm the new fingerprint with the server's administrator, then replace the old line.`
          : `unknown: ${file} has no key for ${where} (the platform: "reject HostKey").`;
  const others = judged.others
    .filter((o) => o.check.verdict !== c.verdict)
    .map((o) => `the ${o.key.type} key is ${o.check.verdict}`);
  const notes = [
    others.length
      ? `Note: ${others.join(', ')} (a client that asks for that type first, such as OpenSSH with a HostKeyAlgorithms setting, meets that).`
      : '',
    certAuthorityNote(c, file) ? `Note: ${certAuthorityNote(c, file)}.` : '',
  ].filter(Boolean);
  const toAdd =
    c.verdict === 'unknown'
      ? `\nThe lines to add, once confirmed:\n${keys
          .filter((r) => r.verdict === 'unknown')
          .map((r) => `  ${r.line}`)
          .join('\n')}`
      : '';
  return `${[head, jsch, ...notes].filter(Boolean).join(' ')}${toAdd}`;
}

export async function knownHostsCheck(target: string, f: Flags & { knownHosts?: string }): Promise<void> {
  // As ssh: ~/.ssh/known_hosts when no file is named (a missing one knows no host).
  const file = f.knownHosts ?? defaultKnownHostsFile();
  // Refused before the server is asked, as add refuses it.
  readKnownHostsToCheck(file, f.knownHosts !== undefined);
  const { host, port, scanned } = await scan(target, f);
  const where = hostField(host, port);
  if (await failed(host, port, scanned, f)) return;
  const { keys, judged } = keyReports(
    readKnownHostsToCheck(file, f.knownHosts !== undefined),
    host,
    port,
    scanned,
  );
  const verdict = judged.check.verdict;
  process.exitCode = verdict === 'match' ? 0 : 1;
  if (f.json) {
    const json = {
      host,
      port,
      banner: scanned.banner,
      file: file,
      verdict,
      ...(judged.jschAlgorithm ? { jschAlgorithm: judged.jschAlgorithm } : {}),
      keys,
      ...(judged.check.certAuthorities.length ? { certAuthorities: judged.check.certAuthorities } : {}),
    };
    process.stdout.write(`${jsonText(json, 2)}\n`);
    return;
  }
  process.stdout.write(fitText(render(where, scanned, keys, file, checkNote(file, where, keys, judged))));
}
