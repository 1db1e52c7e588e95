// What a probe target is: a URL, its port, and which way the platform would call it.
import { UserError } from '../errors.js';
import type { Direction } from '../types.js';

export interface Target {
  url: URL;
  scheme: string;
  host: string;
  port: number;
  /** The user named in the URL (sftp://user@host); a password there is refused. */
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

export function parseTarget(raw: string): Target {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new UserError(`"${raw}" is not a URL (e.g. https://host:443/path)`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (!SUPPORTED.includes(scheme))
    throw new UserError(`the probe cannot test ${scheme}:// yet (it tests ${SUPPORTED.join(', ')})`);
  if (!url.hostname) throw new UserError(`"${raw}" has no host`);
  if (url.username || url.password)
    throw new UserError(
      'put no credentials in the URL: use -u USER with --password-env VAR (passwords never go on the command line)',
    );
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { url, scheme, host, port: url.port ? Number(url.port) : DEFAULT_PORTS[scheme]! };
}

/** A Cloud Integration runtime host: calls to it are inbound (a sender calls the tenant). */
const RUNTIME_HOST = /(?:-rt\.cfapps\.|\.it-cpi\w*\.|-iflmap\.|\.integrationsuite\w*\.)/i;

export function defaultDirection(t: Target): Direction {
  return RUNTIME_HOST.test(t.host) ? 'inbound' : 'outbound';
}
