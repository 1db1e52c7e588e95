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
import { defaultKnownHostsFile, MAX_KNOWN_HOSTS_BYTES } from '../ssh/known-hosts.js';
import { loadTrustStore } from '../trust/store.js';
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

/** The client certificate to present: a PKCS#12 file, or PEM certificate (and key, here or in --client-key). */
function clientIdentity(f: ProbeFlags): ClientIdentity | undefined {
  if (!f.clientCert) return undefined;
  const raw = readFile(f.clientCert, 'client certificate');
  const label = basename(f.clientCert);
  let id: ClientIdentity;
  if (raw.includes('-----BEGIN')) {
    const pem = raw.toString('utf8');
    const key = f.clientKey ? readFile(f.clientKey, 'client key').toString('utf8') : pem;
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key))
      throw new UserError(`${label} holds no private key: give it with --client-key FILE`);
    id = {
      label,
      cert: pem,
      key,
      ...(f.clientCertPasswordEnv
        ? { passphrase: secretFromEnv(f.clientCertPasswordEnv, 'client key password') }
        : {}),
    };
  } else {
    const passphrase = f.clientCertPasswordEnv
      ? secretFromEnv(f.clientCertPasswordEnv, 'client certificate password')
      : '';
    id = { label, pfx: raw, passphrase };
  }
  try {
    createSecureContext({ pfx: id.pfx, passphrase: id.passphrase, cert: id.cert, key: id.key });
  } catch (e) {
    const msg = (e as Error).message;
    throw new UserError(
      /mac verify|bad decrypt|password/i.test(msg)
        ? `cannot open the client certificate ${label}: wrong password (give it with --client-cert-password-env VAR)`
        : id.pfx
          ? `${label} is neither a PKCS#12 file nor a PEM certificate with its key`
          : `cannot use the client certificate ${label}: ${msg.replace(/^error:\w+:/, '')}`,
    );
  }
  return id;
}

/** The SSH probe's files and secrets: the known_hosts file, and the private key, checked here so that
 * a wrong passphrase is a clear error rather than a refused login. */
async function sshOptions(
  f: ProbeFlags,
  login: { user?: string; password?: string },
  scheme: string,
): Promise<SshOptions> {
  const o: SshOptions = { ...login, writeTest: !!f.writeTest };
  // As ssh: the user's ~/.ssh/known_hosts when none is named (and only when it exists).
  const fallback = scheme === 'sftp' || scheme === 'ssh' ? defaultKnownHostsFile() : undefined;
  const knownHosts = f.knownHosts ?? (fallback && existsSync(fallback) ? fallback : undefined);
  if (knownHosts)
    o.knownHosts = {
      file: knownHosts,
      text: readFile(knownHosts, 'known_hosts file', MAX_KNOWN_HOSTS_BYTES).toString('utf8'),
    };
  if (f.identity) {
    const key = readFile(f.identity, 'private key');
    const passphrase = f.identityPassphraseEnv
      ? secretFromEnv(f.identityPassphraseEnv, 'private key passphrase')
      : undefined;
    // ssh2 is CommonJS: Node names only some of its exports, utils is on the default one.
    const { utils } = (await import('ssh2')).default;
    const parsed = utils.parseKey(key, passphrase);
    const label = basename(f.identity);
    if (parsed instanceof Error)
      throw new UserError(
        /passphrase|decrypt|integrity/i.test(parsed.message)
          ? `cannot open the private key ${label}: ${passphrase ? 'wrong passphrase' : 'it is encrypted (give the passphrase with --identity-passphrase-env VAR)'}`
          : `cannot use the private key ${label}: ${parsed.message}`,
      );
    if (Array.isArray(parsed) || !parsed.isPrivateKey())
      throw new UserError(`${label} holds no single private key (give the private key, not the .pub file)`);
    o.identity = { label, key, ...(passphrase ? { passphrase } : {}) };
  }
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
async function trustStoreOf(target: string, f: ProbeFlags) {
  if (f.serviceKey && !f.tenant) throw new UserError('--service-key goes with --tenant');
  if (f.tenant && f.trust)
    throw new UserError("choose one of --tenant (the tenant's keystore) and --trust FILE");
  if (f.tenant) return (await import('./tenant.js')).tenantForProbe(f, target);
  return {
    store: await loadTrustStore({
      ...(f.trust ? { file: f.trust } : {}),
      ...(f.trustPasswordEnv ? { password: secretFromEnv(f.trustPasswordEnv, 'trust store password') } : {}),
    }),
  };
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

/** The probe's options from its flags: trust store, client certificate, credentials, per protocol. */
export async function probeOptions(target: string, f: ProbeFlags): Promise<ProbeOptions> {
  // Flags set by a caller rather than parsed from a command line get the same checks.
  secondsOption()(String(f.timeout));
  if (f.maxRedirs !== undefined) redirectsOption(String(f.maxRedirs));
  const { store, deployed } = await trustStoreOf(target, f);
  const identity = clientIdentity(f);
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
    ssh: await sshOptions(f, login, scheme),
    ...(oauth ? { oauth } : {}),
  };
}

/**
 * The warnings of a probe that sends a secret in clear text (http://, ftp:// without AUTH TLS): the
 * user named the host, so it is allowed, but said. One line each: Basic credentials, the FTP password,
 * the credential headers given with -H (Authorization, X-API-Key, Cookie, ...), the OAuth client
 * secret, the OAuth token.
 */
export function clearTextWarnings(opts: ProbeOptions): string[] {
  const out: string[] = [];
  const t = parseTarget(opts.target);
  const origin = `http://${t.url.host}`;
  if (t.scheme === 'http' && opts.http.auth && 'password' in opts.http.auth)
    out.push(
      `the password of ${opts.http.auth.user} goes to ${origin} in clear text (http://, not https://): anyone on the way can read it`,
    );
  // FTP: AUTH TLS is tried first, but a server that does not offer it gets the password in clear.
  if (t.scheme === 'ftp' && opts.ftp?.password)
    out.push(
      `the password of ${opts.ftp.user ?? 'the user'} goes to ftp://${t.url.host} in clear text if the server offers no AUTH TLS (the login step says which): anyone on the way could read it`,
    );
  // A credential the user put in a header (-H 'Authorization: ...', -H 'X-API-Key: ...') is one too.
  const named = credentialHeaderNames(opts.http.headers);
  if (t.scheme === 'http' && named.length)
    out.push(
      `the ${andList(named)} ${named.length > 1 ? 'headers go' : 'header goes'} to ${origin} in clear text (http://, not https://): anyone on the way can read ${named.length > 1 ? 'them' : 'it'}`,
    );
  if (opts.oauth) {
    const token = new URL(opts.oauth.tokenUrl);
    if (token.protocol === 'http:')
      out.push(
        `the OAuth client secret goes to http://${token.host} in clear text (http://, not https://): anyone on the way can read it`,
      );
    if (t.scheme === 'http')
      out.push(
        `the OAuth token goes to ${origin} in clear text (http://, not https://): anyone on the way can read it`,
      );
  }
  return out;
}

export async function probeCommand(target: string, f: ProbeFlags): Promise<void> {
  const kb = await loadKb({ dirs: f.kb ?? [] });
  const opts = await probeOptions(target, f);
  for (const w of clearTextWarnings(opts)) process.stderr.write(printable(`linkdoctor: warning: ${w}\n`));
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
