// The floor of bench/exporter.bench.mjs: what Node 20 itself does per probe, with nothing of
// linkdoctor's. A node:http server whose GET /probe?target=URL makes one HTTPS request with Node's own
// client (node:https, a fresh connection and a full handshake each time, no session resumption; one
// secure context with the bench's root as `ca`, so Node verifies the chain and the host name), reads
// the answer and says probe_success 1 for a 200. No reasons, no diagnosis, no worker threads.
// node node-floor-server.mjs TRUST_PEM PORT
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request } from 'node:https';
import { createSecureContext } from 'node:tls';

const [trust, port] = process.argv.slice(2);
const secureContext = createSecureContext({ ca: readFileSync(trust) });
createServer((req, res) => {
  const target = new URL(req.url, 'http://localhost').searchParams.get('target');
  const started = performance.now();
  let sent = false;
  const answer = (ok, status) => {
    if (sent) return;
    sent = true;
    res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      .end(
        `probe_success ${ok}\nprobe_duration_seconds ${(performance.now() - started) / 1000}\nprobe_http_status_code ${status}\n`,
      );
  };
  const out = request(target, { agent: false, secureContext }, (r) => {
    r.resume();
    r.on('end', () => answer(r.statusCode === 200 ? 1 : 0, r.statusCode));
  });
  out.on('error', () => answer(0, 0));
  out.end();
}).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
