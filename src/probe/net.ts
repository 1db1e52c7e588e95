// The dns and tcp steps: can the name be resolved, and does the port accept a connection.
import { lookup } from 'node:dns/promises';
import { connect, isIP, type LookupFunction, type Socket } from 'node:net';
import type { ProbeOptions } from './run.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';
import { hostPort } from '../errors.js';

/**
 * How the probe resolves a host name: every address, in the resolver's order. Rejects with the
 * resolver's error (a NodeJS.ErrnoException with `code`, ENOTFOUND say).
 */
export type Resolve = (host: string) => Promise<string[]>;

/** The system's resolver (getaddrinfo, as the platform's Java runtime uses it): dns.lookup, all addresses. */
export const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * A Node `lookup` function (for http.request, net.connect) that answers from `resolve`: a server that
 * checked a name's addresses before the probe (src/serve/targets.ts) passes its record of them, so a
 * request that opens a connection of its own goes to exactly the addresses checked, while the URL,
 * the Host header and the TLS server name stay the name.
 */
export function lookupFrom(resolve: Resolve): LookupFunction {
  return (host, options, callback) => {
    resolve(host.replace(/^\[|\]$/g, '')).then(
      (all) => {
        const found = all.map((address) => ({ address, family: isIP(address) }));
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = wanted ? found.filter((a) => a.family === wanted) : found;
        if (!usable.length)
          return callback(
            Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }),
            '',
            0,
          );
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (e: NodeJS.ErrnoException) => callback(e, '', 0),
    );
  };
}

/**
 * The probe's options with every name resolved by `resolve`: the dns step (whose addresses the tcp,
 * tls, ssh, smtp and ftp steps connect to), and the requests of the http and oauth steps that open
 * connections of their own (a CSRF fetch, a retry, the token URL). Nothing else is changed.
 */
export function pinResolution(opts: ProbeOptions, resolve: Resolve): ProbeOptions {
  const lookup = lookupFrom(resolve);
  return {
    ...opts,
    resolve,
    http: { ...opts.http, lookup },
    ...(opts.oauth ? { oauth: { ...opts.oauth, lookup } } : {}),
  };
}

/** The dns step: resolves `host` with `resolve` (default: the system's) into `into.addresses`. */
export async function dnsStep(
  host: string,
  into: { addresses: string[] },
  resolve: Resolve = systemResolve,
): Promise<StepOutcome> {
  if (isIP(host)) {
    into.addresses = [host];
    return { ok: true, detail: `${host} (an address: nothing to resolve)` };
  }
  try {
    into.addresses = await resolve(host);
    if (!into.addresses.length)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return { ok: true, detail: `${host} → ${into.addresses.join(', ')}` };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const notFound = err.code === 'ENOTFOUND';
    return {
      ok: false,
      detail: notFound
        ? `${host} does not resolve (no such name)`
        : `${host} could not be resolved (${err.code})`,
      signals: [...errorSignals(err), { type: 'host', value: host }],
      text: `getaddrinfo ${err.code} ${host}`,
    };
  }
}

/** Connects to the first address that accepts; `keep` receives the socket when it should stay open. */
export function tcpStep(
  addresses: string[],
  port: number,
  signal: AbortSignal,
  keep?: (s: Socket) => void,
): Promise<StepOutcome> {
  return new Promise((resolve) => {
    const address = addresses[0]!;
    const socket = connect({ host: address, port });
    const where = hostPort(address, port);
    const abort = () => socket.destroy();
    signal.addEventListener('abort', abort, { once: true });
    socket.once('connect', () => {
      // A kept socket outlives the step (whose signal fires when it ends): its new owner closes it.
      signal.removeEventListener('abort', abort);
      if (keep) keep(socket);
      else socket.destroy();
      resolve({ ok: true, detail: `connected to ${where}` });
    });
    socket.once('error', (e: NodeJS.ErrnoException) =>
      resolve({
        ok: false,
        detail: describeError(e, where),
        signals: [...errorSignals(e), { type: 'port', value: String(port) }],
        text: `connect ${e.code} ${where}`,
      }),
    );
  });
}
