// SSH peers that are not SSH servers: one that accepts and never speaks, one that speaks something
// else. Both end in a clear verdict within the timeout, not in a hang.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { runCliAsync } from './helpers.js';

const sockets = new Set<Socket>();
const listen = (onSocket: (s: Socket) => void) =>
  new Promise<{ server: Server; port: number }>((resolve) => {
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      onSocket(s);
    }).listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });

let silent: { server: Server; port: number };
let garbage: { server: Server; port: number };
let http: { server: Server; port: number };
before(async () => {
  silent = await listen(() => undefined);
  garbage = await listen((s) =>
    s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03])),
  );
  // An HTTP server on the SSH port: text lines, then the connection closes.
  http = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
});
after(() => {
  for (const s of sockets) s.destroy();
  for (const x of [silent, garbage, http]) x?.server.close();
});

interface Json {
  steps: { name: string; ok: boolean | null; detail: string }[];
  signals: { type: string; value: string }[];
  diagnoses: { id: string }[];
}

async function probe(
  port: number,
): Promise<{ json: Json; ms: number; known: { status: number | null; stderr: string } }> {
  const started = Date.now();
  const r = await runCliAsync(['probe', `sftp://127.0.0.1:${port}/`, '--timeout', '1', '--json']);
  const ms = Date.now() - started;
  const k = await runCliAsync([
    'known-hosts',
    'check',
    `127.0.0.1:${port}`,
    '--known-hosts',
    '/dev/null',
    '--timeout',
    '1',
  ]);
  assert.equal(r.status, 1, r.stderr);
  return { json: JSON.parse(r.stdout) as Json, ms, known: k };
}

const verdict = (j: Json) => j.signals.find((s) => s.type === 'net.error')?.value;

test('a server that accepts and never speaks: silent, within the timeout', async () => {
  const { json, ms, known } = await probe(silent.port);
  // A hang bound: the 1 s step, the scheme check's ClientHello (0.5 s) and a loaded machine's start-up.
  assert.ok(ms < 9000, `bounded (${ms} ms)`);
  assert.equal(verdict(json), 'silent');
  assert.match(json.steps.find((s) => s.name === 'ssh')!.detail, /sent no SSH identification within 1 s/);
  assert.equal(json.diagnoses[0]?.id, 'network-timeout');
  assert.equal(known.status, 1);
  assert.match(known.stderr, /no host key from \[127\.0\.0\.1\]:\d+: .*sent no SSH identification/);
});

test('a server that speaks something else: garbage, not an SSH server', async () => {
  for (const port of [garbage.port, http.port]) {
    const { json, ms } = await probe(port);
    assert.ok(ms < 9000, `bounded (${ms} ms)`);
    assert.equal(verdict(json), 'garbage', JSON.stringify(json.steps));
    assert.match(json.steps.find((s) => s.name === 'ssh')!.detail, /not with an SSH identification/);
  }
});
