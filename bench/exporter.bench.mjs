// linkdoctor's /probe beside Debian's blackbox_exporter: HTTPS probes per second of the same loopback
// target (nginx, a leaf and an intermediate from a private root both are given) at concurrency 4, 16
// and 64, for the same time each, with each exporter's own CPU time per probe (user + system, which
// the machine's load does not distort as much as it does the rates); beside them Node's own HTTPS
// client in a bare node:http server (node-floor-server.mjs: a full handshake, the chain verified, no
// reasons), the floor of any exporter on Node 20 (BENCH_FLOOR=0 skips it); then `linkdoctor check` of
// 1,000 loopback targets (wall, peak RSS, CPU). Exporter, target and load generator share this
// machine's cores, as they would in a small setup.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

// LINKDOCTOR_ROOT: another checkout (built) to measure instead of this one, e.g. main before a change.
const root = process.env.LINKDOCTOR_ROOT ?? new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist', 'main.js');
const BLACKBOX = ['/usr/bin/prometheus-blackbox-exporter', '/usr/bin/blackbox_exporter'].find(existsSync);
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
// Seconds of probes before the first level, not counted, for each exporter alike: linkdoctor's first
// probes also compile its code (V8's optimizing compiler runs on threads of the process, so its CPU
// counts), once per probe worker; a longer warm-up (BENCH_WARMUP=10) shows the steady state.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const LEVELS = [4, 16, 64];
// Extra node flags for the exporter (e.g. EXPORTER_NODE_ARGS=--cpu-prof to profile it).
const NODE_ARGS = (process.env.EXPORTER_NODE_ARGS ?? '').split(' ').filter(Boolean);
// Probe worker threads of linkdoctor's exporter (serve's --probe-workers); default: serve's default.
const WORKERS = process.env.EXPORTER_WORKERS ? [process.env.EXPORTER_WORKERS] : [];

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const waitFor = async (port) => {
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((r) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => (res.resume(), r(true)));
      req.on('error', () => r(false));
      req.end();
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
};

if (!NGINX) {
  console.log('skipped: nginx is not installed (apt-get install nginx-light): it is the HTTPS target');
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'ld-bench-exporter-'));
const children = [];
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));
process.on('exit', () => {
  for (const c of children) c.kill();
  rmSync(dir, { recursive: true, force: true });
});

// A private root, an intermediate and a leaf for 127.0.0.1, made with openssl.
const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
ossl(
  'req',
  '-x509',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  'root.key',
  '-out',
  'root.pem',
  '-subj',
  '/CN=Bench Root',
  '-days',
  '30',
);
writeFileSync(
  join(dir, 'ca.ext'),
  'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n',
);
writeFileSync(
  join(dir, 'leaf.ext'),
  'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
);
ossl(
  'req',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  'int.key',
  '-out',
  'int.csr',
  '-subj',
  '/CN=Bench Issuing CA',
);
ossl(
  'x509',
  '-req',
  '-in',
  'int.csr',
  '-CA',
  'root.pem',
  '-CAkey',
  'root.key',
  '-CAcreateserial',
  '-out',
  'int.pem',
  '-days',
  '30',
  '-extfile',
  'ca.ext',
);
ossl(
  'req',
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  'leaf.key',
  '-out',
  'leaf.csr',
  '-subj',
  '/CN=127.0.0.1',
);
ossl(
  'x509',
  '-req',
  '-in',
  'leaf.csr',
  '-CA',
  'int.pem',
  '-CAkey',
  'int.key',
  '-CAcreateserial',
  '-out',
  'leaf.pem',
  '-days',
  '30',
  '-extfile',
  'leaf.ext',
);
execFileSync('sh', ['-c', 'cat leaf.pem int.pem > chain.pem'], { cwd: dir });

const targetPort = await freePort();
writeFileSync(
  join(dir, 'nginx.conf'),
  `daemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n  server {\n    listen 127.0.0.1:${targetPort} ssl;\n    ssl_certificate ${dir}/chain.pem;\n    ssl_certificate_key ${dir}/leaf.key;\n    location / { return 200 "ok\\n"; }\n  }\n}\n`,
);
children.push(
  spawn(NGINX, ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', join(dir, 'error.log')], { stdio: 'ignore' }),
);
const target = `https://127.0.0.1:${targetPort}/`;

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** Probes/s of an exporter's /probe URL at a concurrency, for SECONDS; only answers with probe_success 1 count. */
async function rate(port, path, concurrency, seconds = SECONDS) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const end = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(/^probe_success 1$/m.test(body)));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        if (await one()) ok++;
        else failed++;
      }
    }),
  );
  agent.destroy();
  return { perSecond: ok / seconds, failed, probes: ok + failed };
}

/**
 * One exporter: `start(port)` spawns it; at each level, probes/s of `/probe?module=https&target=...`
 * and the exporter's own CPU time per probe (milliseconds, user + system, from /proc).
 */
async function measure(start) {
  const port = await freePort();
  const child = start(port);
  children.push(child);
  await waitFor(port);
  // Warm-up, not counted: the first probes compile the code (JIT) and fill the caches.
  await rate(port, `/probe?module=https&${q}`, 4, WARMUP);
  const out = {};
  for (const c of LEVELS) {
    const before = cpuSeconds(child.pid);
    const r = await rate(port, `/probe?module=https&${q}`, c);
    r.cpuMs = ((cpuSeconds(child.pid) - before) * 1000) / Math.max(1, r.probes);
    out[c] = r;
  }
  child.kill();
  children.splice(children.indexOf(child), 1);
  return out;
}

const q = `target=${encodeURIComponent(target)}`;
const results = {};
if (!BLACKBOX) {
  console.log(
    'blackbox_exporter: skipped, prometheus-blackbox-exporter is not installed (apt-get install prometheus-blackbox-exporter)',
  );
} else {
  writeFileSync(
    join(dir, 'blackbox.yml'),
    `modules:\n  https:\n    prober: http\n    timeout: 5s\n    http:\n      tls_config:\n        ca_file: ${dir}/root.pem\n`,
  );
  const version = spawnSync(BLACKBOX, ['--version'], { encoding: 'utf8' });
  console.log(`blackbox_exporter: ${(version.stdout + version.stderr).split('\n')[0]}`);
  results.blackbox = await measure((port) =>
    spawn(BLACKBOX, [`--config.file=${dir}/blackbox.yml`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: 'ignore',
    }),
  );
}
writeFileSync(
  join(dir, 'inventory.yaml'),
  `modules:\n  https:\n    trust: root.pem\n    timeout: 5s\ntargets:\n  - url: "${target}"\n    module: https\n`,
);
if (process.env.BENCH_FLOOR !== '0')
  results.floor = await measure((port) =>
    spawn(
      process.execPath,
      [new URL('node-floor-server.mjs', import.meta.url).pathname, join(dir, 'root.pem'), String(port)],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    ),
  );
results.linkdoctor = await measure((port) =>
  spawn(
    process.execPath,
    [
      ...NODE_ARGS,
      join(root, 'bench', 'exporter-server.mjs'),
      join(dir, 'inventory.yaml'),
      String(port),
      ...WORKERS,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  ),
);

const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
console.log(
  `HTTPS /probe of ${target} (chain of 2 from a private root), ${SECONDS} s per level after ${WARMUP} s of warm-up, linkdoctor with ${WORKERS[0] ?? 'the default'} probe workers, load average ${load}:`,
);
console.log(
  '                   probes/s                                            exporter CPU per probe (user+sys)',
);
console.log(
  'concurrency  blackbox_exporter  linkdoctor  ratio  Node floor  ratio   blackbox_exporter  linkdoctor  Node floor',
);
for (const c of LEVELS) {
  const b = results.blackbox?.[c];
  const l = results.linkdoctor[c];
  const f = results.floor?.[c];
  const cell = (r) =>
    r ? `${r.perSecond.toFixed(0)}/s${r.failed ? ` (${r.failed} failed)` : ''}` : 'skipped';
  const cpu = (r) => (r ? `${r.cpuMs.toFixed(2)} ms` : '-');
  console.log(
    `${String(c).padStart(11)}  ${cell(b).padStart(17)}  ${cell(l).padStart(10)}  ${(b ? (l.perSecond / b.perSecond).toFixed(2) : '-').padStart(5)}  ${cell(f).padStart(10)}  ${(b && f ? (f.perSecond / b.perSecond).toFixed(2) : '-').padStart(5)}   ${cpu(b).padStart(17)}  ${cpu(l).padStart(10)}  ${cpu(f).padStart(10)}`,
  );
}

// check of 1,000 loopback targets (paths of the same nginx), wall time, peak RSS and CPU (BENCH_CHECK=0 skips it).
if (process.env.BENCH_CHECK !== '0') checkMany();

function checkMany() {
  const N = 1000;
  const lines = ['modules:', '  https:', '    trust: root.pem', 'targets:'];
  for (let i = 0; i < N; i++) lines.push(`  - { url: "${target}t/${i}", name: t${i}, module: https }`);
  writeFileSync(join(dir, 'many.yaml'), `${lines.join('\n')}\n`);
  // Peak RSS from GNU time (Debian's time package) when it is there.
  const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const args = [cli, 'check', join(dir, 'many.yaml'), '--concurrency', '64', '--per-host', '64', '--json'];
  const started = performance.now();
  const run = TIME
    ? spawnSync(TIME, ['-f', '%M %U %S', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })
    : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = (performance.now() - started) / 1000;
  const [rssKb, user, sys] = TIME
    ? run.stderr.trim().split('\n').at(-1).split(' ').map(Number)
    : [NaN, NaN, NaN];
  const report = JSON.parse(run.stdout);
  console.log(
    `check of ${N} loopback targets (--concurrency 64 --per-host 64): ${wall.toFixed(1)} s wall, ${TIME ? `peak RSS ${(rssKb / 1024).toFixed(0)} MB, CPU ${(user + sys).toFixed(1)} s (user+sys)` : 'peak RSS not measured (no /usr/bin/time)'}, ${report.targets - report.failing} ok, load average ${loadavg()[0].toFixed(1)}`,
  );
}

// The nginx child keeps the event loop alive: end here (the exit handler stops the children).
process.exit(0);
