// The sftp probe and `known-hosts add|check` against a real OpenSSH sshd from Debian, started by the
// test on 127.0.0.1 with its own config, host keys and authorized_keys. Password login and the
// unlistable directory need a non-root user with a known password: the test creates one when it
// runs as root (and removes it), and skips those cases otherwise.
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
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
import { after, before, test } from 'node:test';
import { addSystemUser, runCliAsync, type Run, SSHD, SSHD_MISSING, startSshd } from './helpers.js';

const skip = !SSHD && SSHD_MISSING;
if (skip) console.log(`# skipping the sshd tests: ${skip}`);

const PASSWORD = `pw-${randomBytes(9).toString('base64url')}`;
const PASSPHRASE = `pp-${randomBytes(9).toString('base64url')}`;
/** The system user of this run (a name of its own: runs on one machine do not share it). */
let user: ReturnType<typeof addSystemUser>;
let userAdded = false;

let dir = '';
let port = 0;
let sshd: ChildProcess | undefined;
/** The user the key logins use: the test user, or root when none could be made. */
let login = 'root';
const secrets: string[] = [PASSWORD, PASSPHRASE];

const keygen = (file: string, type: string, passphrase = '') =>
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'test', '-f', file]);

/** The SHA256 fingerprint as ssh-keygen prints it: the reference for the probe's. */
const fingerprint = (pub: string) =>
  execFileSync('ssh-keygen', ['-lf', pub], { encoding: 'utf8' }).split(' ')[1];

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'ld-sshd-'));
  // The test user must reach the folders below.
  chmodSync(dir, 0o755);
  for (const sub of ['ak', 'files', 'files/locked', 'home', 'home/outbox']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'files', 'invoice-1.xml'), '<invoice/>\n');
  keygen(join(dir, 'host_ed25519'), 'ed25519');
  keygen(join(dir, 'host_rsa'), 'rsa');
  keygen(join(dir, 'other_ed25519'), 'ed25519');
  keygen(join(dir, 'id_plain'), 'ed25519');
  keygen(join(dir, 'id_locked'), 'ed25519', PASSPHRASE);
  secrets.push(...['id_plain', 'id_locked'].map((k) => readFileSync(join(dir, k), 'utf8').split('\n')[2]!));

  user = addSystemUser(join(dir, 'home'), PASSWORD);
  if (user) {
    userAdded = true;
    execFileSync('chown', [user.name, join(dir, 'files'), join(dir, 'home'), join(dir, 'home/outbox')]);
    login = user.name;
  }
  chmodSync(join(dir, 'files', 'locked'), 0o000);
  const keys = ['id_plain', 'id_locked'].map((k) => readFileSync(join(dir, `${k}.pub`), 'utf8')).join('');
  writeFileSync(join(dir, 'ak', login), keys);

  ({ port, child: sshd } = await startSshd(
    dir,
    ['host_ed25519', 'host_rsa'],
    `AuthorizedKeysFile ${dir}/ak/%u
StrictModes no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
`,
  ));
});

after(() => {
  sshd?.kill();
  user?.remove();
  if (dir) {
    chmodSync(join(dir, 'files', 'locked'), 0o755);
    rmSync(dir, { recursive: true, force: true });
  }
});

interface SshJson {
  ok: boolean;
  steps: { name: string; ok: boolean | null; detail: string; warning?: string }[];
  ssh?: {
    banner?: string;
    algorithms?: Record<string, { offered: string[]; agreed?: string; jsch: string; jschPicks?: string }>;
    hostKey?: { type: string; sha256: string; md5: string; line: string };
    knownHosts?: string;
    storedKeys?: { line: number; sha256: string }[];
    authMethods?: string[];
    login?: { user: string; ok: boolean; method?: string; refused: string[] };
    sftp?: { path: string; entries?: number; writeTest?: { file: string; ok: boolean } };
  };
  diagnoses: { id: string }[];
}

const env = { LD_PASSWORD: PASSWORD, LD_WRONG: 'not-the-password', LD_PASSPHRASE: PASSPHRASE };

async function cli(args: string[]): Promise<Run> {
  // HOME: the test's folder, so that no ~/.ssh/known_hosts of the machine's user is read.
  const r = await runCliAsync(args, { env: { ...env, HOME: dir } });
  for (const s of secrets) assert.ok(!(r.stdout + r.stderr).includes(s), 'no secret in any output');
  return r;
}

async function probe(path: string, ...args: string[]): Promise<{ status: number | null; json: SshJson }> {
  const r = await cli(['probe', `sftp://127.0.0.1:${port}${path}`, '--timeout', '5', '--json', ...args]);
  return { status: r.status, json: JSON.parse(r.stdout) as SshJson };
}

const step = (j: SshJson, name: string) => j.steps.find((s) => s.name === name)!;
const files = () => join(dir, 'files');
const knownHosts = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const serverLine = () =>
  `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}`;

test('key login, a listable directory, --write-test, host key matching known_hosts', { skip }, async () => {
  const kh = knownHosts('kh-match', `${serverLine()}\n`);
  const { status, json } = await probe(
    files(),
    '-u',
    login,
    '--identity',
    join(dir, 'id_plain'),
    '--known-hosts',
    kh,
    '--write-test',
  );
  assert.equal(status, 0, JSON.stringify(json.steps));
  assert.deepEqual(
    json.steps.map((s) => s.name),
    ['dns', 'tcp', 'ssh', 'auth', 'sftp'],
  );
  const ssh = json.ssh!;
  assert.match(ssh.banner!, /^SSH-2\.0-OpenSSH_/);
  assert.ok(ssh.algorithms!.kex!.offered.includes('curve25519-sha256'));
  assert.equal(ssh.algorithms!.cipher!.jsch, 'ok');
  assert.equal(ssh.hostKey!.type, 'ssh-ed25519');
  assert.equal(ssh.hostKey!.sha256, fingerprint(join(dir, 'host_ed25519.pub')));
  assert.equal(ssh.knownHosts, 'match');
  assert.deepEqual(ssh.authMethods, ['publickey', 'password']);
  assert.deepEqual(ssh.login, { user: login, ok: true, method: 'publickey', refused: [] });
  assert.equal(ssh.sftp!.entries, 2);
  assert.equal(ssh.sftp!.writeTest!.ok, true);
  assert.deepEqual(readdirSync(files()).sort(), ['invoice-1.xml', 'locked'], 'the temporary file is gone');
});

test(
  'a known_hosts that holds an RSA key for the host: the probe asks for RSA, like JSch',
  { skip },
  async () => {
    const rsa = readFileSync(join(dir, 'host_rsa.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const kh = knownHosts('kh-rsa', `[127.0.0.1]:${port} ${rsa}\n`);
    const { status, json } = await probe('/', '--known-hosts', kh);
    assert.equal(status, 0, JSON.stringify(json.steps));
    assert.equal(json.ssh!.hostKey!.type, 'ssh-rsa');
    assert.equal(json.ssh!.knownHosts, 'match');
    assert.match(step(json, 'auth').detail, /login not tested/);
  },
);

test('host key changed: the stored and the new fingerprint, out-sftp', { skip }, async () => {
  const stale = readFileSync(join(dir, 'other_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const kh = knownHosts('kh-changed', `# the old server\n[127.0.0.1]:${port} ${stale}\n`);
  const { status, json } = await probe(files(), '--known-hosts', kh);
  assert.equal(status, 1);
  assert.equal(json.ssh!.knownHosts, 'changed');
  assert.deepEqual(
    json.ssh!.storedKeys!.map((k) => [k.line, k.sha256]),
    [[2, fingerprint(join(dir, 'other_ed25519.pub'))]],
  );
  assert.match(step(json, 'ssh').detail, /HostKey has been changed/);
  assert.equal(json.diagnoses[0]?.id, 'out-sftp');
  const text = await cli(['probe', `sftp://127.0.0.1:${port}/`, '--known-hosts', kh, '--timeout', '5']);
  assert.match(text.stdout, /stored +ssh-ed25519 SHA256:/);
  assert.match(text.stdout, /server +ssh-ed25519 SHA256:/);
  // The algorithms agreed are known before the host key is judged: the rows are filled even so,
  // and an AEAD cipher's MAC is said as ssh -vv says it.
  const a = json.ssh!.algorithms!;
  for (const kind of ['kex', 'serverHostKey', 'cipher', 'mac']) assert.ok(a[kind]!.agreed, `${kind} agreed`);
  assert.equal(a.mac!.agreed, /gcm|chacha20/.test(a.cipher!.agreed!) ? '<implicit>' : a.mac!.agreed);
  assert.match(a.mac!.agreed!, /^(?:<implicit>|hmac-)/);
  assert.match(text.stdout, new RegExp(`\\n {6}key exchange +${a.kex!.agreed} +\\(JSch: `));
  assert.match(text.stdout, new RegExp(`\\n {6}MAC +${a.mac!.agreed} +\\(JSch: `));
});

test('host key unknown: the exact line to add', { skip }, async () => {
  const kh = knownHosts('kh-unknown', `[127.0.0.1]:1 ${serverLine().split(' ').slice(1).join(' ')}\n`);
  const { status, json } = await probe(files(), '--known-hosts', kh);
  assert.equal(status, 1);
  assert.equal(json.ssh!.knownHosts, 'unknown');
  assert.equal(json.ssh!.hostKey!.line, serverLine());
  assert.match(step(json, 'ssh').detail, /reject HostKey/);
  assert.match(step(json, 'ssh').detail, /this very key is stored for \[127\.0\.0\.1\]:1 \(line 1\)/);
  assert.equal(json.diagnoses[0]?.id, 'out-sftp');
});

test('a refused login says which method the server refused', { skip: skip || !userAdded }, async () => {
  const { status, json } = await probe(files(), '-u', user!.name, '--password-env', 'LD_WRONG');
  assert.equal(status, 1);
  assert.match(
    step(json, 'auth').detail,
    new RegExp(`login as ${user!.name} failed: the server refused password`),
  );
  assert.deepEqual(json.ssh!.login, { user: user!.name, ok: false, refused: ['password'] });
  assert.equal(step(json, 'sftp').ok, null);
  assert.equal(json.diagnoses[0]?.id, 'out-sftp');
});

test('a key the server does not know is refused as publickey', { skip }, async () => {
  const { status, json } = await probe(files(), '-u', login, '--identity', join(dir, 'other_ed25519'));
  assert.equal(status, 1);
  assert.match(step(json, 'auth').detail, /refused publickey \(other_ed25519\)/);
  assert.equal(json.diagnoses[0]?.id, 'out-sftp');
});

test('password login', { skip: skip || !userAdded }, async () => {
  const { status, json } = await probe(files(), '-u', user!.name, '--password-env', 'LD_PASSWORD');
  assert.equal(status, 0, JSON.stringify(json.steps));
  assert.equal(json.ssh!.login!.method, 'password');
});

test(
  'an encrypted key with its passphrase from an environment variable; a wrong one is a clear error',
  { skip },
  async () => {
    const key = join(dir, 'id_locked');
    const { status, json } = await probe(
      files(),
      '-u',
      login,
      '--identity',
      key,
      '--identity-passphrase-env',
      'LD_PASSPHRASE',
    );
    assert.equal(status, 0, JSON.stringify(json.steps));
    const wrong = await cli([
      'probe',
      `sftp://127.0.0.1:${port}/`,
      '-u',
      login,
      '--identity',
      key,
      '--identity-passphrase-env',
      'LD_WRONG',
    ]);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /cannot open the private key id_locked: wrong passphrase/);
    const none = await cli(['probe', `sftp://127.0.0.1:${port}/`, '-u', login, '--identity', key]);
    assert.match(none.stderr, /encrypted \(give the passphrase with --identity-passphrase-env VAR\)/);
  },
);

test(
  'an unlistable and a missing directory fail the sftp step: out-sftp',
  { skip: skip || !userAdded },
  async () => {
    const locked = await probe(`${files()}/locked`, '-u', user!.name, '--password-env', 'LD_PASSWORD');
    assert.equal(locked.status, 1);
    assert.match(step(locked.json, 'sftp').detail, /cannot list .*locked: Permission denied/);
    assert.equal(locked.json.diagnoses[0]?.id, 'out-sftp');
    const missing = await probe(`${files()}/nope`, '-u', user!.name, '--password-env', 'LD_PASSWORD');
    assert.match(step(missing.json, 'sftp').detail, /No such file/);
    assert.equal(missing.json.diagnoses[0]?.id, 'out-sftp');
  },
);

test(
  'sftp://user@host/outbox is /outbox; when the home directory holds outbox, the probe names sftp://host/~/outbox',
  { skip: skip || !userAdded },
  async () => {
    const base = `sftp://${user!.name}@127.0.0.1:${port}`;
    const run = async (path: string) => {
      const r = await cli([`probe`, `${base}${path}`, '--password-env', 'LD_PASSWORD', '--json']);
      return { status: r.status, json: JSON.parse(r.stdout) as SshJson };
    };
    const absolute = await run('/outbox');
    assert.equal(absolute.status, 1);
    assert.equal(absolute.json.ssh!.login!.user, user!.name, 'the user from the URL logged in');
    assert.match(
      step(absolute.json, 'sftp').detail,
      new RegExp(
        `cannot open /outbox: .*; the home directory ${dir}/home holds outbox: sftp://${user!.name}@127\\.0\\.0\\.1:${port}/~/outbox opens it`,
      ),
    );
    const relative = await run('/~/outbox');
    assert.equal(relative.status, 0, JSON.stringify(relative.json.steps));
    assert.match(step(relative.json, 'sftp').detail, new RegExp(`^${dir}/home/outbox: 0 entries`));
    // A path that is nowhere gets no hint.
    const nowhere = await run('/nowhere');
    assert.doesNotMatch(step(nowhere.json, 'sftp').detail, /home directory/);
  },
);

test('known-hosts add writes every key type once; check says match, also hashed', { skip }, async () => {
  const file = join(dir, 'kh-added');
  const added = await cli(['known-hosts', 'add', `127.0.0.1:${port}`, '--to', file]);
  assert.equal(added.status, 0, added.stderr);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 2).join(' ')).sort(), [
    `[127.0.0.1]:${port} ssh-ed25519`,
    `[127.0.0.1]:${port} ssh-rsa`,
  ]);
  assert.ok(lines.includes(serverLine()));
  const again = await cli(['known-hosts', 'add', `[127.0.0.1]:${port}`, '--to', file]);
  assert.match(again.stdout, /Nothing to add/);
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 2);

  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  assert.match(readFileSync(file, 'utf8'), /^\|1\|/);
  const check = await cli([
    'known-hosts',
    'check',
    `sftp://127.0.0.1:${port}`,
    '--known-hosts',
    file,
    '--json',
  ]);
  assert.equal(check.status, 0, check.stdout);
  assert.equal((JSON.parse(check.stdout) as { verdict: string }).verdict, 'match');
});

test('known-hosts add refuses a changed key; check says changed', { skip }, async () => {
  const stale = readFileSync(join(dir, 'other_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  const file = knownHosts('kh-stale', `[127.0.0.1]:${port} ${stale}\n`);
  const add = await cli(['known-hosts', 'add', `127.0.0.1:${port}`, '--to', file]);
  assert.equal(add.status, 1);
  assert.match(add.stdout, /Nothing added/);
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1);
  const check = await cli(['known-hosts', 'check', `127.0.0.1:${port}`, '--known-hosts', file]);
  assert.equal(check.status, 1);
  assert.match(check.stdout.replace(/\s+/g, ' '), /changed: .*HostKey has been changed/);
});

/** The server's key of a type as a known_hosts key field pair: "ssh-rsa AAAA...". */
const hostKey = (name: string) =>
  readFileSync(join(dir, `${name}.pub`), 'utf8')
    .split(' ')
    .slice(0, 2)
    .join(' ');

test('@revoked: check and the probe say revoked, add refuses it (attack 27)', { skip }, async () => {
  const where = `[127.0.0.1]:${port}`;
  // The key marked revoked, and (as an earlier add left it) trusted on the next line too.
  const file = knownHosts('kh-revoked', `@revoked ${where} ${hostKey('host_ed25519')}\n${serverLine()}\n`);
  const check = await cli(['known-hosts', 'check', `127.0.0.1:${port}`, '--known-hosts', file]);
  assert.equal(check.status, 1, check.stdout);
  assert.match(
    check.stdout.replace(/\s+/g, ' '),
    / revoked: \S*kh-revoked marks the server's ssh-ed25519 key @revoked \(line 1\)/,
  );
  const json = await cli(['known-hosts', 'check', `127.0.0.1:${port}`, '--known-hosts', file, '--json']);
  assert.equal((JSON.parse(json.stdout) as { verdict: string }).verdict, 'revoked');
  const p = await probe('/', '--known-hosts', file);
  assert.equal(p.status, 1);
  assert.match(
    step(p.json, 'ssh').detail,
    /the host key is revoked: .*line 1 marks the server's ssh-ed25519 key/,
  );
  assert.equal(p.json.ssh!.knownHosts, 'revoked');

  const only = knownHosts('kh-revoked-only', `@revoked ${where} ${hostKey('host_ed25519')}\n`);
  const before = readFileSync(only, 'utf8');
  const add = await cli(['known-hosts', 'add', `127.0.0.1:${port}`, '--known-hosts', only]);
  assert.equal(add.status, 1, add.stdout);
  assert.match(
    add.stdout.replace(/\s+/g, ' '),
    /Nothing added: \S+ marks the server's ssh-ed25519 key @revoked \(line 1\)/,
  );
  assert.equal(readFileSync(only, 'utf8'), before);
});

test('@cert-authority only: unknown, and the CA line is named', { skip }, async () => {
  const file = knownHosts('kh-ca', `@cert-authority [127.0.0.1]:${port} ${hostKey('other_ed25519')}\n`);
  const check = await cli(['known-hosts', 'check', `127.0.0.1:${port}`, '--known-hosts', file]);
  assert.equal(check.status, 1);
  assert.match(check.stdout, /^unknown: /m);
  assert.match(
    check.stdout.replace(/\s+/g, ' '),
    /holds an @cert-authority line for this host \(line 1, ssh-ed25519 SHA256:/,
  );
  const p = await probe('/', '--known-hosts', file);
  assert.match(step(p.json, 'ssh').detail, /@cert-authority line/);
});

test(
  'several host keys: check and the probe judge the key JSch negotiates with the file (attack 13)',
  { skip },
  async () => {
    const where = `[127.0.0.1]:${port}`;
    const wrongRsa = join(dir, 'wrong_rsa');
    if (!existsSync(wrongRsa)) keygen(wrongRsa, 'rsa');
    const verdicts = async (file: string) => {
      const check = await cli(['known-hosts', 'check', `127.0.0.1:${port}`, '--known-hosts', file, '--json']);
      const p = await probe('/', '--known-hosts', file);
      return {
        check: (JSON.parse(check.stdout) as { verdict: string }).verdict,
        checkStatus: check.status,
        probe: p.json.ssh!.knownHosts,
        probeKey: p.json.ssh!.hostKey!.type,
        jsch: p.json.ssh!.algorithms!.serverHostKey!.jschPicks,
      };
    };
    // The right ed25519 line and a wrong rsa line: JSch asks for ed25519 first; both say match.
    const mixed = knownHosts('kh-mixed', `${serverLine()}\n${where} ${hostKey('wrong_rsa')}\n`);
    assert.deepEqual(await verdicts(mixed), {
      check: 'match',
      checkStatus: 0,
      probe: 'match',
      probeKey: 'ssh-ed25519',
      jsch: 'ssh-ed25519',
    });
    const text = await cli(['known-hosts', 'check', `127.0.0.1:${port}`, '--known-hosts', mixed]);
    assert.match(text.stdout.replace(/\s+/g, ' '), /Note: the ssh-rsa key is changed/);
    // Only the right rsa line: JSch asks for rsa-sha2-512 first (the type the file holds).
    const rsa = knownHosts('kh-rsa', `${where} ${hostKey('host_rsa')}\n`);
    assert.deepEqual(await verdicts(rsa), {
      check: 'match',
      checkStatus: 0,
      probe: 'match',
      probeKey: 'ssh-rsa',
      jsch: 'rsa-sha2-512',
    });
    // Only a wrong rsa line: both say changed.
    const wrong = knownHosts('kh-wrong-rsa', `${where} ${hostKey('wrong_rsa')}\n`);
    assert.deepEqual(await verdicts(wrong), {
      check: 'changed',
      checkStatus: 1,
      probe: 'changed',
      probeKey: 'ssh-rsa',
      jsch: 'rsa-sha2-512',
    });
  },
);

test(
  'what the probe did not judge is not ✔: no known_hosts, no login: `!` steps, no "All steps passed", exit 0 (attack S12 A7)',
  { skip },
  async () => {
    const r = await cli(['probe', `sftp://127.0.0.1:${port}/`, '--timeout', '5']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ {2}! ssh /m);
    assert.match(r.stdout, /^ {2}! auth /m);
    assert.doesNotMatch(r.stdout, /All steps passed/);
    assert.match(r.stdout, /^! No step failed, but 2 passed with a warning:$/m);
    const flat = r.stdout.replace(/\s+/g, ' ');
    assert.match(flat, / ssh: the host key was not checked against a known_hosts file: the platform rejects/);
    assert.match(flat, / auth: the login was not tested \(no user given\)/);
    const { json } = await probe('/');
    assert.match(step(json, 'ssh').warning!, /"reject HostKey"/);
    assert.match(step(json, 'auth').warning!, /the login was not tested \(no user given\)/);
    // A host key checked and a login that worked: ✔ and "All steps passed", as before.
    const kh = knownHosts(
      'kh-a7',
      `[127.0.0.1]:${port} ${readFileSync(join(dir, 'host_ed25519.pub'), 'utf8')}`,
    );
    const good = await cli([
      'probe',
      `sftp://${login}@127.0.0.1:${port}/`,
      '--timeout',
      '5',
      '--known-hosts',
      kh,
      '--identity',
      join(dir, 'id_plain'),
    ]);
    assert.equal(good.status, 0, good.stdout);
    assert.match(good.stdout, /^ {2}✔ ssh /m);
    assert.match(good.stdout, /All steps passed/);
  },
);

test(
  'a server JSch reaches only with deprecated algorithms: ssh `!`, the box named in the last lines, and check shows the warning (attack S12 A2)',
  { skip },
  async () => {
    const old = join(dir, 'old');
    mkdirSync(old);
    const legacy = await startSshd(
      old,
      ['../host_rsa'],
      `HostKeyAlgorithms ssh-rsa
KexAlgorithms diffie-hellman-group14-sha1
Ciphers aes128-cbc
Subsystem sftp internal-sftp
`,
    );
    try {
      const url = `sftp://127.0.0.1:${legacy.port}/`;
      const rsa = readFileSync(join(dir, 'host_rsa.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      const kh = knownHosts('kh-old', `[127.0.0.1]:${legacy.port} ${rsa}\n`);
      const r = await cli(['probe', url, '--timeout', '5', '--known-hosts', kh]);
      assert.equal(r.status, 0, r.stdout);
      assert.match(r.stdout, /^ {2}! ssh /m);
      assert.doesNotMatch(r.stdout, /All steps passed/);
      assert.match(
        r.stdout.replace(/\s+/g, ' '),
        /ssh: Cloud Integration's SFTP adapter fails with "Algorithm negotiation fail" unless the channel's "Enable Support for Deprecated Algorithms" is selected/,
      );
      const inv = join(old, 'inv.yaml');
      writeFileSync(
        inv,
        `modules:\n  old:\n    known_hosts: ${kh}\ntargets:\n  - { name: legacy, url: "${url}", module: old }\n`,
      );
      const check = await cli(['check', inv]);
      assert.equal(check.status, 0, check.stdout);
      assert.match(check.stdout, /^! legacy /m);
      assert.match(check.stdout.replace(/\s+/g, ' '), /! ssh: Cloud Integration's SFTP adapter fails/);
      const json = await cli(['check', inv, '--json']);
      assert.match(JSON.parse(json.stdout).results[0].summary.warnings[0], /^ssh: .*Deprecated Algorithms/);
    } finally {
      legacy.child.kill();
    }
  },
);
