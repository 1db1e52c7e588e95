// The CLI as people already use curl, openssl s_client, ssh-keyscan, ssh-keygen and keytool (issue 10):
// URLs with a user, -u user:secret, standard input as -, known_hosts defaults, the trust commands'
// defaults, one timeout, curl's habits and the help texts; against the lab, started here.
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { startLab, type Lab } from '../src/lab/index.js';
import { runCli, runCliAsync, unwrap } from './helpers.js';

let lab: Lab;
let home = '';
const SECRET = 'hunter2-not-for-output';
const url = (name: string) => lab.scenarios.find((s) => s.name === name)!.url;
const hostPort = (name: string) => new URL(url(name)).host;

before(async () => {
  lab = await startLab();
  home = mkdtempSync(join(tmpdir(), 'ld-cli-home-'));
});
after(async () => {
  await lab.stop();
  rmSync(home, { recursive: true, force: true });
});

/** The CLI with HOME set to a folder of the test's own (no ~/.ssh of the machine's user). */
const cli = (args: string[], env: Record<string, string> = {}, cwd?: string) =>
  runCliAsync(args, {
    env: { HOME: home, LAB_PASSWORD: lab.clientCert.password, ...env },
    ...(cwd ? { cwd } : {}),
  });

test('a user in the URL is accepted and logs in as -u does; a password in it is refused, never repeated', async () => {
  const withUser = url('ssh-auth-refused').replace('sftp://', 'sftp://lab@');
  const r = await cli([
    'probe',
    withUser,
    '--known-hosts',
    lab.knownHostsFile,
    '--password-env',
    'LAB_PASSWORD',
    '--json',
  ]);
  assert.equal(r.status, 1, r.stderr);
  const json = JSON.parse(r.stdout) as { ssh: { login: { user: string; ok: boolean } }; target: string };
  assert.deepEqual([json.ssh.login.user, json.ssh.login.ok], ['lab', false]);
  const withPassword = url('ssh-auth-refused').replace('sftp://', `sftp://lab:${SECRET}@`);
  const refused = await cli(['probe', withPassword]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /holds a password.*--password-env VAR or the prompt/);
  assert.ok(!(refused.stdout + refused.stderr).includes(SECRET));
});

test("curl's -u user:secret is split at the first colon: the user named, the secret never printed", async () => {
  const r = await cli(['probe', url('basic-auth'), '--trust', lab.trustFile, '-u', `lab:${SECRET}:x`]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /give -u lab and the password with --password-env VAR or at the prompt/);
  assert.ok(!(r.stdout + r.stderr).includes(SECRET));
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one sentence');
});

test('curl habits: -k is refused in a sentence, --connect-timeout is --timeout, a mistyped option is named', async () => {
  const k = await cli(['probe', url('unknown-ca'), '-k']);
  assert.equal(k.status, 2);
  assert.match(
    k.stderr,
    /there is no -k\/--insecure: linkdoctor does not skip the certificate check, it judges the chain/,
  );
  const silent = await cli([
    'probe',
    url('silent'),
    '--trust',
    lab.trustFile,
    '--connect-timeout',
    '1',
    '--json',
  ]);
  const tls = (JSON.parse(silent.stdout) as { steps: { name: string; detail: string }[] }).steps.find(
    (s) => s.name === 'tls',
  );
  assert.match(tls!.detail, /no answer within 1 s/);
  const typo = await cli(['probe', url('healthy'), '--tiemout', '3']);
  assert.equal(typo.status, 2);
  assert.equal(typo.stderr, "linkdoctor: unknown option '--tiemout'; did you mean --timeout?\n");
});

test('-v prints every recorded header of each exchange', async () => {
  const args = ['probe', url('basic-auth'), '--trust', lab.trustFile];
  const plain = await cli(args);
  const verbose = await cli([...args, '-v']);
  assert.equal(verbose.status, 1);
  assert.match(verbose.stdout, /^ {8}content-type: /m);
  assert.doesNotMatch(plain.stdout, /^ {8}content-type: /m);
});

test("the TLS step lists every problem on a line of its own, not '(+1 more)'", async () => {
  const r = await cli(['probe', url('missing-intermediate'), '--trust', lab.trustFile]);
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stdout, /more\)/);
  assert.match(
    r.stdout,
    /✖ tls .*sends only its own certificate[\s\S]*\n {6}also: No path to a certificate of/,
  );
});

test('diagnose - and --file - read standard input; a gzip file points to scan', () => {
  const text = 'com.jcraft.jsch.JSchException: Auth fail';
  for (const args of [
    ['diagnose', '-'],
    ['diagnose', '--file', '-'],
  ]) {
    const r = runCli([...args, '--json'], { input: text });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { diagnoses: { id: string }[] }).diagnoses[0]?.id, 'out-sftp');
  }
  const gz = join(home, 'trace.log.gz');
  writeFileSync(gz, gzipSync(text));
  const r = runCli(['diagnose', '--file', gz]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /gzip-compressed: `linkdoctor scan .*trace\.log\.gz` reads gzip/);
  const piped = runCli(['diagnose'], { input: gzipSync(text) });
  assert.match(piped.stderr, /standard input is gzip-compressed: `linkdoctor scan -`/);
});

test('known-hosts: add without a file prints the lines as ssh-keyscan; check and probe read ~/.ssh/known_hosts', async () => {
  const target = hostPort('ssh-host-key-unknown');
  const printed = await cli(['known-hosts', 'add', target]);
  assert.equal(printed.status, 0, printed.stderr);
  const lines = printed.stdout.trim().split('\n');
  assert.ok(lines.length >= 1);
  for (const l of lines) assert.match(l, /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAA[\w+/=]+$/);
  assert.match(printed.stderr, /SHA256:/);
  assert.ok(!existsSync(join(home, '.ssh')), 'nothing written');

  // No ~/.ssh/known_hosts: unknown, and the lines to add.
  const unknown = await cli(['known-hosts', 'check', target]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stdout, /unknown: \S*\.ssh\/known_hosts\s+has\s+no\s+key/);
  mkdirSync(join(home, '.ssh'));
  writeFileSync(join(home, '.ssh', 'known_hosts'), printed.stdout);
  const match = await cli(['known-hosts', 'check', target]);
  assert.equal(match.status, 0, match.stdout + match.stderr);
  assert.match(match.stdout, /match: \S*\.ssh\/known_hosts\s+knows/);
  const probed = await cli(['probe', url('ssh-host-key-unknown'), '--json']);
  const ssh = (
    JSON.parse(probed.stdout) as { steps: { name: string; ok: boolean; detail: string }[] }
  ).steps.find((s) => s.name === 'ssh');
  assert.equal(ssh?.ok, true, ssh?.detail);
  assert.match(ssh!.detail, /known_hosts: match/);

  // --known-hosts in both subcommands; --to still works for add.
  const file = join(home, 'kh');
  const added = await cli(['known-hosts', 'add', target, '--known-hosts', file]);
  assert.equal(added.status, 0, added.stderr);
  const again = await cli(['known-hosts', 'add', target, '--to', file]);
  assert.match(again.stdout, /Nothing to add/);
  assert.equal(readFileSync(file, 'utf8'), printed.stdout);
  rmSync(join(home, '.ssh'), { recursive: true });
});

test('a known_hosts in UTF-16 with a byte order mark (PowerShell 5 `ssh-keyscan > known_hosts`): check and probe read it, check says to save it as UTF-8, add writes nothing to it (attack S13 B20)', async () => {
  const target = hostPort('ssh-host-key-unknown');
  const printed = await cli(['known-hosts', 'add', target]);
  assert.equal(printed.status, 0, printed.stderr);
  const file = join(home, 'kh-u16');
  const u16 = Buffer.from(`\ufeff${printed.stdout.replace(/\n/g, '\r\n')}`, 'utf16le');
  writeFileSync(file, u16);
  const match = await cli(['known-hosts', 'check', target, '--known-hosts', file]);
  assert.equal(match.status, 0, match.stdout + match.stderr);
  assert.match(match.stdout, /match: /);
  assert.match(unwrap(match.stderr), /kh-u16 is UTF-16 text .*save it as UTF-8/);
  const probed = await cli(['probe', url('ssh-host-key-unknown'), '--known-hosts', file, '--json']);
  const ssh = (
    JSON.parse(probed.stdout) as { steps: { name: string; ok: boolean; detail: string }[] }
  ).steps.find((s) => s.name === 'ssh');
  assert.equal(ssh?.ok, true, ssh?.detail);
  assert.match(ssh!.detail, /known_hosts: match/);
  const add = await cli(['known-hosts', 'add', target, '--to', file]);
  assert.equal(add.status, 2, add.stdout);
  assert.match(unwrap(add.stderr), /kh-u16 is UTF-16 text .*; nothing written\n$/);
  assert.deepEqual(readFileSync(file), u16, 'nothing written');
});

test('known-hosts check of a refused port says so as probe does', async () => {
  const r = await cli(['known-hosts', 'check', '127.0.0.1:1', '--timeout', '3']);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^linkdoctor: \[127\.0\.0\.1\]:1 refused the connection \(nothing listens on that port/,
  );
  assert.doesNotMatch(r.stderr, /ECONNREFUSED/);
});

test('known-hosts check of a file that is not known_hosts refuses it as add does; a TLS port is named as such', async () => {
  const target = hostPort('ssh-host-key-unknown');
  // The lab's Certificate service key: JSON holding a private key, never echoed.
  for (const verb of ['check', 'add']) {
    const r = await cli(['known-hosts', verb, target, '--known-hosts', lab.tenant.certKeyFile]);
    assert.equal(r.status, 2, `${verb}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `^linkdoctor: \\S+ is not a known_hosts file \\(line 1: .*\\); nothing ${verb === 'add' ? 'written' : 'checked'}\\n$`,
      ),
    );
    assert.doesNotMatch(r.stderr, /PRIVATE KEY/);
    assert.equal(r.stdout, '');
  }
  // ssh-keyscan's habit, against an HTTPS port: what the port speaks, and the URL for it.
  const tls = await cli(['known-hosts', 'add', hostPort('healthy'), '--timeout', '5']);
  assert.equal(tls.status, 1, tls.stderr);
  assert.match(
    tls.stderr,
    /^linkdoctor: no host key from \[127\.0\.0\.1\]:\d+: this port speaks TLS, not what sftp:\/\/ expects \(it answered a TLS ClientHello with .*\): use https:\/\/127\.0\.0\.1:\d+\/?\n$/,
  );
  assert.equal(tls.stdout, '');
});

test('trust expiring looks 30 days ahead by default', async () => {
  const store = join(home, 'expiring.pem');
  await cli(['trust', 'add-from-site', hostPort('healthy'), '--to', store]);
  writeFileSync(store, readFileSync(store, 'utf8') + readFileSync(lab.trustFile, 'utf8'));
  const r = await cli(['trust', 'expiring', store]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(unwrap(r.stdout), /expires within 30 days/);
});

test('trust add-from-site without --to shows the chain in PEM and what would be added, writes nothing', async () => {
  const cwd = mkdtempSync(join(home, 'cwd-'));
  const r = await cli(['trust', 'add-from-site', hostPort('healthy')], {}, cwd);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
  assert.match(r.stdout, /1\. CN=linkdoctor lab Issuing CA, O=linkdoctor lab {2}← would be added/);
  assert.match(r.stdout, /Nothing written: give --to FILE \(PEM, PKCS#12, JKS or JCEKS\)/);
  assert.deepEqual(readdirSync(cwd), []);
  const json = JSON.parse((await cli(['trust', 'add-from-site', hostPort('healthy'), '--json'])).stdout) as {
    toTrust: number;
    written: boolean;
    chain: { pem: string }[];
  };
  assert.deepEqual([json.toTrust, json.written, json.chain.length], [1, false, 2]);
});

test('the help names every scheme with an example, one default timeout, JKS/JCEKS, what the demo does', () => {
  const schemes = ['https', 'http', 'sftp', 'ssh', 'smtp', 'smtps', 'ftp', 'ftps'];
  for (const args of [['--help'], ['probe', '--help']]) {
    const help = runCli(args).stdout;
    for (const s of schemes)
      assert.match(help, new RegExp(`^  ${s} +linkdoctor probe ${s}://`, 'm'), `${args} ${s}`);
  }
  for (const args of [
    ['probe'],
    ['known-hosts', 'add'],
    ['known-hosts', 'check'],
    ['trust', 'add-from-site'],
  ])
    assert.match(
      runCli([...args, '--help']).stdout,
      /--timeout <seconds>\s[^-]*\(default: 10\)/,
      args.join(' '),
    );
  assert.match(runCli(['trust', 'add-from-site', '--help']).stdout, /JKS or JCEKS/);
  assert.match(runCli(['demo', '--help']).stdout, /start the lab, probe each of its\s+servers/);
  assert.match(runCli(['trust', 'expiring', '--help']).stdout, /--days <n>\s[^-]*\(default: 30\)/);
  assert.match(runCli(['known-hosts', 'check', '--help']).stdout, /default:\s+~\/\.ssh\/known_hosts/);
});

test('only the command being run is defined, yet help, help NAME and a mistyped name see all of them', () => {
  const commands = [
    'diagnose',
    'probe',
    'scan',
    'check',
    'history',
    'known-hosts',
    'kb',
    'trust',
    'tenant',
    'lab',
    'serve',
    'demo',
  ];
  const section = runCli(['--help']).stdout.split('Commands:')[1]!.split('Examples:')[0]!;
  const listed = [...section.matchAll(/^ {2}([a-z-]+)(?= )/gm)].map((m) => m[1]);
  assert.deepEqual(
    listed.filter((c) => c !== 'help'),
    commands,
  );
  assert.match(runCli(['help', 'history']).stdout, /^Usage: linkdoctor history \[options\] \[target\]/);
  assert.match(runCli(['help', 'tenant']).stdout, /failures \[options\]/);
  assert.equal(runCli(['--version']).stdout, '0.1.0\n');
  assert.match(runCli(['histroy']).stderr, /did you mean history\?/);
  // A command defined alone still takes its own options and refuses another command's.
  assert.match(runCli(['diagnose', '--concurrency', '2', 'x']).stderr, /unknown option '--concurrency'/);
});

test('each lab SSH server has its own host key: changed and unknown show only what they claim', async () => {
  for (const name of ['ssh-host-key-changed', 'ssh-host-key-unknown']) {
    const r = await cli(['probe', url(name), '--known-hosts', lab.knownHostsFile, '--json']);
    const ssh = (JSON.parse(r.stdout) as { steps: { name: string; detail: string }[] }).steps.find(
      (s) => s.name === 'ssh',
    );
    assert.match(ssh!.detail, name.endsWith('changed') ? /the host key changed/ : /the host key is unknown/);
    assert.doesNotMatch(ssh!.detail, /this very key is stored for/);
  }
});

test("usage errors are one sentence, 'linkdoctor: ...', exit 2, with commander's suggestion where it has one", () => {
  const cases: [string[], RegExp][] = [
    [
      ['probe', 'a', 'b'],
      /^linkdoctor: too many arguments for 'probe': expected 1 argument but got 2 \(run with --help for usage\)$/,
    ],
    [
      ['probe', 'LINKDOCTOR_SMTP_ALT_PORTS=1,2', 'smtp://127.0.0.1:1'],
      /^linkdoctor: too many arguments for 'probe': .*; LINKDOCTOR_SMTP_ALT_PORTS=1,2 is a variable for linkdoctor: write it before the command \(LINKDOCTOR_SMTP_ALT_PORTS=1,2 linkdoctor \.\.\.\)$/,
    ],
    [
      ['diagnose', '--direction', 'up', 'x'],
      /^linkdoctor: option '--direction <direction>' argument 'up' is invalid: allowed choices are inbound, outbound \(run with --help for usage\)$/,
    ],
    [['foo'], /^linkdoctor: unknown command 'foo' \(run with --help for usage\)$/],
    [['prob', 'https://x'], /^linkdoctor: unknown command 'prob'; did you mean probe\?$/],
    [['trust', 'expirng', 'x.p12'], /^linkdoctor: unknown command 'expirng'; did you mean expiring\?$/],
    [['probe'], /^linkdoctor: missing required argument 'url' \(run with --help for usage\)$/],
    [
      ['probe', 'https://x', '--timeout'],
      /^linkdoctor: option '--timeout <seconds>' argument missing \(run with --help for usage\)$/,
    ],
    [
      ['diagnose', '--directoin', 'inbound', 'x'],
      /^linkdoctor: unknown option '--directoin'; did you mean --direction\?$/,
    ],
    [
      ['scan', '--frobnicate', 'x.log'],
      /^linkdoctor: unknown option '--frobnicate' \(run with --help for usage\)$/,
    ],
  ];
  for (const [args, sentence] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
    // One line, nothing of commander's own "error: " or its second line.
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr.trimEnd(), sentence, args.join(' '));
  }
});

test('--timeout takes the durations an inventory takes (5s, 500ms, 1m) as well as seconds; the same sentence for what it is not (attack S12 A15)', async () => {
  // The lab's silent server accepts and never answers: the bound given is the one said.
  const silent = await cli(['probe', url('silent'), '--timeout', '500ms']);
  assert.equal(silent.status, 1, silent.stderr);
  assert.match(unwrap(silent.stdout), /✖ tls +\d+ ms {2}no answer within 0\.5 s/);
  for (const [raw, ok] of [
    ['5s', true],
    ['1m', true],
    ['2', true],
    ['5x', false],
    ['50ms', false],
    ['2h', false],
  ] as const) {
    const r = await cli(['probe', 'https://127.0.0.1:1/', '--timeout', raw]);
    if (ok) assert.equal(r.status, 1, `${raw}: ${r.stderr}`);
    else
      assert.deepEqual(
        [r.status, r.stderr],
        [
          2,
          `linkdoctor: --timeout takes a duration (5s, 500ms, 1m) or a number of seconds from 0.1 to 3600, not "${raw}"\n`,
        ],
      );
  }
});

test('a credential header given with -H warns that it is on the command line, as --webhook does, naming the header, never its value (attack S12 A12)', async () => {
  const r = await cli([
    'probe',
    url('healthy'),
    '--trust',
    lab.trustFile,
    '-H',
    'Authorization: Bearer eyJabc.def.ghi-SECRET',
    '-H',
    'APIKey: 12345secret',
    '-H',
    'X-Trace: 1',
  ]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(
    r.stderr,
    "linkdoctor: warning: the Authorization and APIKey headers of -H put a credential on the command line, in the process list and the shell's history: for a user and password give -u USER with --password-env VAR, for OAuth2 --oauth-secret-env VAR; or keep the command out of the history\n",
  );
  assert.doesNotMatch(r.stdout + r.stderr, /SECRET|12345secret/);
  // A protocol keyword is no credential: no warning.
  const fetch = await cli(['probe', url('healthy'), '--trust', lab.trustFile, '-H', 'X-CSRF-Token: Fetch']);
  assert.equal(fetch.stderr, '');
});
