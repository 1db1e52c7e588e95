// What a probe target is: a URL, its port, and which way the platform would call it.
import { UserError } from '../errors.js';
import type { Direction } from '../types.js';

export interface Target {
  url: URL;
  scheme: string;
  host: string;
  port: number;
  /** The user named in the URL (sftp://user@host, decoded); a password there is refused. */
  user?: string;
}

const DEFAULT_PORTS: Record<string, number> = {
  https: 443,
  http: 80,
  sftp: 22,
  ssh: 22,
  smtp: 25,
  smtps: 465,
  ftp: 21,
  ftps: 990,
};
/** Schemes the probe can test. */
export const SUPPORTED = ['https', 'http', 'sftp', 'ssh', 'smtp', 'smtps', 'ftp', 'ftps'];

/**
 * Parses a target URL (a bare host is https); throws a UserError naming what is wrong. `passwordFrom`
 * says where passwords come from where the URL was written (the CLI's flag, an inventory's field).
 */
export function parseTarget(
  raw: string,
  passwordFrom = '--password-env VAR or the prompt, never the command line',
): Target {
  // "ftp//host": a scheme whose colon is missing, which would otherwise be probed as
  // https://ftp//host and end in a DNS failure of a host nobody named.
  const typo = /^([a-z][a-z0-9+.-]*)\/\//i.exec(raw);
  if (typo && SUPPORTED.includes(typo[1]!.toLowerCase()))
    throw new UserError(
      `"${raw}" is not a URL: a scheme is followed by "://" (${typo[1]!.toLowerCase()}://${raw.slice(typo[0].length)})`,
    );
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    // The WHATWG parser refuses a port above 65535 with the rest: say that it is the port.
    const port =
      /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[^/?#@]*@)?(?:\[[^\]/]*\]|[^/?#:@[]*):(\d+)(?:[/?#]|$)/i.exec(raw)?.[1];
    if (port && Number(port) > 65535)
      throw new UserError(`"${raw}": port ${port} is out of range (a port is 1 to 65535)`);
    throw new UserError(`"${raw}" is not a URL (e.g. https://host:443/path)`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (!SUPPORTED.includes(scheme))
    throw new UserError(`the probe cannot test ${scheme}:// yet (it tests ${SUPPORTED.join(', ')})`);
  if (!url.hostname) throw new UserError(`"${raw}" has no host`);
  // A user name is no secret (sftp://user@host is how people write it); a password is, and the URL
  // is printed everywhere. The sentence names neither.
  if (url.password)
    throw new UserError(
      `the URL holds a password: name only the user in it (sftp://user@host); passwords come from ${passwordFrom}`,
    );
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let user: string | undefined;
  try {
    user = url.username ? decodeURIComponent(url.username) : undefined;
  } catch {
    throw new UserError(`the user name in "${raw}" is not valid percent-encoding`);
  }
  // Nothing of the user part in the URL the reports print: the user is reported on its own.
  url.username = '';
  return {
    url,
    scheme,
    host,
    port: url.port ? Number(url.port) : DEFAULT_PORTS[scheme]!,
    ...(user ? { user } : {}),
  };
}

/**
 * curl's `-u user:secret`, split at the first colon: the user, and whether a secret followed it. The
 * secret itself is never returned, so it cannot reach an output.
 */
export function splitUserOption(raw: string): { user: string; hadSecret: boolean } {
  const i = raw.indexOf(':');
  return i === -1 ? { user: raw, hadSecret: false } : { user: raw.slice(0, i), hadSecret: true };
}

/** A Cloud Integration runtime host: calls to it are inbound (a sender calls the tenant). */
const RUNTIME_HOST = /(?:-rt\.cfapps\.|\.it-cpi\w*\.|-iflmap\.|\.integrationsuite\w*\.)/i;

export function defaultDirection(t: Target): Direction {
  return RUNTIME_HOST.test(t.host) ? 'inbound' : 'outbound';
}
