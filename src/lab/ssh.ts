// The lab's SSH/SFTP scenarios, on ssh2's Server: a host key that changed against the lab's
// known_hosts, one it does not hold, and a login the server refuses.
import { createServer, type Server } from 'node:net';
import ssh2 from 'ssh2';
import { hostKeyOf } from '../ssh/host-key.js';
import { knownHostsLine } from '../ssh/known-hosts.js';
import type { ScenarioSpec } from './servers.js';

/** A host key: the private key (OpenSSH format) a server shows, and its public blob. */
export interface LabHostKey {
  private: string;
  blob: Buffer;
}

/**
 * The keys of one lab: each SSH server its own (so that the lab's known_hosts line of one never
 * matches another, and each scenario shows only what it claims), and the stale one its known_hosts
 * holds for the "changed" server.
 */
export interface LabSshKeys {
  changed: LabHostKey;
  unknown: LabHostKey;
  auth: LabHostKey;
  staleKeyBlob: Buffer;
}

function publicBlob(publicKey: string): Buffer {
  return Buffer.from(publicKey.split(' ')[1]!, 'base64');
}

/**
 * An ed25519 key pair ssh2 can read back: ssh2 1.17's generator now and then writes a private key its
 * own parser calls malformed ("Malformed OpenSSH private key" when the lab starts), so a key that
 * does not parse is made again.
 */
function hostKey(): LabHostKey {
  for (let i = 0; ; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) || i >= 20)
      return { private: pair.private, blob: publicBlob(pair.public) };
  }
}

export function makeSshKeys(): LabSshKeys {
  return { changed: hostKey(), unknown: hostKey(), auth: hostKey(), staleKeyBlob: hostKey().blob };
}

/** An SSH server that shows `key` and refuses every login, offering public key and password. */
function refusingSsh(key: LabHostKey): Server {
  const server = new ssh2.Server({ hostKeys: [key.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.reject(['publickey', 'password']));
    // A probe that rejects the host key leaves mid-handshake.
    client.on('error', () => undefined);
  });
  return createServer((socket) => server.injectSocket(socket));
}

const line = (blob: Buffer, port: number) => knownHostsLine('127.0.0.1', port, hostKeyOf(blob));

export const SSH_SCENARIOS: ScenarioSpec[] = [
  {
    name: 'ssh-host-key-changed',
    scheme: 'sftp',
    path: '/',
    reproduces: 'an SFTP server whose host key differs from the one the lab known_hosts holds for it',
    expect: 'out-sftp',
    cause: 'host-key-changed',
    probeArgs: (lab) => ['--known-hosts', lab.knownHostsFile],
    knownHostsLine: ({ ssh }, port) => line(ssh.staleKeyBlob, port),
    server: ({ ssh }) => refusingSsh(ssh.changed),
  },
  {
    name: 'ssh-host-key-unknown',
    scheme: 'sftp',
    path: '/',
    reproduces: 'an SFTP server the lab known_hosts has no line for ("reject HostKey")',
    expect: 'out-sftp',
    cause: 'host-key-unknown',
    probeArgs: (lab) => ['--known-hosts', lab.knownHostsFile],
    server: ({ ssh }) => refusingSsh(ssh.unknown),
  },
  {
    name: 'ssh-auth-refused',
    scheme: 'sftp',
    path: '/',
    reproduces: 'an SFTP server with a known host key that refuses the login ("Auth fail")',
    expect: 'out-sftp',
    cause: 'login-refused',
    probeArgs: (lab) => ['--known-hosts', lab.knownHostsFile, '-u', 'lab', '--password-env', 'LAB_PASSWORD'],
    knownHostsLine: ({ ssh }, port) => line(ssh.auth.blob, port),
    server: ({ ssh }) => refusingSsh(ssh.auth),
  },
];
