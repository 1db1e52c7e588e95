// Where the lab's servers listen: loopback only, and a port in use is one sentence.
import type { Server } from 'node:net';
import { UserError } from '../errors.js';

/** Every lab server listens here, and nowhere else. */
export const HOST = '127.0.0.1';

/**
 * Listens on HOST:`port` (0: a free one); resolves with the port. Throws UserError when the port
 * is in use ("choose another --port"), `name` saying which lab server wanted it.
 */
export function listen(server: Server, port: number, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new UserError(`port ${port} (lab server ${name}) is in use: choose another --port`)
          : e,
      ),
    );
    server.listen(port, HOST, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
