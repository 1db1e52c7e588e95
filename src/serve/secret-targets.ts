// Where the server's secrets may go. POST /api/probe lets a caller name a secret (passwordEnv:
// "LINKDOCTOR_SFTP_PASSWORD") and a target: without a rule the server would send the operator's
// password to whatever host the caller names. `serve --secret-targets VAR=host[:port][,host...]`
// (and an inventory's targets, for their module's password_env and oauth_secret_env) binds each
// variable to the hosts the operator named; a request may send it to those hosts and no others.
import { isIP } from 'node:net';
import { UserError } from '../errors.js';
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

/** Each secret's name and the hosts it is bound to. */
export type SecretTargets = Map<string, SecretHost[]>;

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
 * (entries for the same variable add up). Throws UserError naming the flag and what is wrong.
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
    const h = parseHost(raw);
    if (!h)
      throw new UserError(
        `--secret-targets: "${shown(raw)}" (for ${name}) is not a host name or address with an optional :port`,
      );
    addHost(list, h);
  }
  into.set(name, list);
  return into;
}

function addHost(list: SecretHost[], h: SecretHost): void {
  if (!list.some((x) => x.host === h.host && (x.port === undefined || x.port === h.port))) list.push(h);
}

/**
 * Binds the secrets an inventory's modules send to the hosts of the targets that use them, as the
 * operator wrote them: password_env to each target's host and port; oauth_secret_env to its token
 * URL's host and port (where the secret goes) and to each target's (where the token it buys goes).
 * Variables a request may not name are left out.
 */
export function inventorySecretTargets(inventory: Inventory, into: SecretTargets = new Map()): SecretTargets {
  const bind = (name: string | undefined, host: SecretHost | undefined) => {
    if (!name || !host || secretNameProblem(name)) return;
    const list = into.get(name) ?? [];
    addHost(list, host);
    into.set(name, list);
  };
  for (const t of inventory.targets) {
    let target: SecretHost | undefined;
    try {
      const p = parseTarget(t.url);
      const host = canonicalHost(p.host);
      target = host ? { host, port: p.port } : undefined;
    } catch {
      continue;
    }
    bind(t.module.password_env, target);
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

/** "api.example.com, 10.0.0.5:8443": the hosts as an operator writes them. */
export function hostsText(hosts: readonly SecretHost[]): string {
  return hosts.map(hostText).join(', ');
}

/** "host", "host:port", "[::1]:port". */
export function hostText(h: SecretHost): string {
  const host = h.host.includes(':') ? `[${h.host}]` : h.host;
  return h.port === undefined ? host : `${host}:${h.port}`;
}

/** Whether `to` is one of the hosts `name` is bound to (a binding without a port takes every port). */
export function boundTo(targets: SecretTargets, name: string, to: SecretHost): boolean {
  return (targets.get(name) ?? []).some(
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
  const hosts = targets.get(name) ?? [];
  const bind = `serve --secret-targets ${name}=HOST[:PORT] binds it`;
  return hosts.length
    ? `${name} is bound to ${hostsText(hosts)}, not to ${hostText(to)}, where ${what} would go: a request may send it only to the hosts it is bound to (${bind})`
    : `${name} is bound to no host, so no request may use it (${bind}, and so does an inventory module that names it, for the module's targets)`;
}
