// The algorithms a server offers, against those Cloud Integration's SSH client (JSch) can agree on:
// by default, or only with the channel's "Enable Support for Deprecated Algorithms".
import { keyTypeOfAlgorithm } from './host-key.js';

export type AlgorithmKind = 'kex' | 'serverHostKey' | 'cipher' | 'mac';

/** ok: agreed by default; deprecated: only with the deprecated-algorithms option; none: never. */
export type JschAgreement = 'ok' | 'deprecated' | 'none';

export interface AlgorithmFinding {
  /** What the server offers, in its order of preference. */
  offered: string[];
  /** What this probe agreed on with the server (absent when the handshake did not get that far). */
  agreed?: string;
  jsch: JschAgreement;
  /** The algorithm a JSch-like client would pick: its first one the server offers. */
  jschPicks?: string;
}

export type AlgorithmsFinding = Record<AlgorithmKind, AlgorithmFinding>;

/**
 * A JSch of the current line (com.github.mwiede/jsch) in preference order; the ciphers are the ones
 * SAP lists for the SFTP adapter (kb-facts 16). The lists may change with the runtime: a verdict of
 * this table is a strong hint, not the platform's own word.
 */
const JSCH: Record<AlgorithmKind, { current: string[]; deprecated: string[] }> = {
  kex: {
    current: [
      'curve25519-sha256',
      'curve25519-sha256@libssh.org',
      'ecdh-sha2-nistp256',
      'ecdh-sha2-nistp384',
      'ecdh-sha2-nistp521',
      'diffie-hellman-group-exchange-sha256',
      'diffie-hellman-group16-sha512',
      'diffie-hellman-group18-sha512',
      'diffie-hellman-group14-sha256',
    ],
    deprecated: [
      'diffie-hellman-group14-sha1',
      'diffie-hellman-group-exchange-sha1',
      'diffie-hellman-group1-sha1',
    ],
  },
  serverHostKey: {
    current: [
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
      'rsa-sha2-512',
      'rsa-sha2-256',
    ],
    deprecated: ['ssh-rsa', 'ssh-dss'],
  },
  cipher: {
    current: ['aes128-ctr', 'aes192-ctr', 'aes256-ctr', 'aes128-cbc', 'aes192-cbc', 'aes256-cbc', '3des-ctr'],
    deprecated: ['3des-cbc', 'blowfish-cbc', 'arcfour', 'arcfour128', 'arcfour256'],
  },
  mac: {
    current: [
      'hmac-sha2-256-etm@openssh.com',
      'hmac-sha2-512-etm@openssh.com',
      'hmac-sha1-etm@openssh.com',
      'hmac-sha2-256',
      'hmac-sha2-512',
      'hmac-sha1',
    ],
    deprecated: ['hmac-md5', 'hmac-sha1-96', 'hmac-md5-96'],
  },
};

export const ALGORITHM_KINDS = Object.keys(JSCH) as AlgorithmKind[];

/** Names in a KEXINIT that are extension flags, not algorithms (ext-info-s, kex-strict-s-v00@openssh.com). */
const PSEUDO = /^(?:ext-info-[cs]|kex-strict-[cs]-v00@openssh\.com)$/;

/**
 * JSch's server_host_key proposal for a host, in its order: the algorithms of the key types its
 * known_hosts holds for the host come first, the rest after, each group in JSch's own order.
 * Source: mwiede/jsch Session.java send_kexinit() (`prefer_known_host_key_types`, "yes" by default
 * in JSch.java since jsch-0.1.62 of the fork, commit 44394bd1): it takes
 * `getHostKeyRepository().getHostKey("[host]:port", null)` (every line naming the host, @revoked and
 * @cert-authority lines too), moves each algorithm whose key type (rsa-sha2-* -> ssh-rsa) one of them
 * has to the front, and appends the others. The server then takes the first one it also offers
 * (RFC 4253 7.1). `knownTypes`: known_hosts key types for the host (known-hosts.ts knownKeyTypes).
 */
export function jschHostKeyOrder(knownTypes: string[]): { current: string[]; deprecated: string[] } {
  const reorder = (list: string[]) => [
    ...list.filter((a) => knownTypes.includes(keyTypeOfAlgorithm(a))),
    ...list.filter((a) => !knownTypes.includes(keyTypeOfAlgorithm(a))),
  ];
  return { current: reorder(JSCH.serverHostKey.current), deprecated: reorder(JSCH.serverHostKey.deprecated) };
}

/**
 * What JSch can agree on for one kind. `knownTypes` (serverHostKey only): the key types known_hosts
 * holds for the host, which JSch asks for first (jschHostKeyOrder).
 */
export function judgeAlgorithm(
  kind: AlgorithmKind,
  offered: string[],
  agreed?: string,
  knownTypes: string[] = [],
): AlgorithmFinding {
  const real = offered.filter((a) => !PSEUDO.test(a));
  const { current, deprecated } = kind === 'serverHostKey' ? jschHostKeyOrder(knownTypes) : JSCH[kind];
  const pick = (list: string[]) => list.find((a) => real.includes(a));
  const byDefault = pick(current);
  const withOption = byDefault ?? pick(deprecated);
  return {
    offered: real,
    ...(agreed ? { agreed } : {}),
    jsch: byDefault ? 'ok' : withOption ? 'deprecated' : 'none',
    ...(withOption ? { jschPicks: withOption } : {}),
  };
}

const NAMES: Record<AlgorithmKind, string> = {
  kex: 'key exchange',
  serverHostKey: 'host key',
  cipher: 'cipher',
  mac: 'MAC',
};

/** One sentence on what JSch could not agree on by default, or undefined when it agrees on all. */
export function jschSentence(found: AlgorithmsFinding): string | undefined {
  const none = ALGORITHM_KINDS.filter((k) => found[k].jsch === 'none');
  const deprecated = ALGORITHM_KINDS.filter((k) => found[k].jsch === 'deprecated');
  const list = (kinds: AlgorithmKind[]) =>
    kinds.map((k) => `${NAMES[k]} (server offers ${found[k].offered.join(', ') || 'nothing'})`).join('; ');
  if (none.length)
    return `Cloud Integration's SSH client (JSch) shares no ${list(none)}: "Algorithm negotiation fail"`;
  if (deprecated.length)
    return `Cloud Integration's SSH client (JSch) agrees only on deprecated algorithms for ${deprecated
      .map((k) => `${NAMES[k]} (${found[k].jschPicks})`)
      .join(', ')}: the channel needs "Enable Support for Deprecated Algorithms"`;
  return undefined;
}
