// The exporter's routes on a fastify instance of the test's own, scraped by Debian's real Prometheus
// (started by the test on 127.0.0.1) through the multi-target relabeling configuration; the values
// are read back through Prometheus's query API.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadKb } from '../src/kb/load.js';
import { type Lab, startLab } from '../src/lab/index.js';
import { exporterRoutes } from '../src/watch/exporter.js';
import { parseInventory } from '../src/watch/inventory.js';
import { defaultProbeWorkers, ProbePool } from '../src/watch/probe-pool.js';
import { Watcher } from '../src/watch/watcher.js';
import { freePort, rawServer, waitListening, until } from './helpers.js';

const PROMETHEUS = ['/usr/bin/prometheus'].find((p) => existsSync(p));
const noPrometheus =
  !PROMETHEUS && "Debian's prometheus is not installed (apt-get install prometheus); .ci/run installs it";
if (noPrometheus) console.log(`# skipping the Prometheus scrape: ${noPrometheus}`);

let lab: Lab;
let dir = '';
let app: FastifyInstance;
let dated: Server;
let datedUrl = '';
let inline: FastifyInstance;
let pool: ProbePool;
let port = 0;
let watcher: Watcher;
let prometheus: ChildProcess | undefined;
let promPort = 0;

const url = (name: string) => lab.scenarios.find((s) => s.name === name)!.url;

before(async () => {
  lab = await startLab();
  // A plain HTTP page with a Last-Modified date (blackbox_exporter's probe_http_last_modified_timestamp_seconds).
  dated = createHttpServer((_req, res) =>
    res.writeHead(200, { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' }).end('dated\n'),
  );
  await new Promise<void>((r) => dated.listen(0, '127.0.0.1', r));
  datedUrl = `http://127.0.0.1:${(dated.address() as AddressInfo).port}/`;
  dir = mkdtempSync(join(tmpdir(), 'ld-exporter-'));
  // Set before the inventory is read: an unset password_env of a module in use is its problem.
  process.env.LD_EXPORTER_LAB_PASSWORD = lab.basicAuth.password;
  const { inventory, problems } = await parseInventory(
    [
      'modules:',
      '  lab:',
      `    trust: ${lab.trustFile}`,
      '    timeout: 2s',
      // Redirects followed (none by default outbound): the scrape-timeout test runs through them.
      '    max_redirects: 5',
      // The same with room for a machine under load: the comparison of threads must not hinge on a 2 s bound.
      '  lab_patient:',
      `    trust: ${lab.trustFile}`,
      '    timeout: 30s',
      '  lab_login:',
      `    trust: ${lab.trustFile}`,
      '    user: lab',
      '    password_env: LD_EXPORTER_LAB_PASSWORD',
      'targets:',
      `  - { url: "${url('healthy')}", name: healthy, module: lab, labels: { system: S4, job: orders } }`,
      `  - { url: "${url('missing-intermediate')}", name: partner, module: lab, labels: { system: partner } }`,
      `  - { url: "${url('basic-auth')}", name: crm, module: lab_login, labels: { system: crm } }`,
    ].join('\n'),
    join(dir, 'inventory.yaml'),
  );
  assert.deepEqual(problems, []);
  const kb = await loadKb();
  watcher = new Watcher(kb, inventory!, { limits: { concurrency: 4, perHost: 4 }, everyMs: 60_000 });
  await watcher.runOnce();
  // The exporter as serve mounts it on a machine of several cores: /probe's probes run in worker
  // threads; `inline` is the same without them, for the test that compares the two.
  pool = new ProbePool(2, []);
  app = Fastify();
  await app.register(exporterRoutes({ kb, inventory: inventory!, watcher, pool }));
  port = await freePort();
  await app.listen({ host: '127.0.0.1', port });
  inline = Fastify();
  await inline.register(exporterRoutes({ kb, inventory: inventory!, watcher }));
  await inline.listen({ host: '127.0.0.1', port: 0 });
});

/** Stops the Prometheus a test started, and waits until it has exited (no scrape after this). */
async function stopPrometheus(): Promise<void> {
  const p = prometheus;
  prometheus = undefined;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill();
  await exited;
}

after(async () => {
  await stopPrometheus();
  await watcher?.stop();
  await app?.close();
  await inline?.close();
  await pool?.close();
  await lab?.stop();
  dated?.close();
  delete process.env.LD_EXPORTER_LAB_PASSWORD;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, { headers });
const probeUrl = (target: string, module = 'lab') =>
  `/probe?target=${encodeURIComponent(target)}&module=${encodeURIComponent(module)}`;
/** The value of a sample line `name{labels} value`, by a regex over the whole line. */
const sample = (text: string, line: RegExp) =>
  text
    .split('\n')
    .find((l) => line.test(l))
    ?.split(' ')
    .at(-1);

test("/probe's default probe workers: none on one or two cores (the server's thread probes), one per core up to 4 above", () => {
  // On two cores workers cost more CPU per probe than they add (bench/exporter.bench.mjs; probe-pool.ts).
  assert.deepEqual([1, 2, 3, 4, 8].map(defaultProbeWorkers), [0, 0, 3, 4, 4]);
});

test('/probe: blackbox_exporter metric names, and the diagnosis with cause and step', async () => {
  const ok = await get(probeUrl(url('healthy')));
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const good = await ok.text();
  assert.equal(sample(good, /^probe_success /), '1');
  assert.equal(sample(good, /^probe_http_status_code /), '200');
  assert.equal(sample(good, /^probe_http_ssl /), '1');
  assert.equal(sample(good, /^probe_tls_version_info\{version="TLS 1.3"\} /), '1');
  const expiry = Number(sample(good, /^probe_ssl_earliest_cert_expiry /));
  assert.ok(expiry > Date.now() / 1000, 'the chain expires in the future');
  assert.match(good, /^probe_ssl_last_chain_info\{fingerprint_sha256="[0-9a-f]{64}",subject="CN=/m);
  assert.ok(Number(sample(good, /^probe_duration_seconds /)) > 0);
  assert.doesNotMatch(good, /linkdoctor_probe_diagnosis/);
  // The rest of blackbox_exporter's HTTP and TLS names (its prober/http.go and utils.go).
  assert.equal(sample(good, /^probe_ip_protocol /), '4');
  assert.equal(
    sample(good, /^probe_ip_addr_hash /),
    '3668918509',
    "FNV-1a of 127.0.0.1, as blackbox_exporter's",
  );
  assert.equal(sample(good, /^probe_http_version /), '1.1');
  for (const phase of ['resolve', 'connect', 'tls', 'processing', 'transfer'])
    assert.ok(
      Number(sample(good, new RegExp(`^probe_http_duration_seconds\\{phase="${phase}"\\} `))) >= 0,
      phase,
    );
  assert.match(good, /^probe_tls_cipher_info\{cipher="TLS_[A-Z0-9_]+"\} 1$/m);
  const lastChain = Number(sample(good, /^probe_ssl_last_chain_expiry_timestamp_seconds /));
  assert.ok(lastChain > Date.now() / 1000 && lastChain <= expiry, 'the trusted chain, its anchor included');
  assert.match(good, /^probe_http_content_length -?\d+$/m);

  const bad = await (await get(probeUrl(url('missing-intermediate')))).text();
  assert.equal(sample(bad, /^probe_success /), '0');
  assert.equal(
    sample(
      bad,
      /^linkdoctor_probe_diagnosis\{id="out-cert-path",cause="Intermediate certificates not sent",step="tls"\} /,
    ),
    '1',
    bad,
  );
  assert.equal(sample(bad, /^linkdoctor_probe_failed_step\{step="tls"\} /), '1');
  assert.equal(sample(bad, /^linkdoctor_probe_step_success\{step="tls"\} /), '0');
  assert.equal(sample(bad, /^linkdoctor_probe_step_success\{step="tcp"\} /), '1');
  assert.equal(
    sample(bad, /^probe_ssl_last_chain_expiry_timestamp_seconds /),
    undefined,
    'no verified chain, no last chain expiry (as blackbox_exporter)',
  );
});

test('/probe answers the same from the probe worker threads as from the request thread, for every lab server', async () => {
  // Durations differ from run to run; everything else (names, labels, values, the diagnosis) must not.
  const steady = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => (/duration|_time_seconds/.test(l) ? l.replace(/ [^ ]+$/, ' (time)') : l))
      .join('\n');
  const inlinePort = (inline.server.address() as AddressInfo).port;
  // Every HTTP(S) lab server but the silent one, whose answer is the bound itself.
  const scenarios = lab.scenarios.filter((s) => /^https?:/.test(s.url) && s.name !== 'silent');
  assert.ok(scenarios.length >= 10, scenarios.map((s) => s.name).join(', '));
  const both = async (s: (typeof scenarios)[number]) => {
    const [pooled, own] = await Promise.all([
      get(probeUrl(s.url, 'lab_patient')),
      fetch(`http://127.0.0.1:${inlinePort}${probeUrl(s.url, 'lab_patient')}`),
    ]);
    assert.equal(pooled.status, own.status, s.name);
    const [a, b] = [await pooled.text(), await own.text()];
    assert.match(a, /^probe_success [01]$/m, s.name);
    return steady(a) === steady(b) ? undefined : [steady(a), steady(b)];
  };
  const differing = (await Promise.all(scenarios.map(async (s) => ((await both(s)) ? s : undefined)))).filter(
    (s) => s !== undefined,
  );
  // A TLS 1.3 server refuses a client certificate after its Finished message; on a loaded machine,
  // with every scenario probed at once, the refusal can come after the tls step's wait for it
  // (POST_HANDSHAKE_MS) and the http step sees it instead: timing, not the thread. A scenario whose
  // two answers differed is probed again, alone, and its answers must then agree.
  for (const s of differing) {
    const still = await both(s);
    assert.equal(still?.[0], still?.[1], s.name);
  }
  // The workers' answers count in the server's own metrics, as the thread's do.
  const own = await (await get('/metrics')).text();
  assert.match(own, /^linkdoctor_probes_total\{module="lab_patient",result="failure"\} \d+$/m);
});

test("/probe ends within Prometheus's scrape timeout (X-Prometheus-Scrape-Timeout-Seconds less half a second)", async () => {
  // Each answer comes after 400 ms, a redirect to the next path: every request is well within the
  // module's timeout (2 s), the redirects together (6 x 400 ms) are not within the scrape timeout.
  const slow = createHttpServer((req, res) => {
    const n = Number(/\/r\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
    setTimeout(() => res.writeHead(302, { location: `/r/${n + 1}` }).end(), 400);
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  try {
    const { port: slowPort } = slow.address() as AddressInfo;
    const started = performance.now();
    const res = await get(probeUrl(`http://127.0.0.1:${slowPort}/r/0`), {
      'X-Prometheus-Scrape-Timeout-Seconds': '1.5',
    });
    const text = await res.text();
    assert.equal(sample(text, /^probe_success /), '0');
    assert.equal(sample(text, /^linkdoctor_probe_failed_step\{step="http"\} /), '1', text);
    const took = Number(sample(text, /^probe_duration_seconds /));
    assert.ok(took < 1.5, `the probe took ${took} s, more than the scrape timeout`);
    // Still why (attack report 8): a server that answered, slowly, until the scrape's time ran out.
    assert.match(
      text,
      /^linkdoctor_probe_diagnosis\{id="network-timeout",cause="Read timeout",step="http"\} 1$/m,
      text,
    );
    assert.ok(
      performance.now() - started < 30_000,
      'a hang bound (a probe worker loads the knowledge base first)',
    );
  } finally {
    slow.closeAllConnections();
    slow.close();
  }
});

test('/probe cut by the scrape timeout in the TLS handshake still says why: a silent server, read timeout', async () => {
  // The module's timeout is 2 s; the scrape's 1.5 s leaves 1 s: the budget, not the timeout, ends the
  // tls step, and the reason is what the server did until then (attack report 8).
  for (const path of [probeUrl(url('silent')), probeUrl(url('silent'), 'lab_patient')]) {
    const started = performance.now();
    const text = await (await get(path, { 'X-Prometheus-Scrape-Timeout-Seconds': '1.5' })).text();
    assert.equal(sample(text, /^probe_success /), '0', text);
    assert.equal(sample(text, /^linkdoctor_probe_failed_step\{step="tls"\} /), '1', text);
    assert.match(
      text,
      /^linkdoctor_probe_diagnosis\{id="network-timeout",cause="Read timeout",step="tls"\} 1$/m,
      text,
    );
    assert.ok(
      performance.now() - started < 30_000,
      'a hang bound (a probe worker loads the knowledge base first)',
    );
  }
});

test('/probe refuses in one sentence: no target, unknown module, credentials to a host the inventory does not list', async () => {
  const none = await get('/probe');
  assert.equal(none.status, 400);
  assert.equal(await none.text(), 'Target parameter is missing (/probe?target=URL&module=NAME)\n');
  const unknown = await get(probeUrl(url('healthy'), 'nope'));
  assert.equal(unknown.status, 400);
  assert.match(await unknown.text(), /^Unknown module "nope" \(modules: lab, lab_patient, lab_login\)\n$/);
  const elsewhere = await get(probeUrl(url('healthy'), 'lab_login'));
  assert.equal(elsewhere.status, 400);
  assert.match(await elsewhere.text(), /module "lab_login" carries credentials: it probes only the targets/);
  const listed = await (await get(probeUrl(url('basic-auth'), 'lab_login'))).text();
  assert.equal(sample(listed, /^probe_http_status_code /), '200', 'the listed target, with its login');
  // The listed URL written another way is the same target (attack report 19): no trailing slash, an
  // upper-case scheme; another path, host or a user in the URL is not.
  const written = url('basic-auth');
  assert.match(written, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  for (const same of [written.slice(0, -1), written.replace(/^https/, 'HTTPS')]) {
    const text = await (await get(probeUrl(same, 'lab_login'))).text();
    assert.equal(sample(text, /^probe_http_status_code /), '200', same);
  }
  for (const other of [
    `${written}x`,
    written.replace('127.0.0.1', 'localhost'),
    written.replace('https://', 'https://bob@'),
    'https://',
  ]) {
    const res = await get(probeUrl(other, 'lab_login'));
    assert.equal(res.status, 400, other);
    assert.match(await res.text(), /carries credentials: it probes only the targets/, other);
  }
  const gopher = await get(probeUrl('gopher://127.0.0.1/'));
  assert.equal(gopher.status, 400);
  assert.match(await gopher.text(), /the probe cannot test gopher:\/\//);
});

test('/metrics: the latest outcome of every inventory target, and the server own metrics', async () => {
  const text = await (await get('/metrics')).text();
  assert.equal(
    sample(
      text,
      /^linkdoctor_target_success\{target="healthy",url="[^"]+",module="lab",system="S4",label_job="orders"\} /,
    ),
    '1',
    text,
  );
  assert.equal(sample(text, /^linkdoctor_target_success\{target="partner",/), '0');
  assert.match(
    text,
    /^linkdoctor_target_diagnosis\{target="partner",.*id="out-cert-path",cause="Intermediate certificates not sent",step="tls"\} 1$/m,
  );
  assert.match(text, /^linkdoctor_target_http_status_code\{target="crm",.*\} 200$/m);
  assert.match(text, /^linkdoctor_probes_total\{module="lab",result="success"\} \d+$/m);
  assert.match(text, /^process_cpu_user_seconds_total \d/m);
  assert.doesNotMatch(text, new RegExp(lab.basicAuth.password), 'no secret in the metrics');
});

test(
  'a real Prometheus scrapes /probe through the multi-target relabeling and /metrics',
  { skip: noPrometheus },
  async (t) => {
    // Its scrapes of /probe (every second) hold probe slots: it stops with this test, so that the
    // cap test after it counts its own probes only (a scrape in flight made it see 31 of 32).
    t.after(stopPrometheus);
    promPort = await freePort();
    const config = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: linkdoctor_probe
    metrics_path: /probe
    params:
      module: [lab]
    static_configs:
      - targets: ["${url('healthy')}", "${url('expired')}", "${datedUrl}"]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: 127.0.0.1:${port}
  - job_name: linkdoctor
    static_configs:
      - targets: ["127.0.0.1:${port}"]
`;
    writeFileSync(join(dir, 'prometheus.yml'), config);
    prometheus = spawn(
      PROMETHEUS!,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    assert.ok(await waitListening(promPort), 'prometheus listens');
    const query = async (q: string) => {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      if (r.status === 503) return []; // still starting
      const j = (await r.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return j.data.result;
    };
    // Prometheus scrapes every second; the bound is generous for a shared machine.
    let results: Awaited<ReturnType<typeof query>> = [];
    for (let i = 0; i < 120; i++) {
      results = await query('probe_success{job="linkdoctor_probe"}');
      const diag = await query('linkdoctor_probe_diagnosis');
      const own = await query('linkdoctor_target_success');
      if (results.length === 3 && diag.length && own.length === 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const byInstance = Object.fromEntries(results.map((r) => [r.metric.instance, r.value[1]]));
    assert.deepEqual(byInstance, { [url('healthy')]: '1', [url('expired')]: '0', [datedUrl]: '1' });
    const modified = await query('probe_http_last_modified_timestamp_seconds');
    assert.deepEqual(
      modified.map((r) => [r.metric.instance, r.value[1]]),
      [[datedUrl, '784111777']],
      'the Last-Modified date of the page that sends one, in unixtime; none for the others',
    );
    const diag = await query('linkdoctor_probe_diagnosis');
    assert.equal(diag.length, 1);
    assert.equal(diag[0]!.metric.instance, url('expired'));
    assert.equal(diag[0]!.metric.id, 'out-cert-expired');
    assert.equal(diag[0]!.metric.step, 'tls');
    const expiry = await query(`probe_ssl_earliest_cert_expiry{instance="${url('expired')}"} - time()`);
    assert.ok(Number(expiry[0]!.value[1]) < 0, 'the expired chain: its expiry lies in the past');
    const own = await query('linkdoctor_target_success{job="linkdoctor"}');
    assert.deepEqual(Object.fromEntries(own.map((r) => [r.metric.target, r.value[1]])), {
      healthy: '1',
      partner: '0',
      crm: '1',
    });
    const up = await query('up');
    assert.ok(up.length === 4 && up.every((r) => r.value[1] === '1'), JSON.stringify(up));
  },
);

test('serve mounts the watch room: --inventory checks on its schedule, /metrics shows it, the token guards /probe', async () => {
  const { buildServer } = await import('../src/serve/app.js');
  const { mountRooms } = await import('../src/serve/rooms.js');
  const file = join(dir, 'serve-inventory.yaml');
  writeFileSync(
    file,
    `modules:\n  lab:\n    trust: ${lab.trustFile}\ntargets:\n  - { url: "${url('healthy')}", name: healthy, module: lab }\n  - { url: "${url('expired')}", name: expired, module: lab }\n`,
  );
  const logged: string[] = [];
  const token = 'a-token-of-24-characters';
  const served = await buildServer({
    host: '127.0.0.1',
    token,
    kb: await loadKb(),
    inventory: file,
    db: join(dir, 'serve.db'),
    everyMs: 60_000,
    log: (l: string) => logged.push(l),
  } as Parameters<typeof buildServer>[0]);
  await mountRooms(served);
  await served.ready();
  try {
    const auth = { authorization: `Bearer ${token}` };
    let text = '';
    for (let i = 0; i < 100 && (text.match(/^linkdoctor_target_success\{/gm)?.length ?? 0) < 2; i++) {
      text = (await served.inject({ url: '/metrics', headers: auth })).body;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /^linkdoctor_target_success\{target="healthy",url="[^"]+",module="lab"\} 1$/m);
    assert.match(text, /^linkdoctor_target_success\{target="expired",url="[^"]+",module="lab"\} 0$/m);
    assert.ok(
      logged.some((l) => / expired failure: fails at tls: out-cert-expired/.test(l)),
      logged.join('\n'),
    );
    const noToken = await served.inject({
      url: `/probe?target=${encodeURIComponent(url('healthy'))}&module=lab`,
    });
    assert.equal(noToken.statusCode, 401);
    const probed = await served.inject({
      url: `/probe?target=${encodeURIComponent(url('healthy'))}&module=lab`,
      headers: auth,
    });
    assert.match(probed.body, /^probe_success 1$/m);
  } finally {
    await served.close();
  }
});

test('/probe shares the cap of POST /api/probe (32 in flight) and then waits in line for a slot: 32 wait at most (then 429 with Retry-After), each within its scrape budget (then 503), a scraper that hangs up leaves the line unprobed or stops its probe; in worker threads and in its own thread', async () => {
  const closers: (() => unknown)[] = [];
  /** The silent server's connections open now, and all it accepted: it reads and never says a word. */
  let open = 0;
  let accepted = 0;
  const silent = await rawServer((s) => {
    s.resume();
    open++;
    accepted++;
    s.on('close', () => open--);
  }, closers);
  try {
    for (const [name, server] of [
      ['worker threads', app],
      ['its own thread', inline],
    ] as const) {
      const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
      const gauges = async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        const value = (g: string) => Number(new RegExp(`^${g} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
        return {
          inFlight: value('linkdoctor_api_probes_in_flight'),
          waiting: value('linkdoctor_api_probes_waiting'),
        };
      };
      const is = (inFlight: number, waiting: number) => async () => {
        const g = await gauges();
        return g.inFlight === inFlight && g.waiting === waiting;
      };
      // 30 s per step, no scrape timeout sent: each probe would wait on the silent server for long,
      // and a scrape in line waits up to the module's 30 s.
      const slow = `${base}${probeUrl(`https://127.0.0.1:${silent}/`, 'lab_patient')}`;
      /** A scrape of the silent server its own scraper can hang up. */
      const scrape = (headers: Record<string, string> = {}) => {
        const hangUp = new AbortController();
        const answer = fetch(slow, { signal: hangUp.signal, headers }).then(
          async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), text: await r.text() }),
          () => ({ status: 0, retry: null, text: '' }),
        );
        return { answer, hangUp: () => hangUp.abort() };
      };
      // Probes of the tests before that are still running (a loaded machine) would hold slots.
      assert.ok(await until(is(0, 0), 60_000), `${name}: ${JSON.stringify(await gauges())}`);
      const before = accepted;
      const running = Array.from({ length: 32 }, () => scrape());
      assert.ok(await until(() => open === 32, 20_000), `${name}: ${open} connections to the silent server`);
      // Two more wait for a slot, unanswered, and probe nothing yet.
      const first = scrape();
      const second = scrape();
      assert.ok(await until(is(32, 2), 10_000), `${name}: ${JSON.stringify(await gauges())}`);
      // The first hangs up: it leaves the line at once, and no probe is started for it.
      first.hangUp();
      assert.equal((await first.answer).status, 0);
      assert.ok(await until(is(32, 1), 5_000), `${name}: ${JSON.stringify(await gauges())}`);
      // A running probe's scraper hangs up: its probe stops and its slot goes to the second in line.
      running[0]!.hangUp();
      assert.ok(await until(is(32, 0), 5_000), `${name}: ${JSON.stringify(await gauges())}`);
      assert.ok(
        await until(() => accepted - before === 33, 10_000),
        `${name}: ${accepted - before} connections`,
      );
      // 32 wait; one more gets 429 at once, as when no scrape could wait.
      const line = Array.from({ length: 32 }, () => scrape());
      assert.ok(await until(is(32, 32), 10_000), `${name}: ${JSON.stringify(await gauges())}`);
      const more = await fetch(slow);
      assert.equal(more.status, 429, name);
      assert.equal(more.headers.get('retry-after'), '5');
      assert.equal(
        ((await more.json()) as { detail: string }).detail,
        'this server is running 32 probes already, its most at once; try again in 5 s',
      );
      // A scrape whose budget (1 s less its margin: 0.5 s) ends in line gets 503 with the reason,
      // and leaves the line; nothing probed.
      line[0]!.hangUp();
      assert.ok(await until(is(32, 31), 5_000), `${name}: ${JSON.stringify(await gauges())}`);
      const late = await scrape({ 'x-prometheus-scrape-timeout-seconds': '1' }).answer;
      assert.equal(late.status, 503, `${name}: ${JSON.stringify(late)}`);
      assert.equal(
        (JSON.parse(late.text) as { detail: string }).detail,
        "this server's 32 probe slots stayed taken for 0.5 s, the scrape timeout less its margin; the target was not probed",
      );
      assert.equal((await gauges()).waiting, 31, name);
      assert.equal(accepted - before, 33, `${name}: only running probes connect`);
      // Everyone hangs up: the running probes stop now, not after the silent server's 30 s, and
      // none of those in line starts one (a slot freed by a hang-up goes to one whose scraper is gone).
      for (const s of [...line, second, ...running]) s.hangUp();
      const got = await Promise.all([...line, second, ...running].map((s) => s.answer));
      assert.deepEqual(
        got.filter((a) => a.status !== 0),
        [],
        name,
      );
      assert.ok(await until(() => open === 0, 5_000), `${name}: ${open} connections left open`);
      assert.ok(await until(is(0, 0), 5_000), `${name}: ${JSON.stringify(await gauges())}`);
      // The slots are free again.
      const next = await fetch(`${base}${probeUrl(url('healthy'))}`);
      assert.equal(next.status, 200, name);
    }
  } finally {
    closers.forEach((c) => c());
  }
});

test('/probe: a scrape in line gets its answer when a slot frees, its probe bounded by what is left of its scrape budget', async () => {
  const closers: (() => unknown)[] = [];
  let open = 0;
  const silent = await rawServer((s) => {
    s.resume();
    open++;
    s.on('close', () => open--);
  }, closers);
  try {
    const base = `http://127.0.0.1:${(inline.server.address() as AddressInfo).port}`;
    const waiting = async () =>
      Number(
        /^linkdoctor_api_probes_waiting (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ??
          NaN,
      );
    const slow = `${base}${probeUrl(`https://127.0.0.1:${silent}/`, 'lab_patient')}`;
    const scrape = (timeoutS: number) => {
      const started = Date.now();
      return fetch(slow, { headers: { 'x-prometheus-scrape-timeout-seconds': String(timeoutS) } }).then(
        async (r) => ({ status: r.status, text: await r.text(), ms: Date.now() - started }),
      );
    };
    // 32 scrapes with a 6 s scrape timeout (a 5.5 s budget) fill the slots; 2 with an 8 s one wait
    // about 5.5 s for theirs, and have about 2 s left to probe.
    const running = Array.from({ length: 32 }, () => scrape(6));
    assert.ok(await until(() => open === 32, 20_000), `${open} connections to the silent server`);
    const inLine = [scrape(8), scrape(8)];
    assert.ok(await until(async () => (await waiting()) === 2, 10_000), `waiting ${await waiting()}`);
    const done = await Promise.all([...running, ...inLine]);
    // Every one answers as a probe cut by the scrape timeout: the silent server's timeout.
    for (const d of done) {
      assert.equal(d.status, 200, d.text);
      assert.match(d.text, /^probe_success 0$/m);
    }
    // Those in line answer within their own 8 s, though they waited (a probe given the whole 7.5 s
    // budget after waiting would answer after about 13 s), and their probe ran for what was left.
    for (const d of done.slice(32)) {
      assert.ok(d.ms < 8_000, `in line answered after ${d.ms} ms`);
      const ran = Number(/^probe_duration_seconds (\S+)$/m.exec(d.text)?.[1]);
      assert.ok(ran < 5, `in line probed for ${ran} s`);
    }
    assert.equal(await waiting(), 0);
  } finally {
    closers.forEach((c) => c());
  }
});
