// The lab's SSH/SFTP scenarios, on ssh2's Server: a host key that changed against the lab's
// known_hosts, one it does not hold, and a login the server refuses.
import { createServer, type Server } from 'node:net';
import ssh2 from 'ssh2';
import { hostKeyOf } from '../ssh/host-key.js';
import { knownHostsLine } from '../ssh/known-hosts.js';
import type { LabContext, ScenarioSpec } from './servers.js';

/** The keys of one lab: the one its SSH servers show, and the stale one its known_hosts holds. */
export interface LabSshKeys {
  hostKey: string;
  hostKeyBlob: Buffer;
  staleKeyBlob: Buffer;
}

function publicBlob(publicKey: string): Buffer {
  return Buffer.from(publicKey.split(' ')[1]!, 'base64');
}

export function makeSshKeys(): LabSshKeys {
  const server = ssh2.utils.generateKeyPairSync('ed25519');
  const stale = ssh2.utils.generateKeyPairSync('ed25519');
  return {
    hostKey: server.private,
    hostKeyBlob: publicBlob(server.public),
    staleKeyBlob: publicBlob(stale.public),
  };
}

/** An SSH server that refuses every login, offering public key and password. */
function refusingSsh({ ssh }: LabContext): Server {
  const server = new ssh2.Server({ hostKeys: [ssh.hostKey] }, (client) => {
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
    server: refusingSsh,
  },
  {
    name: 'ssh-host-key-unknown',
    scheme: 'sftp',
    path: '/',
    reproduces: 'an SFTP server the lab known_hosts has no line for ("reject HostKey")',
    expect: 'out-sftp',
    cause: 'host-key-unknown',
    probeArgs: (lab) => ['--known-hosts', lab.knownHostsFile],
    server: refusingSsh,
  },
  {
    name: 'ssh-auth-refused',
    scheme: 'sftp',
    path: '/',
    reproduces: 'an SFTP server with a known host key that refuses the login ("Auth fail")',
    expect: 'out-sftp',
    cause: 'login-refused',
    probeArgs: (lab) => ['--known-hosts', lab.knownHostsFile, '-u', 'lab', '--password-env', 'LAB_PASSWORD'],
    knownHostsLine: ({ ssh }, port) => line(ssh.hostKeyBlob, port),
    server: refusingSsh,
  },
];
