// Errors a user can act on: printed as one sentence, exit code 2 (usage or input error).
import { printable } from './report/printable.js';

export class UserError extends Error {
  override name = 'UserError';
  /** The sentence is made printable: it often quotes a file name, a host or a peer's answer. */
  constructor(message: string, options?: ErrorOptions) {
    super(printable(message), options);
  }
}

/** An answer that is not a TLS handshake: a plain-text server on the port the client meant for TLS. */
export const NOT_TLS = /wrong version number|packet length too long|unknown protocol|record layer failure/i;

/**
 * `host:port` as a sentence names it: an IPv6 address in brackets (`[::1]:22`), as URLs, ssh and
 * known_hosts write it, so that the port cannot be read as part of the address.
 */
export function hostPort(host: string, port: number | string): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}

/** A socket error in one sentence a user can act on. */
export function describeError(e: NodeJS.ErrnoException, where: string): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${where} refused the connection (nothing listens on that port, or a firewall rejects it)`;
    case 'ECONNRESET':
      return `${where} closed the connection abruptly (reset)`;
    case 'ETIMEDOUT':
      return `${where} did not answer in time`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} is unreachable from here (no route)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: the name does not resolve (DNS)`;
    default:
      // Node's message may quote the peer (a TLS alert text, a parse error): printable.
      return printable(`${where}: ${e.message}`);
  }
}
