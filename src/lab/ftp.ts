// The lab's FTP scenario: a server that refuses every login. A few lines of FTP by hand, because the
// npm FTP server (ftp-srv, the tests' peer) pulls in a logger with a native addon that the bundled
// CLI cannot carry.
import { createServer } from 'node:net';
import type { ScenarioSpec } from './servers.js';

const REPLIES: Record<string, string> = {
  FEAT: '211-Features:\r\n UTF8\r\n SIZE\r\n211 End\r\n',
  USER: '331 Password required.\r\n',
  PASS: '530 Login incorrect.\r\n',
  QUIT: '221 Goodbye.\r\n',
};

export const FTP_SCENARIOS: ScenarioSpec[] = [
  {
    name: 'ftp-login-refused',
    scheme: 'ftp',
    path: '/',
    reproduces: 'an FTP server that refuses every login with 530 Login incorrect',
    expect: 'ftp-failure',
    cause: 'login-refused',
    probeArgs: ['-u', 'lab', '--password-env', 'LAB_PASSWORD'],
    server: () =>
      createServer((socket) => {
        socket.write('220 linkdoctor lab FTP\r\n');
        let buffered = '';
        socket.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('latin1');
          for (let end = buffered.indexOf('\r\n'); end !== -1; end = buffered.indexOf('\r\n')) {
            const verb = buffered.slice(0, end).split(' ')[0]!.toUpperCase();
            buffered = buffered.slice(end + 2);
            socket.write(REPLIES[verb] ?? '530 Please login with USER and PASS.\r\n');
            if (verb === 'QUIT') socket.end();
          }
        });
      }),
  },
];
