// Every host key a server has, like ssh-keyscan: one key exchange per key type the server offers,
// each stopped at the host key (no login).
import { type HostKey, keyTypeOfAlgorithm } from './host-key.js';
import { openTransport, type TransportFailure } from './transport.js';

export interface ScannedHost {
  banner?: string;
  /** The keys, the one a default client gets first. */
  keys: HostKey[];
  /** The server's host-key algorithms, in its order (its KEXINIT). */
  offered: string[];
  failure?: TransportFailure;
}

export async function scanHostKeys(host: string, port: number, timeoutMs: number): Promise<ScannedHost> {
  const reject = () => false;
  const first = await openTransport({ address: host, port, timeoutMs, acceptHostKey: reject });
  if (!first.hostKey)
    return {
      keys: [],
      offered: first.offered.serverHostKey ?? [],
      ...(first.banner ? { banner: first.banner } : {}),
      failure: first.failure!,
    };
  const seen = new Set([first.hostKey.type]);
  const more: string[] = [];
  for (const algorithm of first.offered.serverHostKey ?? []) {
    const type = keyTypeOfAlgorithm(algorithm);
    if (seen.has(type) || !first.localHostKeyAlgorithms.includes(algorithm)) continue;
    seen.add(type);
    more.push(algorithm);
  }
  const others = await Promise.all(
    more.map((algorithm) =>
      openTransport({
        address: host,
        port,
        timeoutMs,
        hostKeyAlgorithms: { only: [algorithm] },
        acceptHostKey: reject,
      }),
    ),
  );
  return {
    ...(first.banner ? { banner: first.banner } : {}),
    keys: [first.hostKey, ...others.flatMap((t) => (t.hostKey ? [t.hostKey] : []))],
    offered: first.offered.serverHostKey ?? [],
  };
}
