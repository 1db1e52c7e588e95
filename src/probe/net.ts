// The dns and tcp steps: can the name be resolved, and does the port accept a connection.
import { lookup } from 'node:dns/promises';
import { connect, isIP, type Socket } from 'node:net';
import { describeError, errorSignals, type StepOutcome } from './step.js';

export async function dnsStep(host: string, into: { addresses: string[] }): Promise<StepOutcome> {
  if (isIP(host)) {
    into.addresses = [host];
    return { ok: true, detail: `${host} (an address: nothing to resolve)` };
  }
  try {
    const all = await lookup(host, { all: true, verbatim: true });
    into.addresses = all.map((a) => a.address);
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
    const where = `${address}:${port}`;
    signal.addEventListener('abort', () => socket.destroy(), { once: true });
    socket.once('connect', () => {
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
