// `linkdoctor tenant failures` on the lab's fake tenant (some 2,500 messages of the last three days,
// 2,000 of them failed, their error texts the lab's failures in the platform's words), side by side
// with what a user does instead: download the failed messages and their error texts with a script
// (here: plain node:https, the same requests, 8 at a time) and run `linkdoctor scan --json` on that
// export. Prints wall and CPU seconds (user + system of the process, from /usr/bin/time when there)
// of each, the requests made, and whether both group the incidents alike (same diagnoses,
// integration flows and counts). Wall times on a loaded machine are noisy: the CPU column less so.
//
//   node bench/tenant.bench.mjs        (npm run bench runs it with the others; build dist first)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'ld-tenant-bench-'));
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Starts `linkdoctor lab --json` and resolves with what it printed (it runs until killed). */
function startLab() {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, 'lab', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      try {
        resolve({ lab: JSON.parse(out), stop: () => p.kill('SIGTERM') });
      } catch {
        // not all of it yet
      }
    });
    p.once('exit', (code) => reject(new Error(`linkdoctor lab ended (${code}) before printing`)));
  });
}

/** Runs a command; wall seconds, CPU seconds (user + system, when /usr/bin/time is there), stdout. */
function timed(args, env) {
  const started = performance.now();
  const r = TIME
    ? spawnSync(TIME, ['-f', '%U %S %M', process.execPath, ...args], {
        env,
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      })
    : spawnSync(process.execPath, args, { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = (performance.now() - started) / 1000;
  const usage = TIME ? r.stderr.trim().split('\n').at(-1).split(' ').map(Number) : [];
  return {
    wall,
    cpu: TIME ? usage[0] + usage[1] : NaN,
    rssMb: TIME ? usage[2] / 1024 : NaN,
    stdout: r.stdout,
    status: r.status,
  };
}

/** One HTTPS GET or POST trusting the lab's root; the body as text. */
function fetchText(url, { method = 'GET', headers = {}, ca }) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, ca },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** What a user's script does: token, MPL pages along __next, then every error text, 8 at a time. */
async function download(lab, ca, since) {
  const key = JSON.parse(readFileSync(lab.tenant.keyFile, 'utf8')).oauth;
  const basic = Buffer.from(`${key.clientid}:${key.clientsecret}`).toString('base64');
  const t = await fetchText(`${key.tokenurl}?grant_type=client_credentials`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}` },
    ca,
  });
  const auth = { authorization: `Bearer ${JSON.parse(t.body).access_token}` };
  const filter = `(Status eq 'FAILED' or Status eq 'RETRY' or Status eq 'ESCALATED') and LogEnd ge datetime'${since}'`;
  let next = `MessageProcessingLogs?$format=json&$filter=${encodeURIComponent(filter)}`;
  const mpls = [];
  let requests = 1;
  while (next) {
    const page = JSON.parse((await fetchText(`${key.url}/api/v1/${next}`, { headers: auth, ca })).body).d;
    requests++;
    mpls.push(...page.results);
    next = page.__next
      ? `${page.__next}${page.__next.includes('$format') ? '' : '&$format=json'}`
      : undefined;
  }
  let i = 0;
  const worker = async () => {
    while (i < mpls.length) {
      const m = mpls[i++];
      const r = await fetchText(
        `${key.url}/api/v1/MessageProcessingLogs('${m.MessageGuid}')/ErrorInformation/$value`,
        {
          headers: auth,
          ca,
        },
      );
      requests++;
      if (r.status === 200) m.ErrorText = r.body;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { mpls, requests };
}

/** Groups as both print them in --json: diagnosis, integration flow, count. */
const groups = (j) =>
  j.groups
    .map((g) => `${g.id} ${g.iflow ?? ''} ${g.cause?.id ?? ''} ${g.count}`)
    .sort()
    .join('\n');

const { lab, stop } = await startLab();
try {
  const ca = readFileSync(lab.trustFile, 'utf8');
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: lab.trustFile, HTTPS_PROXY: '', https_proxy: '' };
  // The window holds every message of the fake (three days), so both read the same ones.
  const since = new Date(Date.now() - 4 * 86_400_000).toISOString().slice(0, 19);

  const tenant = timed(
    [cli, 'tenant', 'failures', '--since', '4d', '--json', '--service-key', lab.tenant.keyFile],
    env,
  );
  const tj = JSON.parse(tenant.stdout);

  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const { mpls, requests } = await download(lab, ca, since);
  const downloadWall = (performance.now() - started) / 1000;
  const cpuDownload = process.cpuUsage(cpu0);
  const file = join(tmp, 'mpl-export.json');
  writeFileSync(file, JSON.stringify({ d: { results: mpls } }));
  const scan = timed([cli, 'scan', '--json', file], env);
  const sj = JSON.parse(scan.stdout);

  const n = tj.summary.incidents;
  const same = groups(tj) === groups(sj);
  console.log(
    `fake tenant: ${mpls.length} failed messages, ${mpls.filter((m) => m.ErrorText).length} error texts, ${requests} requests to read them`,
  );
  console.log('');
  console.log('                                                     wall s   CPU s   peak RSS');
  const row = (what, wall, cpu, rss) =>
    console.log(
      `${what.padEnd(52)} ${wall.toFixed(1).padStart(6)}  ${Number.isNaN(cpu) ? '     -' : cpu.toFixed(2).padStart(6)}  ${Number.isNaN(rss) ? '-' : `${rss.toFixed(0)} MB`}`,
    );
  row('linkdoctor tenant failures --since 4d --json', tenant.wall, tenant.cpu, tenant.rssMb);
  row(
    'a script downloads the same (node:https, 8 at once)',
    downloadWall,
    (cpuDownload.user + cpuDownload.system) / 1e6,
    NaN,
  );
  row('  then linkdoctor scan --json on that export', scan.wall, scan.cpu, scan.rssMb);
  console.log('');
  console.log(
    `${n} incidents; tenant failures and scan group them ${same ? 'alike (same diagnoses, integration flows, causes and counts)' : 'DIFFERENTLY'}`,
  );
  if (!same) process.exitCode = 1;
} finally {
  stop();
  rmSync(tmp, { recursive: true, force: true });
}
