// `linkdoctor serve` under load: POST /api/diagnose at 1, 8 and 50 concurrent clients (keep-alive),
// requests per second, latency (p50, p95, p99), the server's CPU time per request and its peak
// memory; and, side by side, what a script that does not use the server runs instead: one
// `linkdoctor diagnose --json TEXT` per text. Every answer must be a 200 and the server must still
// answer after the load (the issue: many concurrent requests never crash it).
// Wall times move with whatever else the machine runs; CPU times (from /proc) much less: both shown.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist', 'main.js');
const TICK_MS = 10; // USER_HZ = 100 on Linux

/** Failure texts of the kinds users paste, rotated so that no answer is the same as the last. */
const TEXTS = [
  'javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target',
  'com.jcraft.jsch.JSchException: Auth fail',
  'org.apache.camel.component.ahc.AhcOperationFailedException: HTTP operation failed invoking https://api.example.com/orders with statusCode: 401',
  'com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP 403 CSRF token validation failed',
  'java.net.UnknownHostException: erp.example.internal: Name or service not known',
  'com.jcraft.jsch.JSchException: reject HostKey: sftp.example.com',
  'HTTP 503 Service Unavailable',
  'java.net.ConnectException: Connection refused (Connection refused)',
];

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** utime + stime of a process, in ms (/proc/PID/stat fields 14 and 15). */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}
/** CPU time of this process's waited-for children (cutime + cstime), in ms. */
function childrenCpuMs() {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS;
}
const peakRssMb = (pid) =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const port = await freePort();
const server = spawn(process.execPath, [cli, 'serve', '--port', String(port)], {
  env: { ...process.env, LINKDOCTOR_TOKEN: '' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
await new Promise((resolve, reject) => {
  let out = '';
  const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
  server.stdout.on('data', (d) => (out += d) && out.includes('Ctrl-C') && (clearTimeout(t), resolve()));
});
const url = `http://127.0.0.1:${port}/api/diagnose`;
const ask = async (i) => {
  const t = performance.now();
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: TEXTS[i % TEXTS.length] }),
  });
  const body = await r.json();
  if (r.status !== 200 || !Array.isArray(body.diagnoses)) throw new Error(`answer ${i}: HTTP ${r.status}`);
  return performance.now() - t;
};

// Warm-up: the knowledge base is loaded at start; JIT and connections settle.
for (let i = 0; i < 200; i++) await ask(i);

const rows = [];
for (const [concurrency, total] of [
  [1, 500],
  [8, 2000],
  [50, 5000],
]) {
  const latencies = [];
  let next = 0;
  const cpu0 = cpuMs(server.pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) latencies.push(await ask(next++));
    }),
  );
  const wall = performance.now() - t0;
  const cpu = cpuMs(server.pid) - cpu0;
  latencies.sort((a, b) => a - b);
  rows.push({
    what: `serve, ${concurrency} client${concurrency > 1 ? 's' : ''}`,
    requests: total,
    perSecond: (total / wall) * 1000,
    p50: pct(latencies, 50),
    p95: pct(latencies, 95),
    p99: pct(latencies, 99),
    cpuPerRequest: cpu / total,
  });
}
const alive = await ask(0).then(
  () => true,
  () => false,
);
const rss = peakRssMb(server.pid);
server.kill('SIGTERM');
const code = await new Promise((resolve) => server.on('exit', (c) => resolve(c)));

// What a script runs instead: one CLI process per text.
const runs = 16;
const cliLatencies = [];
const c0 = childrenCpuMs();
const t0 = performance.now();
for (let i = 0; i < runs; i++) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, 'diagnose', '--json', TEXTS[i % TEXTS.length]], {
    encoding: 'utf8',
  });
  if (!r.stdout.includes('"diagnoses"')) throw new Error(`diagnose: ${r.stderr}`);
  cliLatencies.push(performance.now() - t);
}
const cliWall = performance.now() - t0;
const cliCpu = childrenCpuMs() - c0;
cliLatencies.sort((a, b) => a - b);
rows.push({
  what: 'diagnose --json, a process a text',
  requests: runs,
  perSecond: (runs / cliWall) * 1000,
  p50: pct(cliLatencies, 50),
  p95: pct(cliLatencies, 95),
  p99: pct(cliLatencies, 99),
  cpuPerRequest: cliCpu / runs,
});

const f = (n, d = 1) => n.toFixed(d).padStart(8);
console.log(
  `${'POST /api/diagnose'.padEnd(36)} requests     req/s  p50 (ms)  p95 (ms)  p99 (ms)  CPU ms/req`,
);
for (const r of rows)
  console.log(
    `${r.what.padEnd(36)} ${String(r.requests).padStart(8)} ${f(r.perSecond, 0)}  ${f(r.p50)}  ${f(r.p95)}  ${f(r.p99)}    ${f(r.cpuPerRequest, 2)}`,
  );
console.log(
  `server: every answer 200, still answering after the load: ${alive ? 'yes' : 'NO'}; peak RSS ${rss.toFixed(0)} MB; exit on SIGTERM ${code}`,
);
console.log(
  '(one machine runs the server and the load generator; CPU times from /proc in 10 ms ticks; wall times move with the load of the machine)',
);
if (!alive || code !== 0) process.exit(1);
