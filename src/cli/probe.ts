import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { createSecureContext } from 'node:tls';
import { UserError } from '../errors.js';
import { readRegularFileSync } from '../fs-read.js';
import { loadKb } from '../kb/load.js';
import { probe, type ProbeOptions } from '../probe/run.js';
import { altPortsFromEnv } from '../probe/smtp.js';
import type { OAuthSpec } from '../probe/oauth.js';
import { defaultDirection, parseTarget, splitUserOption } from '../probe/target.js';
import type { SshOptions } from '../probe/ssh.js';
import type { ClientIdentity } from '../probe/tls.js';
import { probeJson, renderProbe } from '../report/probe.js';
import { jsonText, printable } from '../report/printable.js';
import { credentialHeaderNames } from '../redact.js';
import { colorsFor } from '../report/text.js';
import {
  defaultKnownHostsFile,
  knownHostsText,
  MAX_KNOWN_HOSTS_BYTES,
  notKnownHostsSentence,
  parseKnownHosts,
} from '../ssh/known-hosts.js';
import { loadTrustStore, type TrustStore } from '../trust/store.js';
import type { Direction } from '../types.js';
import { headerProblem, redirectsOption, secondsOption } from './probe-flags.js';
import { promptSecret, secretFromEnv } from './secrets.js';
import { andList, fitOutput } from '../report/width.js';

export interface ProbeFlags {
  direction?: Direction;
  timeout: number;
  trust?: string;
  trustPasswordEnv?: string;
  clientCert?: string;
  clientKey?: string;
  clientCertPasswordEnv?: string;
  servername?: string;
  method?: string;
  header?: string[];
  data?: string;
  user?: string;
  passwordEnv?: string;
  from?: string;
  to?: string;
  writeTest?: boolean;
  knownHosts?: string;
  identity?: string;
  identityPassphraseEnv?: string;
  oauthTokenUrl?: string;
  oauthClientId?: string;
  oauthSecretEnv?: string;
  csrf?: boolean;
  /** Redirects to follow; absent: as the platform does (see redirectsFor). */
  maxRedirs?: number;
  locationTrusted?: boolean;
  json?: boolean;
  full?: boolean;
  verbose?: boolean;
  kb?: string[];
  /** Judge the chain against the tenant's keystore (issue 12), with the service key of --service-key. */
  tenant?: boolean;
  serviceKey?: string;
}

/** A key or certificate file holds a few KB: a bound on what is read of one. */
const MAX_KEY_FILE_BYTES = 1 << 20;

/** A file named by a flag, read through the one reader (regular files only, bounded). */
function readFile(file: string, what: string, maxBytes = MAX_KEY_FILE_BYTES): Buffer {
  return readRegularFileSync(file, { what, maxBytes });
}

/** The flags that name a file the probe reads, or the secret that opens one. */
export type FileFlag =
  | 'trust'
  | 'trustPasswordEnv'
  | 'clientCert'
  | 'clientKey'
  | 'clientCertPasswordEnv'
  | 'knownHosts'
  | 'identity'
  | 'identityPassphraseEnv';

/**
 * How a hint names a setting: the command line's flag with its value (`--client-key FILE`), or,
 * for an inventory, its field (`client_key`), so that the hint says what the user can write where
 * they wrote it.
 */
export type SettingWords = (flag: FileFlag) => string;

/** The command line's words: `--client-key FILE`, `--client-cert-password-env VAR`. */
export const FLAG_WORDS: SettingWords = (flag) =>
  `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${flag.endsWith('Env') ? 'VAR' : 'FILE'}`;

/** A problem of one file flag (or of the secret that opens its file): the flag it belongs to. */
class FlagError extends UserError {
  constructor(
    readonly flag: FileFlag,
    message: string,
  ) {
    super(message);
  }
}

/** `fn()`, a UserError it throws told as `flag`'s (unless it already names its flag). */
function asFlag<T>(flag: FileFlag, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError && !(e instanceof FlagError)) throw new FlagError(flag, e.message);
    throw e;
  }
}

/** A secret from the environment variable that `flag` names, its problem told as that flag's. */
const secretOf = (flag: FileFlag, variable: string, what: string) =>
  asFlag(flag, () => secretFromEnv(variable, what));

/** The client certificate to present: a PKCS#12 file, or PEM certificate (and key, here or in --client-key). */
function clientIdentity(f: ProbeFlags, say: SettingWords): ClientIdentity | undefined {
  if (!f.clientCert) return undefined;
  const raw = readFile(f.clientCert, 'client certificate');
  const label = basename(f.clientCert);
  let id: ClientIdentity;
  if (raw.includes('-----BEGIN')) {
    const pem = raw.toString('utf8');
    const key = f.clientKey
      ? asFlag('clientKey', () => readFile(f.clientKey!, 'client key')).toString('utf8')
      : pem;
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key))
      throw f.clientKey
        ? new FlagError('clientKey', `${basename(f.clientKey)} holds no PEM private key`)
        : new UserError(`${label} holds no private key: give it with ${say('clientKey')}`);
    id = {
      label,
      cert: pem,
      key,
      ...(f.clientCertPasswordEnv
        ? { passphrase: secretOf('clientCertPasswordEnv', f.clientCertPasswordEnv, 'client key password') }
        : {}),
    };
  } else {
    const passphrase = f.clientCertPasswordEnv
      ? secretOf('clientCertPasswordEnv', f.clientCertPasswordEnv, 'client certificate password')
      : '';
    id = { label, pfx: raw, passphrase };
  }
  try {
    createSecureContext({ pfx: id.pfx, passphrase: id.passphrase, cert: id.cert, key: id.key });
  } catch (e) {
    const msg = (e as Error).message;
    throw new UserError(
      /mac verify|bad decrypt|password/i.test(msg)
        ? `cannot open the client certificate ${label}: wrong password (give it with ${say('clientCertPasswordEnv')})`
        : id.pfx
          ? `${label} is neither a PKCS#12 file nor a PEM certificate with its key`
          : `cannot use the client certificate ${label}: ${msg.replace(/^error:\w+:/, '')}`,
    );
  }
  return id;
}

/** The SSH private key of --identity, opened (with its passphrase) so that a wrong passphrase is a
 * clear error rather than a refused login. */
async function sshIdentity(f: ProbeFlags, say: SettingWords): Promise<SshOptions['identity']> {
  if (!f.identity) return undefined;
  const key = readFile(f.identity, 'private key');
  const passphrase = f.identityPassphraseEnv
    ? secretOf('identityPassphraseEnv', f.identityPassphraseEnv, 'private key passphrase')
    : undefined;
  // ssh2 is CommonJS: Node names only some of its exports, utils is on the default one.
  const { utils } = (await import('ssh2')).default;
  const parsed = utils.parseKey(key, passphrase);
  const label = basename(f.identity);
  if (parsed instanceof Error)
    throw new UserError(
      /passphrase|decrypt|integrity/i.test(parsed.message)
        ? `cannot open the private key ${label}: ${passphrase ? 'wrong passphrase' : `it is encrypted (give the passphrase with ${say('identityPassphraseEnv')})`}`
        : `cannot use the private key ${label}: ${parsed.message}`,
    );
  if (Array.isArray(parsed) || !parsed.isPrivateKey())
    throw new UserError(`${label} holds no single private key (give the private key, not the .pub file)`);
  return { label, key, ...(passphrase ? { passphrase } : {}) };
}

/** A known_hosts file read and parsed: one none of whose lines is a known_hosts line is refused. */
function readKnownHostsFile(file: string): { file: string; text: string } {
  const { text } = knownHostsText(readFile(file, 'known_hosts file', MAX_KNOWN_HOSTS_BYTES));
  const parsed = parseKnownHosts(text);
  if (parsed.problems.length && !parsed.entries.length)
    throw new UserError(notKnownHostsSentence(file, parsed));
  return { file, text };
}

/**
 * The files probe flags name, each read once and checked as the probe uses it: the trust store
 * (--trust), the client certificate and key, the known_hosts file, the SSH private key; each
 * opened with its secret from the environment. What is absent was not asked for.
 */
export interface ProbeFiles {
  store?: TrustStore;
  identity?: ClientIdentity;
  knownHosts?: { file: string; text: string };
  sshIdentity?: SshOptions['identity'];
}

/** A file flag's problem, in one sentence (that names the file as its reader does). */
export interface FileProblem {
  flag: FileFlag;
  message: string;
}

/**
 * Reads and checks the files of `f` (ProbeFiles): never throws for a file, returns every problem
 * with the flag it belongs to (the secret's variable when it is not set, the key file when the
 * key is wrong); `say` names the settings in hints (FLAG_WORDS; an inventory's field names).
 * `probeOptions` takes the files, so that a module reads its own once for a whole run.
 */
export async function readProbeFiles(
  f: ProbeFlags,
  say: SettingWords = FLAG_WORDS,
): Promise<{ files: ProbeFiles; problems: FileProblem[] }> {
  const problems: FileProblem[] = [];
  const read = async <T>(flag: FileFlag, fn: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      problems.push({ flag: e instanceof FlagError ? e.flag : flag, message: e.message });
      return undefined;
    }
  };
  const store = f.trust
    ? await read('trust', () =>
        loadTrustStore({
          file: f.trust,
          ...(f.trustPasswordEnv
            ? { password: secretOf('trustPasswordEnv', f.trustPasswordEnv, 'trust store password') }
            : {}),
        }),
      )
    : undefined;
  const identity = await read('clientCert', () => clientIdentity(f, say));
  const knownHosts = f.knownHosts
    ? await read('knownHosts', () => readKnownHostsFile(f.knownHosts!))
    : undefined;
  const sshKey = await read('identity', () => sshIdentity(f, say));
  return {
    files: {
      ...(store ? { store } : {}),
      ...(identity ? { identity } : {}),
      ...(knownHosts ? { knownHosts } : {}),
      ...(sshKey ? { sshIdentity: sshKey } : {}),
    },
    problems,
  };
}

/** The SSH probe's options: the known_hosts file (`files`, else the user's when the URL is SSH's) and key. */
function sshOptions(
  f: ProbeFlags,
  files: ProbeFiles,
  login: { user?: string; password?: string },
  scheme: string,
): SshOptions {
  const o: SshOptions = { ...login, writeTest: !!f.writeTest };
  // As ssh: the user's ~/.ssh/known_hosts when none is named (and only when it exists).
  const fallback =
    !f.knownHosts && (scheme === 'sftp' || scheme === 'ssh') ? defaultKnownHostsFile() : undefined;
  const knownHosts =
    files.knownHosts ?? (fallback && existsSync(fallback) ? readKnownHostsFile(fallback) : undefined);
  if (knownHosts) o.knownHosts = knownHosts;
  if (files.sshIdentity) o.identity = files.sshIdentity;
  return o;
}

/**
 * The user of `-u`: curl's `-u user:secret` is split at the first colon and refused, the secret
 * never repeated (passwords come from an environment variable or the prompt, never the command line).
 */
function userOption(raw: string): string {
  const { user, hadSecret } = splitUserOption(raw);
  if (hadSecret)
    throw new UserError(
      `-u takes the user only, and the part after its colon was not used: give -u ${user || 'USER'} and the password with --password-env VAR or at the prompt (passwords never go on the command line)`,
    );
  if (!user) throw new UserError('-u takes a user name, not an empty one');
  return user;
}

/** The -H headers as [name, value]; a header that cannot be sent is a UserError naming it (headerProblem). */
function parseHeaders(raw: string[] = []): [string, string][] {
  return raw.map((h) => {
    const problem = headerProblem(h);
    if (problem) throw new UserError(`-H: ${problem}`);
    const i = h.indexOf(':');
    return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
  });
}

/** OAuth2 client credentials: the token is fetched here, so that a failure is the probe's first answer. */
/** OAuth2 client credentials from the flags; the secret only from an environment variable. */
function oauthSpec(f: ProbeFlags): OAuthSpec | undefined {
  if (!f.oauthTokenUrl) return undefined;
  if (!f.oauthClientId || !f.oauthSecretEnv)
    throw new UserError('OAuth2 needs --oauth-client-id and --oauth-secret-env with --oauth-token-url');
  try {
    new URL(f.oauthTokenUrl);
  } catch {
    throw new UserError(`"${f.oauthTokenUrl}" is not a URL (--oauth-token-url)`);
  }
  return {
    tokenUrl: f.oauthTokenUrl,
    clientId: f.oauthClientId,
    secret: secretFromEnv(f.oauthSecretEnv, 'OAuth2 client secret'),
  };
}

/**
 * The trust store that judges chains: the tenant's keystore (--tenant, with its deployed endpoints
 * for an inbound URL), a file (--trust), or Java's.
 */
async function trustStoreOf(target: string, f: ProbeFlags, files: ProbeFiles) {
  if (f.tenant) return (await import('./tenant.js')).tenantForProbe(f, target);
  return { store: files.store ?? (await loadTrustStore()) };
}

/** How many redirects a probe without --max-redirs follows toward a sender's client (inbound), as curl -L would, bounded. */
export const INBOUND_REDIRECTS = 5;

/**
 * The redirects a probe follows: --max-redirs when given; else none toward a receiver (outbound),
 * as Cloud Integration's HTTP receiver follows none (a 3xx ends the call: SAP's HTTP error
 * catalog, kb/out-http-redirect.yaml), and INBOUND_REDIRECTS toward the tenant (inbound).
 */
export function redirectsFor(
  target: string,
  f: Pick<ProbeFlags, 'maxRedirs' | 'direction'>,
): { maxRedirects: number; noRedirects?: string } {
  if (f.maxRedirs !== undefined) return { maxRedirects: f.maxRedirs };
  const direction = f.direction ?? defaultDirection(parseTarget(target));
  return direction === 'outbound'
    ? {
        maxRedirects: 0,
        noRedirects: "Cloud Integration's HTTP receiver follows no redirects; --max-redirs N follows them",
      }
    : { maxRedirects: INBOUND_REDIRECTS };
}

/**
 * The probe's options from its flags: trust store, client certificate, credentials, per protocol.
 * `read`: the flags' files already read (readProbeFiles), else they are read here. Throws UserError
 * for a flag, a file or a secret that cannot be used.
 */
export async function probeOptions(target: string, f: ProbeFlags, read?: ProbeFiles): Promise<ProbeOptions> {
  // Flags set by a caller rather than parsed from a command line get the same checks.
  secondsOption()(String(f.timeout));
  if (f.maxRedirs !== undefined) redirectsOption(String(f.maxRedirs));
  if (f.serviceKey && !f.tenant) throw new UserError('--service-key goes with --tenant');
  if (f.tenant && f.trust)
    throw new UserError("choose one of --tenant (the tenant's keystore) and --trust FILE");
  let files = read;
  if (!files) {
    const r = await readProbeFiles(f);
    if (r.problems[0]) throw new UserError(r.problems[0].message);
    files = r.files;
  }
  const { store, deployed } = await trustStoreOf(target, f, files);
  const identity = files.identity;
  const oauth = oauthSpec(f);
  // The user: -u (as curl, it wins), else the URL's (sftp://user@host).
  const { user: urlUser, scheme } = parseTarget(target);
  const user = f.user !== undefined ? userOption(f.user) : urlUser;
  let auth: { user: string; password: string } | undefined;
  // An SSH login with a private key needs no password.
  if (user && !f.identity) {
    const password = f.passwordEnv
      ? secretFromEnv(f.passwordEnv, 'password')
      : await promptSecret(`password for ${user}`, 'give it with --password-env VAR');
    auth = { user, password };
  }
  // SMTP, FTP and SFTP log in with the same user and password.
  const password = auth
    ? auth.password
    : f.passwordEnv
      ? secretFromEnv(f.passwordEnv, 'password')
      : undefined;
  const login = { ...(user ? { user } : {}), ...(password !== undefined ? { password } : {}) };
  const altPorts = altPortsFromEnv(process.env);
  const method = (f.method ?? (f.data !== undefined ? 'POST' : 'GET')).toUpperCase();
  return {
    target,
    ...(f.direction ? { direction: f.direction } : {}),
    timeoutMs: f.timeout * 1000,
    tls: { store, ...(identity ? { identity } : {}), ...(f.servername ? { servername: f.servername } : {}) },
    http: {
      method,
      headers: parseHeaders(f.header),
      ...(f.data !== undefined ? { data: f.data } : {}),
      ...(auth ? { auth } : {}),
      csrf: !!f.csrf,
      ...redirectsFor(target, f),
      locationTrusted: !!f.locationTrusted,
      ...(deployed ? { deployed } : {}),
    },
    smtp: {
      ...login,
      ...(f.from ? { from: f.from } : {}),
      ...(f.to ? { to: f.to } : {}),
      ...(altPorts ? { altPorts } : {}),
    },
    ftp: { ...login, writeTest: !!f.writeTest },
    ssh: sshOptions(f, files, login, scheme),
    ...(oauth ? { oauth } : {}),
  };
}

/**
 * A secret a probe sends in clear text: the user's password (Basic over http://, the login over
 * ftp://), the credential headers given with -H (Authorization, X-API-Key, Cookie, ...:
 * credentialHeaderNames), the OAuth client secret (to an http:// token URL), the OAuth token (to an
 * http:// target). The one rule of what travels in clear: `probe` and `check` warn of each
 * (clearTextWarnings), `serve` refuses each unless --plain-http-credentials.
 */
export type ClearTextSecret =
  | { kind: 'password'; user: string; to: string; unlessTls?: true }
  | { kind: 'headers'; names: string[]; to: string }
  | { kind: 'oauth-secret'; to: string }
  | { kind: 'oauth-token'; to: string };

/**
 * The secrets `opts` sends in clear text (ClearTextSecret), each with the origin it goes to
 * (`http://host[:port]`, `ftp://host[:port]`). `unlessTls`: plain FTP, whose password goes in clear
 * only if the server offers no AUTH TLS (known once connected; the login step says which). A
 * redirect's hop to http:// is not here: the HTTP step withholds credentials from it (http.ts).
 */
export function clearTextSecrets(opts: ProbeOptions): ClearTextSecret[] {
  const out: ClearTextSecret[] = [];
  const t = parseTarget(opts.target);
  const to = `${t.scheme}://${t.url.host}`;
  if (t.scheme === 'http' && opts.http.auth && 'password' in opts.http.auth)
    out.push({ kind: 'password', user: opts.http.auth.user, to });
  // FTP: AUTH TLS is tried first, but a server that does not offer it gets the password in clear.
  if (t.scheme === 'ftp' && opts.ftp?.password)
    out.push({ kind: 'password', user: opts.ftp.user ?? 'the user', to, unlessTls: true });
  // A credential the user put in a header (-H 'Authorization: ...', -H 'X-API-Key: ...') is one too.
  const names = credentialHeaderNames(opts.http.headers);
  if (t.scheme === 'http' && names.length) out.push({ kind: 'headers', names, to });
  if (opts.oauth) {
    const token = new URL(opts.oauth.tokenUrl);
    if (token.protocol === 'http:') out.push({ kind: 'oauth-secret', to: `http://${token.host}` });
    if (t.scheme === 'http') out.push({ kind: 'oauth-token', to });
  }
  return out;
}

/**
 * The warnings of a probe that sends a secret in clear text (clearTextSecrets): the user named the
 * host, so it is allowed, but said. One line each.
 */
export function clearTextWarnings(opts: ProbeOptions): string[] {
  const anyone = (them = 'it') => `(http://, not https://): anyone on the way can read ${them}`;
  return clearTextSecrets(opts).map((s) => {
    switch (s.kind) {
      case 'password':
        return s.unlessTls
          ? `the password of ${s.user} goes to ${s.to} in clear text if the server offers no AUTH TLS (the login step says which): anyone on the way could read it`
          : `the password of ${s.user} goes to ${s.to} in clear text ${anyone()}`;
      case 'headers':
        return s.names.length > 1
          ? `the ${andList(s.names)} headers go to ${s.to} in clear text ${anyone('them')}`
          : `the ${s.names[0]!} header goes to ${s.to} in clear text ${anyone()}`;
      case 'oauth-secret':
        return `the OAuth client secret goes to ${s.to} in clear text ${anyone()}`;
      case 'oauth-token':
        return `the OAuth token goes to ${s.to} in clear text ${anyone()}`;
    }
  });
}

/**
 * The warning of a credential given on the command line with -H (Authorization, X-API-Key, Cookie,
 * ...: credentialHeaderNames): it is in the process list and the shell's history, as --webhook's URL
 * would be. The header names only, never a value.
 */
export function argvSecretWarnings(opts: ProbeOptions): string[] {
  const named = credentialHeaderNames(opts.http.headers);
  if (!named.length) return [];
  return [
    `the ${andList(named)} ${named.length > 1 ? 'headers of -H put' : 'header of -H puts'} a credential on the command line, in the process list and the shell's history: for a user and password give -u USER with --password-env VAR, for OAuth2 --oauth-secret-env VAR; or keep the command out of the history`,
  ];
}

export async function probeCommand(target: string, f: ProbeFlags): Promise<void> {
  const kb = await loadKb({ dirs: f.kb ?? [] });
  const opts = await probeOptions(target, f);
  for (const w of [...argvSecretWarnings(opts), ...clearTextWarnings(opts)])
    process.stderr.write(printable(`linkdoctor: warning: ${w}\n`));
  const result = await probe(kb, opts);
  process.stdout.write(
    f.json
      ? `${jsonText(probeJson(result), 2)}\n`
      : fitOutput(
          renderProbe(result, colorsFor(process.stdout), {
            full: !!f.full,
            verbose: !!f.verbose,
            entryOf: (id) => kb.byId.get(id),
          }),
          !!f.full,
        ),
  );
  process.exitCode = result.ok ? 0 : 1;
}
