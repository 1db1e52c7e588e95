// Where the server's secrets may go. POST /api/probe lets a caller name a secret (passwordEnv:
// "LINKDOCTOR_SFTP_PASSWORD") and a target: without a rule the server would send the operator's
// password to whatever host the caller names. `serve --secret-targets VAR=host[:port][,host...]`
// (and an inventory's targets, for their module's password_env and oauth_secret_env) binds each
// variable to the hosts the operator named; a request may send it to those hosts and no others.
// A secret that opens a file (a trust store's or a key's password) is bound to files the same way
// (`VAR=/path/to/file`, or an inventory module's trust with its trust_password_env, ...): else a
// caller could try every secret of the server on a store made with a guessed password, and learn
// from the answer ("the password is wrong") whether the guess was right.
import { realpathSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { hostPort, UserError } from '../errors.js';
import type { Inventory } from '../watch/inventory.js';
import { parseTarget } from '../probe/target.js';

/** Environment variables a request may name for a secret. */
export const SECRET_ENV = /^LINKDOCTOR_[A-Z0-9_]+$/;
/** LINKDOCTOR_* variables that are no secret a probe sends: the server's own token, its settings. */
export const NOT_SECRETS: ReadonlySet<string> = new Set([
  'LINKDOCTOR_TOKEN',
  'LINKDOCTOR_SERVICE_KEY',
  'LINKDOCTOR_SMTP_ALT_PORTS',
]);

/** One host a secret may go to: its name or address as a URL writes it (lower case), and a port or any. */
export interface SecretHost {
  host: string;
  port?: number;
}

/** One file a secret may open: its real path (symbolic links resolved). */
export interface SecretFile {
  file: string;
}

export type SecretBinding = SecretHost | SecretFile;

/** Each secret's name and the hosts (and files) it is bound to. */
export type SecretTargets = Map<string, SecretBinding[]>;

const isFileBinding = (b: SecretBinding): b is SecretFile => 'file' in b;
const hostsOf = (list: readonly SecretBinding[] = []): SecretHost[] =>
  list.filter((b): b is SecretHost => !isFileBinding(b));

/** A file's path as bindings compare it: absolute, symbolic links resolved (as given when it does not exist). */
export function realFile(file: string): string {
  const abs = resolve(file);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

/**
 * A host as WHATWG URL parsing writes it, brackets dropped: lower case, IPv4 in dotted decimal
 * (0x7f.1 is 127.0.0.1), IPv6 compressed. So a target and a binding compare as the probe connects.
 * undefined for a host that is not one.
 */
export function canonicalHost(host: string): string | undefined {
  const h = host.replace(/^\[|\]$/g, '');
  try {
    return new URL(`http://${isIP(h) === 6 ? `[${h}]` : h}/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/** "host", "host:port", "[v6]:port" or a bare IPv6 address → SecretHost; undefined when it is none. */
function parseHost(raw: string): SecretHost | undefined {
  const e = raw.trim();
  let host = e;
  let port: number | undefined;
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(e);
  if (m) {
    host = m[1]!;
    port = Number(m[2]);
    if (port < 1 || port > 65535) return undefined;
  }
  if (!/^\[?[a-zA-Z0-9.:-]+\]?$/.test(host) || (host.includes(':') && !isIP(host.replace(/^\[|\]$/g, ''))))
    return undefined;
  const canonical = canonicalHost(host);
  return canonical ? { host: canonical, ...(port !== undefined ? { port } : {}) } : undefined;
}

/** The check of a secret's name, in one sentence; undefined when a request may name it. */
export function secretNameProblem(name: string): string | undefined {
  if (!SECRET_ENV.test(name))
    return `${name} is not a LINKDOCTOR_* variable, the only ones a request may name`;
  if (NOT_SECRETS.has(name)) return `${name} is the server's own setting, not a secret to send anywhere`;
  return undefined;
}

/**
 * Adds one `--secret-targets` entry, `LINKDOCTOR_VAR=host[:port][,host[:port]...]`, to `into`
 * (entries for the same variable add up); an absolute path instead of a host binds a secret that
 * opens a file (a store's or a key's password) to that file. Throws UserError naming the flag and
 * what is wrong.
 */
export function addSecretTargets(entry: string, into: SecretTargets = new Map()): SecretTargets {
  const i = entry.indexOf('=');
  const name = i > 0 ? entry.slice(0, i).trim() : '';
  const shown = (s: string) => s.slice(0, 60).replace(/[^\x20-\x7e]/g, '?');
  if (!name)
    throw new UserError(`--secret-targets takes LINKDOCTOR_VAR=host[:port][,host...], not "${shown(entry)}"`);
  const problem = secretNameProblem(name);
  if (problem) throw new UserError(`--secret-targets: ${shown(problem)}`);
  const hosts = entry
    .slice(i + 1)
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  if (!hosts.length) throw new UserError(`--secret-targets: ${name}= names no host`);
  const list = into.get(name) ?? [];
  for (const raw of hosts) {
    const h = isAbsolute(raw) ? { file: realFile(raw) } : parseHost(raw);
    if (!h)
      throw new UserError(
        `--secret-targets: "${shown(raw)}" (for ${name}) is not a host name or address with an optional :port, nor an absolute file path`,
      );
    addBinding(list, h);
  }
  into.set(name, list);
  return into;
}

function addBinding(list: SecretBinding[], b: SecretBinding): void {
  const known = isFileBinding(b)
    ? list.some((x) => isFileBinding(x) && x.file === b.file)
    : hostsOf(list).some((x) => x.host === b.host && (x.port === undefined || x.port === b.port));
  if (!known) list.push(b);
}

/**
 * Binds the secrets an inventory's modules send to the hosts of the targets that use them, as the
 * operator wrote them: password_env to each target's host and port; oauth_secret_env to its token
 * URL's host and port (where the secret goes) and to each target's (where the token it buys goes).
 * Variables a request may not name are left out.
 */
export function inventorySecretTargets(inventory: Inventory, into: SecretTargets = new Map()): SecretTargets {
  const bind = (name: string | undefined, to: SecretBinding | undefined) => {
    if (!name || !to || secretNameProblem(name)) return;
    const list = into.get(name) ?? [];
    addBinding(list, to);
    into.set(name, list);
  };
  const file = (path: string | undefined) => (path ? { file: realFile(path) } : undefined);
  for (const t of inventory.targets) {
    let target: SecretHost | undefined;
    try {
      const p = parseTarget(t.requestUrl);
      const host = canonicalHost(p.host);
      target = host ? { host, port: p.port } : undefined;
    } catch {
      continue;
    }
    bind(t.module.password_env, target);
    bind(t.module.trust_password_env, file(t.module.trust));
    bind(t.module.client_cert_password_env, file(t.module.client_key ?? t.module.client_cert));
    bind(t.module.identity_passphrase_env, file(t.module.identity));
    if (t.module.oauth_secret_env && t.module.oauth_token_url) {
      bind(t.module.oauth_secret_env, urlHost(t.module.oauth_token_url));
      bind(t.module.oauth_secret_env, target);
    }
  }
  return into;
}

/** The host and port an http(s) URL connects to; undefined for one that does not parse. */
export function urlHost(url: string | URL): SecretHost | undefined {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    const host = canonicalHost(u.hostname);
    if (!host) return undefined;
    return { host, port: u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443 };
  } catch {
    return undefined;
  }
}

/** "api.example.com, 10.0.0.5:8443, /etc/ld/trust.p12": the hosts (and files) as an operator writes them. */
export function hostsText(bindings: readonly SecretBinding[]): string {
  return bindings.map((b) => (isFileBinding(b) ? b.file : hostText(b))).join(', ');
}

/** "host", "host:port", "[::1]:port". */
export function hostText(h: SecretHost): string {
  if (h.port !== undefined) return hostPort(h.host, h.port);
  return h.host.includes(':') ? `[${h.host}]` : h.host;
}

/** Whether `to` is one of the hosts `name` is bound to (a binding without a port takes every port). */
export function boundTo(targets: SecretTargets, name: string, to: SecretHost): boolean {
  return hostsOf(targets.get(name)).some(
    (h) => h.host === to.host && (h.port === undefined || h.port === to.port),
  );
}

/**
 * Why `name` may not go to `to` (what it is, "the password", says what is sent), in one sentence
 * naming the hosts it is bound to and the flag that binds it; undefined when it may.
 */
export function secretRefusal(
  targets: SecretTargets,
  name: string,
  to: SecretHost,
  what: string,
): string | undefined {
  if (boundTo(targets, name, to)) return undefined;
  const hosts = hostsOf(targets.get(name));
  const bind = `serve --secret-targets ${name}=HOST[:PORT] binds it`;
  return hosts.length
    ? `${name} is bound to ${hostsText(hosts)}, not to ${hostText(to)}, where ${what} would go: a request may send it only to the hosts it is bound to (${bind})`
    : `${name} is bound to no host, so no request may use it (${bind}, and so does an inventory module that names it, for the module's targets)`;
}

/**
 * Why `name` may not open `file` (what it is, "the trust store password", says how it is used), in
 * one sentence naming the files it is bound to and how to bind it; undefined when it may. A secret
 * bound to hosts only opens no file: that it is sent somewhere says nothing about which store it
 * is the password of.
 */
export function fileRefusal(
  targets: SecretTargets,
  name: string,
  file: string,
  what: string,
): string | undefined {
  const real = realFile(file);
  const files = (targets.get(name) ?? []).filter(isFileBinding).map((b) => b.file);
  if (files.includes(real)) return undefined;
  const bind = `serve --secret-targets ${name}=/PATH/TO/FILE binds it`;
  return files.length
    ? `${name} is bound to ${files.join(', ')}, not to ${file}, which it would open as ${what}: a request may use it only on the files it is bound to (${bind})`
    : `${name} is bound to no file, so no request may use it as ${what} (${bind}, and so does an inventory module that names it with its file)`;
}
