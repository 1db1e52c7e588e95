// `linkdoctor check`: an inventory of the lab's servers, a real nginx and a real sshd (both from
// Debian, started by the test on 127.0.0.1), each target the same probe as `linkdoctor probe`.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Lab, startLab } from '../src/lab/index.js';
import { makePki } from '../src/lab/pki.js';
import { loadKb } from '../src/kb/load.js';
import { checkAll } from '../src/watch/check.js';
import { parseInventory, selectTargets } from '../src/watch/inventory.js';
import { ModuleOptions } from '../src/watch/options.js';
import {
  freePort,
  opensslSelfSigned,
  rawServer,
  runCliAsync,
  SSHD,
  startNginx,
  startSshd,
} from './helpers.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

let lab: Lab;
let dir = '';
const children: ChildProcess[] = [];
let nginxPort = 0;
let sshdPort = 0;

before(async () => {
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'ld-check-'));
  if (NGINX) {
    const pki = await makePki();
    writeFileSync(join(dir, 'chain.pem'), `${pki.local.certPem}\n${pki.issuing.certPem}\n`);
    writeFileSync(join(dir, 'key.pem'), pki.local.keyPem);
    writeFileSync(join(dir, 'nginx-trust.pem'), pki.root.certPem);
    nginxPort = await freePort();
    children.push(
      await startNginx(
        NGINX,
        dir,
        nginxPort,
        `    location / { return 200 "hello from nginx\\n"; }
    location /gone { return 410; }`,
      ),
    );
  }
  if (SSHD) {
    for (const k of ['host_ed25519', 'other_ed25519'])
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', join(dir, k)]);
    const sshd = await startSshd(
      dir,
      ['host_ed25519'],
      'PasswordAuthentication yes\nKbdInteractiveAuthentication no\n',
    );
    sshdPort = sshd.port;
    children.push(sshd.child);
    const key = (f: string) => readFileSync(join(dir, f), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${sshdPort} ${key('host_ed25519.pub')}\n`);
    writeFileSync(join(dir, 'known_hosts_stale'), `[127.0.0.1]:${sshdPort} ${key('other_ed25519.pub')}\n`);
  }
});

after(async () => {
  for (const c of children) c.kill();
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const url = (name: string) => lab.scenarios.find((s) => s.name === name)!.url;
const HTTPS_SCENARIOS = [
  'healthy',
  'unknown-ca',
  'expired',
  'missing-intermediate',
  'forbidden',
  'unavailable',
];

/** An inventory of the lab's https scenarios (each labelled with its name), plus nginx and sshd. */
function inventory(extra = ''): string {
  const modules = [
    '  lab:',
    `    trust: ${lab.trustFile}`,
    '    timeout: 3s',
    '  lab_401_expected:',
    `    trust: ${lab.trustFile}`,
    '    valid_status_codes: [401]',
  ];
  const targets = [
    ...HTTPS_SCENARIOS.flatMap((s) => [
      `  - url: ${url(s)}`,
      `    name: ${s}`,
      '    module: lab',
      `    labels: { scenario: ${s}, owner: team-a }`,
    ]),
    `  - url: ${url('basic-auth')}`,
    '    name: basic-auth-unauthenticated',
    '    module: lab_401_expected',
    '    labels: { scenario: basic-auth }',
  ];
  if (NGINX) {
    modules.push('  nginx:', `    trust: ${join(dir, 'nginx-trust.pem')}`);
    targets.push(
      `  - { url: "https://localhost:${nginxPort}/", name: nginx, module: nginx, labels: { scenario: nginx } }`,
      `  - { url: "https://localhost:${nginxPort}/gone", name: nginx-gone, module: nginx, labels: { scenario: nginx-gone } }`,
    );
  }
  if (SSHD) {
    modules.push(
      '  sftp_known:',
      `    known_hosts: ${join(dir, 'known_hosts')}`,
      '  sftp_stale:',
      `    known_hosts: ${join(dir, 'known_hosts_stale')}`,
    );
    targets.push(
      `  - { url: "sftp://127.0.0.1:${sshdPort}/", name: sshd, module: sftp_known, labels: { scenario: sshd } }`,
      `  - { url: "sftp://127.0.0.1:${sshdPort}/", name: sshd-rekeyed, module: sftp_stale, labels: { scenario: sshd-rekeyed } }`,
    );
  }
  const lines = ['modules:', ...modules, 'targets:', ...targets];
  const file = join(dir, `inventory-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `${lines.join('\n')}\n${extra}`);
  return file;
}

interface CheckJson {
  targets: number;
  failing: number;
  results: {
    name: string;
    ok: boolean;
    labels: Record<string, string>;
    summary: { status?: number; certDaysLeft?: number; hostKey?: string; diagnosis?: { id: string } };
    probe?: { diagnoses: { id: string }[] };
  }[];
}

test('check: one line per target, the diagnosis of each failure, exit 1', async () => {
  const r = await runCliAsync(['check', inventory()]);
  assert.equal(r.status, 1, r.stderr);
  const all = r.stdout.trim().split('\n');
  // A target's first line starts with its mark; a result too long for it goes on under itself.
  const firsts = all.filter((l) => /^[✔✖!] /.test(l));
  const lines = all.reduce<string[]>(
    (out, l) =>
      /^[✔✖!] |^\d+ targets/.test(l) ? [...out, l] : [...out.slice(0, -1), `${out.at(-1)!} ${l.trim()}`],
    [],
  );
  const count = HTTPS_SCENARIOS.length + 1 + (NGINX ? 2 : 0) + (SSHD ? 2 : 0);
  assert.equal(lines.length, count + 1, r.stdout);
  const line = (name: string) => lines.find((l) => l.split(/\s+/)[1] === name) ?? '';
  // Names and URLs in aligned columns: what was found starts at one column on every target's line.
  const found = new Set(firsts.map((l) => l.search(/(?<=:\/\/\S*\s+)\S/)));
  assert.equal(found.size, 1, r.stdout);
  assert.match(line('healthy'), /^✔ healthy .* HTTP 200 · certificate expires in \d+ days$/);
  assert.match(line('unknown-ca'), /^✖ unknown-ca .*out-cert-path \(Root CA not in the keystore\) at tls/);
  assert.match(
    line('expired'),
    /^✖ expired .*out-cert-expired \(Receiver certificate expired\) at tls · certificate expired \d+ days ago/,
  );
  assert.match(line('unavailable'), /out-http-503 .* at http · HTTP 503/);
  assert.match(
    line('basic-auth-unauthenticated'),
    /^✔ .*HTTP 401/,
    'a 401 is what valid_status_codes asks for',
  );
  if (NGINX) {
    assert.match(line('nginx'), /^✔ nginx .*HTTP 200 · certificate expires in \d+ days/);
    assert.match(line('nginx-gone'), /^✖ nginx-gone .*HTTP 410/);
  }
  if (SSHD) {
    const sha = execFileSync('ssh-keygen', ['-lf', join(dir, 'host_ed25519.pub')], {
      encoding: 'utf8',
    }).split(' ')[1];
    // No user in the module: the login was not tested, and the line says so (`!`, not ✔).
    assert.match(
      line('sshd'),
      new RegExp(
        `^! sshd .*host key ssh-ed25519 ${sha!.replace(/[+/]/g, '\\$&')} · ! auth: the login was not tested \\(no user given\\)`,
      ),
    );
    assert.match(line('sshd-rekeyed'), /^✖ sshd-rekeyed .*out-sftp .* at ssh · host key ssh-ed25519 SHA256:/);
  }
  const failing = 5 + (NGINX ? 1 : 0) + (SSHD ? 1 : 0);
  assert.match(lines.at(-1)!, new RegExp(`^${count} targets: ${count - failing} ok, ${failing} failing \\(`));
  assert.doesNotMatch(r.stderr, /█/, 'no progress bar when standard error is no terminal');
});

test('check --json: every target with its summary and the probe, the same diagnoses as the lab expects', async () => {
  const r = await runCliAsync([
    'check',
    inventory(),
    '--json',
    '--only',
    'owner=team-a',
    '--concurrency',
    '2',
  ]);
  assert.equal(r.status, 1, r.stderr);
  const j = JSON.parse(r.stdout) as CheckJson;
  assert.equal(j.targets, HTTPS_SCENARIOS.length, '--only keeps the team-a targets');
  for (const res of j.results) {
    const expect = lab.scenarios.find((s) => s.name === res.labels.scenario)!.expect;
    assert.equal(res.ok, !expect, res.name);
    assert.equal(res.summary.diagnosis?.id ?? '', expect, res.name);
    assert.equal(res.probe!.diagnoses[0]?.id ?? '', expect, res.name);
  }
});

test('check --junit and --markdown: one testcase and one row per target', async () => {
  const file = inventory();
  const junit = await runCliAsync(['check', file, '--junit', '--only', 'owner=team-a']);
  assert.equal(junit.status, 1);
  assert.equal(junit.stdout.match(/<testcase /g)?.length, HTTPS_SCENARIOS.length);
  assert.equal(junit.stdout.match(/<failure /g)?.length, HTTPS_SCENARIOS.length - 1);
  assert.match(junit.stdout, /<failure message="out-cert-path \(Root CA not in the keystore\) at tls/);
  const md = await runCliAsync(['check', file, '--markdown', '--only', 'scenario=healthy']);
  assert.equal(md.status, 0, 'the one healthy target: exit 0');
  assert.match(md.stdout, /^## linkdoctor check: 1 ok, 0 failing/);
  assert.match(
    md.stdout,
    /\| ✅ \| healthy \| https:\/\/127\.0\.0\.1:\d+\/ \| scenario=healthy owner=team-a \| HTTP 200/,
  );
  const both = await runCliAsync(['check', file, '--json', '--junit']);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /choose one of --json, --junit and --markdown/);
});

test('an inventory with problems: every one as file:line: field: sentence, exit 2, no probe', async () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(
    file,
    [
      'modules:',
      '  lab:',
      '    timeout: forever',
      '    colour: red',
      'targets:',
      '  - url: https://a.example/',
      '    labels: { "bad-label": x }',
    ].join('\n'),
  );
  const r = await runCliAsync(['check', file]);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    [
      'linkdoctor: the inventory has 3 problems:',
      `${file}:3: modules.lab.timeout: timeout takes a duration from 0.1 s to 3600 s, such as 5s or 1m`,
      `${file}:4: modules.lab.colour: is not a field here`,
      `${file}:7: targets[0].labels.bad-label: label names are letters, digits and _ (as Prometheus wants them)`,
      '',
    ].join('\n'),
  );
  const { problems } = await parseInventory(
    [
      'modules:',
      '  auth: { user: me }',
      '  files: { trust: nope.pem }',
      'targets:',
      '  - { url: "https://a.example/", module: nope }',
      '  - { url: "gopher://x/" }',
      '  - { url: "https://b.example/", name: twin }',
      '  - { url: "https://c.example/", name: twin }',
    ].join('\n'),
    join(dir, 'inv.yaml'),
  );
  assert.deepEqual(
    problems.map((p) => [p.line, p.field]),
    [
      [2, 'modules.auth.user'],
      [3, 'modules.files.trust'],
      [5, 'targets[0].module'],
      [6, 'targets[1].url'],
      [8, 'targets[3]'],
    ],
  );
  assert.match(problems[2]!.message, /no module "nope" \(modules: auth, files\)/);
  writeFileSync(join(dir, 'broken.yaml'), 'targets:\n  - url: [\n');
  const broken = await runCliAsync(['check', join(dir, 'broken.yaml')]);
  assert.equal(broken.status, 2);
  assert.match(broken.stderr, /broken\.yaml:3: not valid YAML: /);
  const missing = await runCliAsync(['check', join(dir, 'none.yaml')]);
  assert.match(
    missing.stderr,
    /^linkdoctor: cannot read the inventory .*none\.yaml: no such file or directory \(ENOENT\)\n$/,
  );
});

test('every problem of an inventory at once, in line order: types, unknown fields (did you mean), URLs, modules, duplicate names, reserved label names', async () => {
  writeFileSync(join(dir, 'exists.pem'), 'x');
  const file = join(dir, 'all-at-once.yaml');
  writeFileSync(
    file,
    [
      'modules:',
      '  lab:',
      '    timout: 3s',
      '    timeout: forever',
      '  other: { trust: nope.pem }',
      'targets:',
      '  - url: https://a.example/',
      '    name: a',
      '    labels: { __name__: zzz, owner: x }',
      '  - url: "not a url"',
      '    name: a',
      '  - { url: "https://b.example/", labels: { url: x, cause: y, job: z }, module: nope }',
      '  - { url: "https://bob:pw@c.example/", module: lab }',
      '  - { url: "https://d.example/", colour: red, labels: { __meta_x: "1", step_name: ok } }',
    ].join('\n'),
  );
  const r = await runCliAsync(['check', file]);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], 'linkdoctor: the inventory has 12 problems:');
  const problems = lines.slice(1).map((l) => l.slice(file.length + 1));
  assert.deepEqual(
    problems.map((l) => l.split(': ').slice(0, 2).join(': ')),
    [
      '3: modules.lab.timout',
      '4: modules.lab.timeout',
      '5: modules.other.trust',
      '9: targets[0].labels.__name__',
      '10: targets[1].url',
      '10: targets[1]',
      '12: targets[2].labels.url',
      '12: targets[2].labels.cause',
      '12: targets[2].module',
      '13: targets[3].url',
      '14: targets[4].labels.__meta_x',
      '14: targets[4].colour',
    ],
  );
  assert.match(problems[0]!, /: is not a field here; did you mean timeout\?$/);
  assert.match(problems[3]!, /: label names that start with __ are reserved by Prometheus$/);
  assert.match(problems[5]!, /another target \(line 7\) is also called "a"/);
  assert.match(
    problems[6]!,
    /: linkdoctor sets the label url itself \(target, url, module, id, cause, step\)/,
  );
  assert.match(problems[11]!, /: is not a field here$/, 'no guess when no field is near');
});

test('a YAML alias bomb: "not valid YAML" with file and line, exit 2, no internal error', async () => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const [n, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
    lines.push(`${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const file = join(dir, 'bomb.yaml');
  writeFileSync(file, lines.join('\n'));
  const r = await runCliAsync(['check', file]);
  assert.equal(r.status, 2);
  assert.equal(
    r.stderr,
    `linkdoctor: the inventory has 1 problem:\n${file}:2: not valid YAML: Excessive alias count indicates a resource exhaustion attack\n`,
  );
});

test('a password in a target URL: the sentence names the inventory field password_env, not the CLI flag', async () => {
  const { problems } = await parseInventory(
    'targets:\n  - url: https://bob:secret@a.example/\n',
    join(dir, 'inv.yaml'),
  );
  assert.equal(problems.length, 1);
  assert.equal(problems[0]!.field, 'targets[0].url');
  assert.match(problems[0]!.message, /password_env/);
  assert.doesNotMatch(problems[0]!.message, /--password-env|secret/);
});

test('--only with no match: one sentence each', async () => {
  const file = inventory(
    `  - { url: "https://127.0.0.1:1/", name: needs-secret, module: secret, labels: { scenario: secret } }\n`,
  );
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace(
      'modules:\n',
      'modules:\n  secret:\n    user: cpi\n    password_env: LD_CHECK_SET_PASSWORD\n',
    ),
  );
  const env = { LD_CHECK_SET_PASSWORD: 'not-used-here' };
  const bad = await runCliAsync(['check', file, '--only', 'nolabel'], { env });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--only takes LABEL=VALUE, not "nolabel"/);
  const none = await runCliAsync(['check', file, '--only', 'scenario=nothing'], { env });
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no target of .* matches scenario=nothing/);
});

test("an unset or empty password_env or oauth_secret_env of a module in use is the inventory's problem, told before any probe, never its value", async () => {
  let connections = 0;
  const closers: (() => unknown)[] = [];
  const port = await rawServer((s) => {
    connections++;
    s.destroy();
  }, closers);
  const file = join(dir, 'secrets.yaml');
  writeFileSync(
    file,
    [
      'modules:',
      '  basic:',
      '    user: cpi',
      '    password_env: LD_CHECK_UNSET_PASSWORD',
      `  oauth: { oauth_token_url: "http://127.0.0.1:${port}/token", oauth_client_id: me, oauth_secret_env: LD_CHECK_EMPTY_SECRET }`,
      '  unused: { user: nobody, password_env: LD_CHECK_UNSET_OTHER }',
      '  set: { user: cpi, password_env: LD_CHECK_SET_PASSWORD }',
      'targets:',
      `  - { url: "http://127.0.0.1:${port}/a", name: a, module: basic }`,
      `  - { url: "http://127.0.0.1:${port}/b", name: b, module: oauth }`,
      `  - { url: "http://127.0.0.1:${port}/c", name: c, module: set }`,
    ].join('\n'),
  );
  try {
    const secret = 'S3cret-value-never-shown';
    const r = await runCliAsync(['check', file, '--junit'], {
      env: { LD_CHECK_EMPTY_SECRET: '', LD_CHECK_SET_PASSWORD: secret },
    });
    assert.equal(r.status, 2, r.stdout);
    assert.equal(r.stdout, '', 'no report: the inventory was refused');
    assert.equal(
      r.stderr,
      [
        'linkdoctor: the inventory has 2 problems:',
        `${file}:4: modules.basic.password_env: the environment variable LD_CHECK_UNSET_PASSWORD (the password) is not set`,
        `${file}:5: modules.oauth.oauth_secret_env: the environment variable LD_CHECK_EMPTY_SECRET (the OAuth2 client secret) is set but empty`,
        '',
      ].join('\n'),
    );
    assert.ok(!r.stderr.includes(secret));
    // serve --inventory: the same problems at start, and no server.
    const s = await runCliAsync(
      ['serve', '--port', String(await freePort()), '--inventory', file, '--db', join(dir, 'secrets.db')],
      { env: { LD_CHECK_EMPTY_SECRET: '', LD_CHECK_SET_PASSWORD: secret }, timeout: 30_000 },
    );
    assert.equal(s.status, 2, s.stdout);
    assert.equal(s.stderr, r.stderr);
    assert.equal(connections, 0, 'no target was probed');
  } finally {
    closers.forEach((c) => c());
  }
});

test("a value of the wrong kind: what the field takes, in sentences, not the validation library's words; password_env without user (C1)", async () => {
  const { problems } = await parseInventory(
    [
      'modules:',
      '  m1:',
      '    valid_status_codes: ["200", 700]',
      '    max_redirects: -1',
      '    headers: "X-Foo: bar"',
      '    direction: sideways',
      '  m2: "a string"',
      '  m3: { password_env: PW }',
      'targets:',
      '  - { url: "https://a.example/", module: [m1] }',
      '  - 5',
      '  - { url: "https://b.example/", labels: { owner: [a, b] } }',
    ].join('\n'),
    join(dir, 'kinds.yaml'),
  );
  const said = problems.map((p) => `${p.line}: ${p.field}: ${p.message}`);
  assert.deepEqual(said, [
    '3: modules.m1.valid_status_codes[0]: valid_status_codes lists HTTP statuses from 100 to 599, such as [200, 204], not "200"',
    '3: modules.m1.valid_status_codes[1]: valid_status_codes lists HTTP statuses from 100 to 599, such as [200, 204], not the number 700',
    '4: modules.m1.max_redirects: max_redirects is a number of redirects from 0 to 50, not the number -1',
    '5: modules.m1.headers: headers is a map of header names to values (X-Foo: bar), not "X-Foo: bar"',
    '6: modules.m1.direction: direction is inbound or outbound, not "sideways"',
    '7: modules.m2: a module is a map of settings (timeout: 5s, trust: ca.pem), not "a string"',
    '8: modules.m3.password_env: password_env needs user (the user it is the password of): without it the secret is not used',
    '10: targets[0].module: module is the name of a module of this inventory, not a list',
    '11: targets[1]: a target is a map of url and its name, module and labels (- url: https://host/path), not the number 5',
    "12: targets[2].labels.owner: a label's value is a text, a number or true/false, not a list",
  ]);
  for (const p of problems)
    assert.doesNotMatch(p.message, /Invalid input|expected \w+|received|[<>]=|record/);
});

test('--only: values of one label are alternatives, different labels all match; a label no target has gets the closest name (attack C2)', async () => {
  const { inventory } = await parseInventory(
    [
      'targets:',
      '  - { url: "https://a.example/", name: a, labels: { owner: team-a, env: prod } }',
      '  - { url: "https://b.example/", name: b, labels: { owner: team-b, env: prod } }',
      '  - { url: "https://c.example/", name: c, labels: { owner: team-c, env: test } }',
      '',
    ].join('\n'),
    join(dir, 'only.yaml'),
  );
  const names = (only: string[]) => selectTargets(inventory!.targets, only).map((t) => t.name);
  assert.deepEqual(names(['owner=team-a', 'owner=team-b']), ['a', 'b']);
  assert.deepEqual(names(['owner=team-a', 'owner=team-c', 'env=prod']), ['a']);
  assert.deepEqual(names(['name=c', 'name=a']), ['a', 'c']);
  assert.throws(() => selectTargets(inventory!.targets, ['owner=team-a', 'env=test'], 'only.yaml'), {
    message: 'no target of only.yaml matches owner=team-a and env=test',
  });
  assert.throws(() => selectTargets(inventory!.targets, ['Owner=team-b']), {
    message: 'no target matches Owner=team-b: no target has the label Owner; did you mean owner?',
  });
});

test('a file that the probe cannot use (a log as trust store, a certificate without its key, a known_hosts of no host key) is a problem of the inventory, told before any probe with its field, exit 2 (attack C6)', async () => {
  const sub = mkdtempSync(join(dir, 'files-'));
  writeFileSync(join(sub, 'app.log'), '2026-11-24 08:00:00 ERROR [Job] failed\n');
  opensslSelfSigned(join(sub, 'cert.pem'), join(sub, 'key.pem'));
  writeFileSync(join(sub, 'known_hosts'), 'this is no host key line\n');
  // A real server the targets name: no probe may reach it.
  let connections = 0;
  const closers: (() => unknown)[] = [];
  const port = await rawServer((s) => {
    connections++;
    s.destroy();
  }, closers);
  const file = join(sub, 'files.yaml');
  writeFileSync(
    file,
    [
      'modules:',
      '  t: { trust: app.log }',
      '  c: { client_cert: cert.pem }',
      '  h: { known_hosts: known_hosts }',
      '  p: { trust: cert.pem, trust_password_env: LD_CHECK_UNSET_STORE_PASSWORD }',
      '  ok: { client_cert: cert.pem, client_key: key.pem }',
      'targets:',
      ...['t', 'c', 'h', 'p', 'ok'].map(
        (m) => `  - { url: "https://127.0.0.1:${port}/", name: ${m}, module: ${m} }`,
      ),
    ].join('\n'),
  );
  try {
    const r = await runCliAsync(['check', file, '--junit']);
    assert.equal(r.status, 2, r.stdout);
    assert.equal(r.stdout, '', 'no report: the inventory was refused');
    assert.equal(
      r.stderr,
      [
        'linkdoctor: the inventory has 4 problems:',
        `${file}:2: modules.t.trust: is not a trust store linkdoctor can read (PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS)`,
        `${file}:3: modules.c.client_cert: holds no private key: give it with client_key`,
        `${file}:4: modules.h.known_hosts: is not a known_hosts file (line 1: not a "host key-type base64-key" line)`,
        `${file}:5: modules.p.trust_password_env: the environment variable LD_CHECK_UNSET_STORE_PASSWORD (the trust store password) is not set`,
        '',
      ].join('\n'),
    );
    assert.equal(connections, 0, 'no target was probed');
  } finally {
    closers.forEach((c) => c());
  }
});

test("the files an inventory's modules name are read once, at load, and used for the whole run (not read again per probe)", async () => {
  const sub = mkdtempSync(join(dir, 'once-'));
  copyFileSync(lab.trustFile, join(sub, 'lab.pem'));
  const file = join(sub, 'once.yaml');
  writeFileSync(
    file,
    `modules:\n  lab: { trust: lab.pem, timeout: 3s }\ntargets:\n  - { url: "${url('healthy')}", name: healthy, module: lab }\n`,
  );
  const { inventory, problems } = await parseInventory(readFileSync(file, 'utf8'), file);
  assert.deepEqual(problems, []);
  assert.match(inventory!.files.get('lab')!.store!.label, /lab\.pem \(PEM, 1 certificate\)/);
  // Gone after the load: a probe that read it again would fail with "cannot read the trust store".
  rmSync(join(sub, 'lab.pem'));
  const kb = await loadKb();
  const [outcome] = await checkAll(kb, inventory!.targets, new ModuleOptions(inventory!.files), {
    concurrency: 1,
    perHost: 1,
  });
  assert.equal(outcome!.ok, true, outcome!.error ?? JSON.stringify(outcome!.summary));
  assert.equal(outcome!.summary.status, 200);
});

test('check: every line within COLUMNS (80, 100), a long URL cut with "…" and the result wrapped under itself (attack C7)', async () => {
  const host = `${'h'.repeat(82)}.invalid`;
  assert.equal(host.length, 90);
  const file = join(dir, 'wide.yaml');
  writeFileSync(
    file,
    [
      'modules:',
      `  lab: { trust: ${lab.trustFile}, timeout: 2s }`,
      'targets:',
      `  - { url: "https://${host}/api", name: far-away, module: lab }`,
      `  - { url: "${url('expired')}", name: expired, module: lab }`,
      `  - { url: "${url('healthy')}${'deep/'.repeat(20)}", module: lab }`,
    ].join('\n'),
  );
  for (const columns of [80, 100]) {
    const r = await runCliAsync(['check', file], { env: { COLUMNS: String(columns) } });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    for (const l of lines) assert.ok([...l].length <= columns, `${[...l].length} > ${columns}: ${l}`);
    const far = lines.find((l) => l.startsWith('✖ far-away'))!;
    assert.match(far, /https:\/\/h{10,}… {2}/, 'the URL cut with "…"');
    // The result starts at one column on every target's first line, a continuation under it.
    const at = far.search(/(?<=… {2})\S/);
    const expired = lines.find((l) => l.startsWith('✖ expired'))!;
    assert.equal(expired.search(/(?<=\/\s+)out-cert-expired/), at, r.stdout);
    const rest = lines[lines.indexOf(expired) + 1]!;
    assert.equal(rest.search(/\S/), at, 'a wrapped result goes on under itself');
    assert.match(
      lines.join(' ').replace(/\s+/g, ' '),
      /out-cert-expired \(Receiver certificate expired\) at tls/,
    );
  }
});

test('YAML merge keys (<<: *anchor) merge, as in docker-compose files (attack C8)', async () => {
  const { inventory, problems } = await parseInventory(
    [
      'modules:',
      '  base: &base { timeout: 3s, headers: { X-Team: a } }',
      '  slow: { <<: *base, timeout: 9s }',
      'targets:',
      '  - &t { name: x, url: "https://a.example/", module: base, labels: { owner: team-a } }',
      '  - { <<: *t, name: y }',
      '  - { <<: [*t], name: z, module: slow }',
    ].join('\n'),
    join(dir, 'merge.yaml'),
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(
    inventory!.targets.map((t) => [t.name, t.url, t.module.name, t.labels.owner, t.line]),
    [
      ['x', 'https://a.example/', 'base', 'team-a', 5],
      ['y', 'https://a.example/', 'base', 'team-a', 6],
      ['z', 'https://a.example/', 'slow', 'team-a', 7],
    ],
  );
  assert.deepEqual(
    [inventory!.modules.get('slow')!.timeout, inventory!.modules.get('slow')!.headers],
    [9000, { 'X-Team': 'a' }],
  );
});

test('a blank target name is a problem with its line; a name with escapes keeps the columns, counted as printed (attack C5)', async () => {
  const { problems } = await parseInventory(
    [
      'targets:',
      '  - url: "https://a.example/"',
      '    name: "   "',
      '  - { url: "https://b.example/", name: b }',
    ].join('\n'),
    join(dir, 'blank.yaml'),
  );
  assert.deepEqual(
    problems.map((p) => `${p.line}: ${p.field}: ${p.message}`),
    ['3: targets[0].name: is blank: give the target a name, or no name (its URL names it then)'],
  );
  const file = join(dir, 'escaped.yaml');
  writeFileSync(
    file,
    [
      'modules:',
      `  lab: { trust: ${lab.trustFile}, timeout: 3s }`,
      'targets:',
      `  - { url: "${url('healthy')}", name: "x\\u001b[31mred", module: lab }`,
      `  - { url: "${url('healthy')}", name: plain, module: lab }`,
    ].join('\n'),
  );
  const r = await runCliAsync(['check', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!r.stdout.includes('\u001b'), 'no escape reaches the terminal');
  const lines = r.stdout.split('\n').filter((l) => /^✔ /.test(l));
  assert.equal(lines.length, 2, r.stdout);
  // In the order the probes ended.
  const escaped = lines.find((l) => l.startsWith('✔ x'))!;
  const plain = lines.find((l) => l.startsWith('✔ plain'))!;
  assert.match(escaped, /^✔ x\\x1b\[31mred https:/);
  assert.equal(escaped.indexOf('https:'), plain.indexOf('https:'), r.stdout);
});

test('a one-shot check --db: a failed delivery says it waits for the next run, not "again in 2 s" (attack S12 A13)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'ld-oneshot-'));
  try {
    const inv = join(d, 'inv.yaml');
    writeFileSync(inv, `targets:\n  - { name: down, url: "http://127.0.0.1:${await freePort()}/" }\n`);
    const db = join(d, 'h.db');
    const hook = `http://127.0.0.1:${await freePort()}/services/T/B/X`;
    const r = await runCliAsync(['check', inv, '--db', db, '--webhook-env', 'slack=LD_ONESHOT_HOOK'], {
      env: { LD_ONESHOT_HOOK: hook },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `slack webhook 127\\.0\\.0\\.1:\\d+: ECONNREFUSED \\(attempt 1 of 8; it waits in the database and is tried again at the next run of check --db ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`,
      ),
    );
    assert.doesNotMatch(r.stderr, /again in \d/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a module that sends Basic credentials to an http:// target: check warns once per target, as probe does (attack S13 B12)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'ld-plain-'));
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    res.writeHead(200).end('ok\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const inv = join(d, 'inv.yaml');
    writeFileSync(
      inv,
      [
        'modules:',
        '  basic: { user: cpi, password_env: LD_PLAIN_PW }',
        'targets:',
        `  - { name: plain, url: "http://127.0.0.1:${port}/x", module: basic }`,
        `  - { name: anon, url: "http://127.0.0.1:${port}/y" }`,
        `  - { name: tls, url: "https://127.0.0.1:${await freePort()}/z", module: basic }`,
      ].join('\n'),
    );
    const secret = 'hunter2-plain-pw';
    const r = await runCliAsync(['check', inv], { env: { LD_PLAIN_PW: secret } });
    assert.equal(
      r.stderr,
      `linkdoctor: warning: plain: the password of cpi goes to http://127.0.0.1:${port} in clear text (http://, not https://): anyone on the way can read it\n`,
    );
    assert.ok(!(r.stdout + r.stderr).includes(secret));
    assert.ok(
      seen.includes(`Basic ${Buffer.from(`cpi:${secret}`).toString('base64')}`),
      'sent, as probe sends it',
    );
  } finally {
    server.close();
    rmSync(d, { recursive: true, force: true });
  }
});
