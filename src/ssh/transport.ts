// One SSH connection up to the accepted host key, with ssh2's Client: the server's identification,
// the algorithms both sides offered, the host key, and a clear verdict when the peer is not an SSH
// server at all (silent, or speaking something else).
import { connect } from 'node:net';
import { Client, type AuthHandlerMiddleware, type NegotiatedAlgorithms } from 'ssh2';
import type { AlgorithmKind } from './algorithms.js';
import { type HostKey, hostKeyOf } from './host-key.js';
import { hostPort } from '../errors.js';

export interface TransportOptions {
  /** Address or name to connect to. */
  address: string;
  port: number;
  /** Bound for the server's identification, and again for the key exchange after it. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Host-key algorithms to ask for first (the key types a known_hosts holds), or only these. */
  hostKeyAlgorithms?: { prefer: string[] } | { only: string[] };
  /**
   * Accepts the host key or rejects it; a rejection ends the connection. `offered`: the server's
   * host-key algorithms (its KEXINIT), in its order.
   */
  acceptHostKey: (key: HostKey, offered: string[]) => boolean;
  /** Called for each login attempt once the key exchange is done (ssh2's authHandler). */
  authHandler?: AuthHandlerMiddleware;
}

/** Why a connection ended before its host key was accepted. */
export interface TransportFailure {
  /**
   * silent / garbage: no SSH identification (nothing, or something else); closed: ended before one;
   * socket: a socket error; algorithms: no algorithm in common; rejected: the host key was refused;
   * timeout: stopped by the caller's bound; stalled: the server sent its identification, then the
   * key exchange did not finish in time; handshake: any other protocol error.
   */
  kind:
    | 'silent'
    | 'garbage'
    | 'closed'
    | 'socket'
    | 'algorithms'
    | 'rejected'
    | 'timeout'
    | 'stalled'
    | 'handshake';
  message: string;
  error?: NodeJS.ErrnoException;
}

export interface Transport {
  /** The server's identification line, e.g. SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3. */
  banner?: string;
  /** What the server offered in its KEXINIT, by kind, in its order. */
  offered: Partial<Record<AlgorithmKind, string[]>>;
  /** ssh2's own host-key algorithms, in its order. */
  localHostKeyAlgorithms: string[];
  agreed?: Partial<Record<AlgorithmKind, string>>;
  hostKey?: HostKey;
  /** The connection, when the key exchange completed with an accepted host key; it goes on to log in. */
  client?: Client;
  failure?: TransportFailure;
}

/** The MAC of an AEAD cipher, as `ssh -vv` and ssh2's debug name it: the cipher authenticates itself. */
export const IMPLICIT_MAC = '<implicit>';

/** The host-key algorithms ssh2 implements: only these can be asked for. */
const SSH2_HOST_KEY_ALGORITHMS =
  /^(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|rsa-sha2-(?:256|512)|ssh-rsa|ssh-dss)$/;

/** The host-key algorithms of a list that ssh2 implements, in the list's order. */
export function ssh2HostKeyAlgorithms(list: string[]): string[] {
  return list.filter((a) => SSH2_HOST_KEY_ALGORITHMS.test(a));
}

/** The algorithms that sign with a key of a known_hosts key type. */
export function algorithmsOfKeyType(type: string): string[] {
  const all = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
  return all.filter((a) => SSH2_HOST_KEY_ALGORITHMS.test(a));
}

// ssh2 takes a RegExp to mean "every algorithm it supports"; its types only name strings. Offering
// all of them, deprecated ones too, lets an old server still show its host key and algorithms.
const EVERYTHING = [/./] as unknown as never[];
const appendAll = { append: EVERYTHING } as never;

const DEBUG_LISTS: Record<string, AlgorithmKind> = {
  'KEX method': 'kex',
  'Host key format': 'serverHostKey',
  'C->S cipher': 'cipher',
  'C->S MAC': 'mac',
};

/**
 * ssh2's debug lines for what it chose, written while the key exchange begins, before the host key
 * is verified: so a rejected host key still shows the algorithms agreed. An AEAD cipher (GCM,
 * chacha20-poly1305) has no MAC of its own: ssh2 and `ssh -vv` say `<implicit>`.
 */
const DEBUG_AGREED: Record<string, AlgorithmKind> = {
  'KEX algorithm': 'kex',
  'Host key format': 'serverHostKey',
  'C->S Cipher': 'cipher',
  'C->S MAC': 'mac',
};

/**
 * What a server may send before the key exchange is done: its identification, KEXINIT and the
 * exchange take a few KB. ssh2 bounds each line and packet, not their number.
 */
const HANDSHAKE_MAX = 1024 * 1024;

/** Errors of ssh2's identification parser: bytes came that are not an SSH server's greeting. */
const NOT_SSH = /identification|Invalid header|Header line too long|greeting lines|packet length/i;

export function openTransport(o: TransportOptions): Promise<Transport> {
  const t: Transport = { offered: {}, localHostKeyAlgorithms: [] };
  const socket = connect({ host: o.address, port: o.port });
  const client = new Client();
  const where = hostPort(o.address, o.port);
  let rejected: HostKey | undefined;
  let timer: NodeJS.Timeout | undefined;

  return new Promise<Transport>((resolve) => {
    let settled = false;
    const finish = (failure?: TransportFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', abort);
      if (failure) {
        t.failure = failure;
        client.end();
        socket.destroy();
      } else t.client = client;
      resolve(t);
    };
    const abort = () => finish({ kind: 'timeout', message: `${where}: stopped (timeout)` });
    const arm = (onExpiry: () => TransportFailure) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(onExpiry()), o.timeoutMs);
    };
    /** Whatever came before an identification line decides between silent and garbage. */
    const noIdentification = (): TransportFailure =>
      socket.bytesRead > 0
        ? {
            kind: 'garbage',
            message: `${where} answered (${socket.bytesRead} bytes) but not with an SSH identification: it is not an SSH/SFTP server (another service on this port?)`,
          }
        : {
            kind: 'silent',
            message: `${where} accepted the connection but sent no SSH identification within ${o.timeoutMs / 1000} s (a hung server, or a firewall that drops the data)`,
          };

    if (o.signal?.aborted) return abort();
    o.signal?.addEventListener('abort', abort, { once: true });
    socket.once('connect', () => arm(noIdentification));
    socket.on('data', () => {
      if (settled || socket.bytesRead <= HANDSHAKE_MAX) return;
      finish(
        t.banner
          ? {
              kind: 'handshake',
              message: `${where} sent more than ${HANDSHAKE_MAX / 1024 / 1024} MB without finishing the key exchange`,
            }
          : noIdentification(),
      );
    });

    client.on('error', (e: Error & { level?: string; code?: unknown }) => {
      if (rejected) return finish({ kind: 'rejected', message: `host key ${rejected.type} rejected` });
      if (e.level === 'client-socket')
        return finish({ kind: 'socket', message: e.message, error: e as NodeJS.ErrnoException });
      if (!t.banner && (NOT_SSH.test(e.message) || socket.bytesRead > 0)) return finish(noIdentification());
      if (/no matching|No matching/.test(e.message))
        return finish({ kind: 'algorithms', message: e.message.replace(/^Handshake failed: /, '') });
      finish({ kind: 'handshake', message: e.message });
    });
    client.on('close', () => {
      if (!t.banner && socket.bytesRead > 0) return finish(noIdentification());
      finish({
        kind: 'closed',
        message: t.banner
          ? `${where} closed the connection during the key exchange`
          : `${where} closed the connection without sending an SSH identification`,
      });
    });
    client.on('handshake', (n: NegotiatedAlgorithms) => {
      t.agreed = {
        kex: n.kex,
        serverHostKey: n.serverHostKey,
        cipher: n.cs.cipher,
        mac: n.cs.mac || IMPLICIT_MAC,
      };
      finish();
    });

    const keys = o.hostKeyAlgorithms;
    try {
      client.connect({
        sock: socket,
        username: '',
        readyTimeout: 0,
        algorithms: {
          kex: appendAll,
          cipher: appendAll,
          hmac: appendAll,
          serverHostKey:
            keys && 'only' in keys
              ? (keys.only as never)
              : // Insertion order is the order ssh2 applies: all, then the preferred ones moved first.
                ({ append: EVERYTHING, remove: keys?.prefer ?? [], prepend: keys?.prefer ?? [] } as never),
        },
        debug: (msg: string) => {
          const ident = /^Remote ident: (['"`])(.*)\1$/.exec(msg);
          if (ident) {
            t.banner = ident[2]!.replace(/\\(.)/g, '$1');
            // The connection opened and the server spoke: a stall now is no firewall that drops the port.
            arm(() => ({
              kind: 'stalled',
              message: `${where} sent its identification ("${t.banner}") and then stalled in the key exchange, which did not finish within ${o.timeoutMs / 1000} s: the TCP connection and the server's banner got through, so no firewall blocks the port; an overloaded server (sshd's MaxStartups), a device on the path that drops the larger key-exchange packets (an IPS, an MTU or MSS mismatch on a VPN), or a TCP proxy in front stalls it`,
            }));
            return;
          }
          const chosen = /^Handshake: ([^:(]+): (\S+)$/.exec(msg);
          const agreedKind = chosen && DEBUG_AGREED[chosen[1]!];
          if (agreedKind) {
            (t.agreed ??= {})[agreedKind] = chosen[2]!;
            return;
          }
          const list = /^Handshake: \((remote|local)\) ([^:]+): (.*)$/.exec(msg);
          const kind = list && DEBUG_LISTS[list[2]!];
          if (!list || !kind) return;
          const names = list[3]!.split(',').filter(Boolean);
          if (list[1] === 'remote') t.offered[kind] ??= names;
          else if (kind === 'serverHostKey') t.localHostKeyAlgorithms = names;
        },
        hostVerifier: (blob: Buffer) => {
          t.hostKey = hostKeyOf(blob);
          if (o.acceptHostKey(t.hostKey, t.offered.serverHostKey ?? [])) return true;
          rejected = t.hostKey;
          return false;
        },
        ...(o.authHandler ? { authHandler: o.authHandler } : {}),
      });
    } catch (e) {
      finish({ kind: 'handshake', message: (e as Error).message });
    }
  });
}
