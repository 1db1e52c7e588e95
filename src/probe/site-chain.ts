// The chain a server sends, for `trust add-from-site`: the probe's own handshakes, so that what the
// probe shows and what add-from-site adds come from the same bytes. https (and a bare host:port):
// the tls step's handshake, whose tap keeps a TLS 1.2 server's certificates even when it then ends
// the handshake with an alert (a server that wants a client certificate); smtp:// and ftp://: the
// probe's STARTTLS and AUTH TLS sessions, as `openssl s_client -starttls smtp|ftp` does; smtps:// and
// ftps://: TLS from the first byte.
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { describeError, hostPort, NOT_TLS, UserError } from '../errors.js';
import { isolatedTlsOptions, peerChain, sniName } from '../trust/fetch.js';
import { authTlsSocket } from './ftp.js';
import { starttlsSocket } from './smtp.js';
import { alertOf, handshake } from './tls.js';
import { upgradeOptions } from './tls-upgrade.js';

/** The schemes add-from-site takes, with their default ports and how TLS starts on them. */
export const SITE_SCHEMES: Record<string, { port: number; starts?: 'STARTTLS' | 'AUTH TLS' }> = {
  https: { port: 443 },
  smtps: { port: 465 },
  ftps: { port: 990 },
  smtp: { port: 25, starts: 'STARTTLS' },
  ftp: { port: 21, starts: 'AUTH TLS' },
};

export interface SiteChain {
  /** Leaf first, as sent. */
  chain: X509Certificate[];
  /** The TLS version and cipher suite agreed, or "unknown" when the handshake did not complete. */
  protocol: string;
  cipher: string;
  /** The alert that ended the handshake after the server had sent its certificates. */
  alert?: string;
  /** Whether the server asked for a client certificate (read from the handshake; undefined: not known). */
  clientCertRequested?: boolean;
  /** STARTTLS or AUTH TLS when the protocol started TLS. */
  starts?: 'STARTTLS' | 'AUTH TLS';
}

/** One sentence for a handshake that gave no certificate. */
function failure(
  e: NodeJS.ErrnoException,
  host: string,
  port: number,
  timeoutMs: number,
  starts?: string,
): UserError {
  const at = hostPort(host, port);
  const after = starts ? ` after ${starts}` : '';
  const alert = alertOf(e);
  if (alert)
    return new UserError(
      `${at} ended the TLS handshake${after} with the alert ${alert} before sending a certificate`,
    );
  if (e.code === 'ABORT_ERR')
    return new UserError(`${at} did not complete a TLS handshake${after} within ${timeoutMs / 1000} s`);
  if (e.code === 'ECONNRESET')
    return new UserError(`${at} closed the connection during the TLS handshake${after}`);
  if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || NOT_TLS.test(e.message))
    return new UserError(
      `${at} does not speak TLS (its answer is not a TLS handshake)${starts ? '' : '; for a mail or FTP server give smtp:// or ftp:// to start TLS with STARTTLS or AUTH TLS'}`,
    );
  return new UserError(describeError(e, at));
}

const abortError = () => Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });

function fromSocket(socket: TLSSocket, starts?: SiteChain['starts']): SiteChain {
  return {
    chain: peerChain(socket),
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.standardName ?? 'unknown',
    ...(starts ? { starts } : {}),
  };
}

/**
 * Connects to `host:port` as `scheme` says (SITE_SCHEMES), takes the certificates the server sends,
 * and hangs up. Throws one UserError within `timeoutMs` when it gets none: the alert, the refusal of
 * STARTTLS or AUTH TLS, or the connection error, in one sentence.
 */
export async function siteChain(
  scheme: string,
  host: string,
  port: number,
  opts: { servername?: string; timeoutMs: number },
): Promise<SiteChain> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const starts = SITE_SCHEMES[scheme]?.starts;
  const tls = upgradeOptions(host, opts.servername);
  if (starts) {
    let session: { socket: TLSSocket; close: () => void };
    try {
      session =
        starts === 'STARTTLS'
          ? await starttlsSocket(host, port, tls, opts.timeoutMs, signal)
          : await authTlsSocket(host, port, tls, opts.timeoutMs, signal);
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { code?: string | number; response?: string };
      if (signal.aborted) throw failure(abortError(), host, port, opts.timeoutMs, starts);
      // Offered, then refused (RFC 3207's 454 "TLS not available"): the server's answer, not "not offered".
      if (err.code === 'ETLS' && err.response && !alertOf(err))
        throw new UserError(
          `${hostPort(host, port)} refused STARTTLS: ${err.response.trim().split('\n')[0]!.slice(0, 200)}${/^454\b/.test(err.response.trim()) ? ' (its own TLS setup is broken: a certificate or key it cannot load)' : ''}`,
        );
      if (err.code === 'ETLS' && !alertOf(err))
        throw new UserError(
          `${hostPort(host, port)} does not offer STARTTLS (its EHLO answer does not list it)`,
        );
      if (typeof err.code === 'number')
        throw new UserError(`${hostPort(host, port)} refused AUTH TLS: ${err.message}`);
      throw failure(err, host, port, opts.timeoutMs, starts);
    }
    try {
      return fromSocket(session.socket, starts);
    } finally {
      session.close();
    }
  }
  const name = sniName(host, opts.servername);
  const h = await handshake(
    { ...isolatedTlsOptions(), host, port, ...(name ? { servername: name } : {}) },
    undefined,
    false,
    signal,
  );
  const result: SiteChain = {
    chain: h.chain ?? [],
    protocol: h.protocol ?? 'unknown',
    cipher: h.cipher ?? 'unknown',
    ...(h.request.requested !== undefined ? { clientCertRequested: h.request.requested } : {}),
  };
  h.socket?.destroy();
  const alert = h.error ? alertOf(h.error) : undefined;
  if (!result.chain.length) {
    // The bound ended it (the handshake reports the socket it closed as the server's doing): a
    // silent or stalled server, not one that closed the connection.
    if (signal.aborted) throw failure(abortError(), host, port, opts.timeoutMs);
    if (h.error) throw failure(h.error, host, port, opts.timeoutMs);
    throw new UserError(`${hostPort(host, port)} completed the handshake without sending a certificate`);
  }
  return alert ? { ...result, alert } : result;
}
