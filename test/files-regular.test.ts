// Every file the user names is read through one reader (src/fs-read.ts) that reads regular files
// only: a FIFO (open() would wait for a writer forever), a folder, a unix socket or a device such as
// /dev/zero (read without end) is refused with one sentence naming the file, what it is and what it
// should have been, exit 2, at once. /dev/null reads as an empty file.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileReadError, readRegularFile, readRegularFileSync } from '../src/fs-read.js';
import { CLI, freePort, runCli, tempDirs, widgetEntry, type Run } from './helpers.js';

const tmp = tempDirs();
const dir = tmp('ld-files-');
/** A hang fails the test (runCli throws ETIMEDOUT) instead of blocking it. */
const TIMEOUT = 20_000;

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

interface Special {
  label: string;
  /** What the sentence calls it. */
  kind: string;
  /** Makes it at `path` (or returns the path to use instead). */
  make: (path: string) => Promise<string>;
}

const mkfifo = spawnSync('mkfifo', ['--help']).error ? undefined : 'mkfifo';

const SPECIALS: Special[] = [
  {
    label: 'a FIFO with no writer',
    kind: 'a FIFO (named pipe)',
    make: async (p) => {
      const r = spawnSync('mkfifo', [p]);
      assert.equal(r.status, 0, `mkfifo: ${r.stderr}`);
      return p;
    },
  },
  { label: 'a folder', kind: 'a folder', make: async (p) => (mkdirSync(p), p) },
  {
    label: 'a unix socket with a server on it',
    kind: 'a socket',
    make: (p) =>
      new Promise((resolve) => {
        const s = createServer((c) => c.destroy()).listen(p, () => resolve(p));
        servers.push(s);
      }),
  },
  { label: '/dev/zero', kind: 'a character device', make: async () => '/dev/zero' },
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Exit 2, one line on standard error that names the file, what it is and what was expected. */
function assertRefused(r: Run, sentence: RegExp): void {
  assert.equal(r.status, 2, `exit 2 expected; stderr: ${r.stderr}`);
  assert.equal(r.stderr.split('\n').length, 2, `one line expected on stderr:\n${r.stderr}`);
  assert.match(r.stderr, sentence);
  assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  assert.ok(!r.stdout.includes('    at '), 'no stack trace');
}

let closed = 0;
before(async () => {
  // Nothing listens there: a command that got past the file would be refused the connection.
  closed = await freePort();
});

/** Each command that reads a file the user names, and what it calls that file. */
const COMMANDS: {
  name: string;
  args: (f: string) => string[];
  what: string;
  scan?: true;
  /** SQLite opens the file itself: /dev/null is no database to it. */
  notDevNull?: true;
}[] = [
  { name: 'diagnose --file', args: (f) => ['diagnose', '--file', f], what: 'an error text file' },
  { name: 'scan', args: (f) => ['scan', '--no-progress', f], what: 'a log file', scan: true },
  {
    name: 'probe --known-hosts',
    args: (f) => ['probe', `sftp://127.0.0.1:${closed}/`, '--known-hosts', f, '--timeout', '2'],
    what: 'a known_hosts file',
  },
  {
    name: 'probe --identity',
    args: (f) => ['probe', `sftp://u@127.0.0.1:${closed}/`, '--identity', f, '--timeout', '2'],
    what: 'a private key',
  },
  {
    name: 'probe --trust',
    args: (f) => ['probe', `https://127.0.0.1:${closed}/`, '--trust', f, '--timeout', '2'],
    what: 'a trust store',
  },
  {
    name: 'known-hosts check',
    args: (f) => ['known-hosts', 'check', `127.0.0.1:${closed}`, '--known-hosts', f, '--timeout', '2'],
    what: 'a known_hosts file',
  },
  { name: 'trust show', args: (f) => ['trust', 'show', f], what: 'a trust store' },
  { name: 'check INVENTORY', args: (f) => ['check', f], what: 'an inventory' },
  { name: 'history --db', args: (f) => ['history', '--db', f], what: 'a history database', notDevNull: true },
  {
    name: 'tenant --service-key',
    args: (f) => ['tenant', 'keystore', '--service-key', f],
    what: 'a service key',
  },
];

for (const special of SPECIALS) {
  describe(`${special.label} is refused in one sentence, at once`, () => {
    let file = '';
    before(async () => {
      if (special.kind.startsWith('a FIFO') && !mkfifo) return;
      file = await special.make(join(tmp('ld-special-'), 'input'));
    });
    for (const c of COMMANDS)
      test(c.name, (t) => {
        if (!file) return t.skip('mkfifo is not installed');
        const r = runCli(c.args(file), { timeout: TIMEOUT });
        assertRefused(
          r,
          new RegExp(
            `^linkdoctor: ${escape(file)}${c.scan ? ':' : ''} is ${escape(special.kind)}, not ${c.what}`,
          ),
        );
      });

    test('kb lint DIR and diagnose --kb DIR, with it among the YAML entries', async (t) => {
      if (special.kind.startsWith('a FIFO') && !mkfifo) return t.skip('mkfifo is not installed');
      const kb = tmp('ld-kb-');
      writeFileSync(join(kb, 'my-widget.yaml'), widgetEntry('my-widget'));
      const entry = join(kb, 'z-odd.yaml');
      if (special.label === '/dev/zero') symlinkSync('/dev/zero', entry);
      else await special.make(entry);
      const problem = `${entry}: is ${special.kind}, not a knowledge-base entry`;
      // kb lint lists it as a problem of that file and goes on: the good entry was still checked.
      const lint = runCli(['kb', 'lint', kb], { timeout: TIMEOUT });
      assert.equal(lint.status, 1, lint.stderr);
      assert.equal(lint.stderr, '');
      assert.ok(lint.stdout.includes(`${problem}\n`), lint.stdout);
      assert.match(lint.stdout, /^1 entry, \d+ examples? checked, 1 problem, /m);
      // A knowledge base to use with it is refused, naming it, exit 2.
      const use = runCli(['diagnose', '--kb', kb, 'WIDGET-GW-0042 no route'], { timeout: TIMEOUT });
      assert.equal(use.status, 2, use.stderr);
      assert.equal(use.stderr, `linkdoctor: the knowledge base has problems:\n${problem}\n`);
    });
  });
}

test('kb lint DIR lists every unreadable entry (FIFO, device, folder, oversized) in one run and goes on (attack K1)', (t) => {
  if (!mkfifo) return t.skip('mkfifo is not installed');
  const kb = tmp('ld-kb-all-');
  writeFileSync(join(kb, 'my-widget.yaml'), widgetEntry('my-widget'));
  assert.equal(spawnSync('mkfifo', [join(kb, 'a.yaml')]).status, 0);
  symlinkSync('/dev/zero', join(kb, 'b.yaml'));
  mkdirSync(join(kb, 'c.yaml'));
  // Sparse: 3 GB by its size, nothing on the disk.
  writeFileSync(join(kb, 'd.yaml'), '');
  truncateSync(join(kb, 'd.yaml'), 3 * 1024 ** 3);
  writeFileSync(join(kb, 'e.yaml'), 'id: e\ntitle: [unclosed\n');
  const r = runCli(['kb', 'lint', kb], { timeout: TIMEOUT });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trimEnd().split('\n');
  for (const expected of [
    `${join(kb, 'a.yaml')}: is a FIFO (named pipe), not a knowledge-base entry`,
    `${join(kb, 'b.yaml')}: is a character device, not a knowledge-base entry`,
    `${join(kb, 'c.yaml')}: is a folder, not a knowledge-base entry`,
    `${join(kb, 'd.yaml')}: is larger than 1 MB: too large for a knowledge-base entry`,
  ])
    assert.ok(lines.includes(expected), `${expected}\nnot in:\n${r.stdout}`);
  // The YAML file after them was still read: its line and column are named (file:line:column).
  assert.ok(
    lines.some((l) => l.startsWith(`${join(kb, 'e.yaml')}:3:1: not valid YAML`)),
    r.stdout,
  );
  assert.match(lines.at(-1)!, /^1 entry, \d+ examples? checked, 5 problems, /);
});

test('kb lint and --kb given a FIFO or a device for the folder: "is not a folder", exit 2, at once', (t) => {
  if (!mkfifo) return t.skip('mkfifo is not installed');
  const fifo = join(tmp('ld-kbdir-'), 'entries');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  for (const d of [fifo, '/dev/zero']) {
    const expected = `linkdoctor: the knowledge base has problems:\n${d}: is not a folder (give the folder that holds the entries)\n`;
    for (const args of [
      ['kb', 'lint', d],
      ['diagnose', '--kb', d, 'Connection refused'],
    ]) {
      const r = runCli(args, { timeout: TIMEOUT });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, expected);
    }
  }
});

test('check: an inventory whose module names a FIFO or a device is refused before any probe, each field named', (t) => {
  if (!mkfifo) return t.skip('mkfifo is not installed');
  const d = tmp('ld-inv-');
  assert.equal(spawnSync('mkfifo', [join(d, 'store.pem')]).status, 0);
  const inventory = join(d, 'inventory.yaml');
  writeFileSync(
    inventory,
    `modules:\n  files:\n    trust: store.pem\n  keys:\n    known_hosts: /dev/zero\ntargets:\n` +
      `  - { name: a, url: 'https://127.0.0.1:${closed}/', module: files }\n` +
      `  - { name: b, url: 'sftp://127.0.0.1:${closed}/', module: keys }\n`,
  );
  const r = runCli(['check', inventory], { timeout: TIMEOUT });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(
    r.stderr,
    `linkdoctor: the inventory has 2 problems:\n` +
      `${inventory}:3: modules.files.trust: store.pem is a FIFO (named pipe), not a trust store\n` +
      `${inventory}:5: modules.keys.known_hosts: /dev/zero is a character device, not a known_hosts file\n`,
  );
});

test('serve: a probe request naming a FIFO or /dev/zero is a 400 at once, and the server goes on answering', async (t) => {
  if (!mkfifo) return t.skip('mkfifo is not installed');
  // Before: readFileSync of the FIFO blocked serve's event loop, every room with it, until a writer came.
  const fifo = join(tmp('ld-serve-'), 'known_hosts');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const port = await freePort();
  const p = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
    env: { ...process.env, LINKDOCTOR_TOKEN: '' },
  });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve printed no URL in 20 s: ${out}`)), 20_000);
      p.stdout.on('data', () => out.includes('Ctrl-C') && (clearTimeout(timer), resolve()));
    });
    const probe = (body: object) =>
      fetch(`http://127.0.0.1:${port}/api/probe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    for (const [body, sentence] of [
      [
        { url: `sftp://127.0.0.1:${closed}/`, knownHosts: fifo },
        `${fifo} is a FIFO (named pipe), not a known_hosts file`,
      ],
      [
        { url: `https://127.0.0.1:${closed}/`, trust: fifo },
        `${fifo} is a FIFO (named pipe), not a trust store`,
      ],
      [
        { url: `sftp://u@127.0.0.1:${closed}/`, identity: '/dev/zero' },
        '/dev/zero is a character device, not a private key',
      ],
    ] as const) {
      const r = await probe(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(((await r.json()) as { detail: string }).detail, sentence);
    }
    const diagnosed = await fetch(`http://127.0.0.1:${port}/api/diagnose`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'java.net.ConnectException: Connection refused' }),
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(diagnosed.status, 200);
  } finally {
    // SIGKILL: a server blocked in open() (the old code) runs no SIGTERM handler.
    p.kill('SIGKILL');
  }
});

describe('/dev/null reads as an empty file (--known-hosts /dev/null is a common idiom)', () => {
  // Named null: messages that name a file by its base name (the private key's) read the same.
  const empty = join(tmp('ld-empty-'), 'null');
  before(() => writeFileSync(empty, ''));
  for (const c of COMMANDS.filter((c) => !c.notDevNull))
    test(c.name, () => {
      const devNull = runCli(c.args('/dev/null'), { timeout: TIMEOUT });
      const file = runCli(c.args(empty), { timeout: TIMEOUT });
      assert.doesNotMatch(devNull.stderr, /character device/);
      assert.equal(devNull.status, file.status, devNull.stderr);
      assert.equal(devNull.stderr, file.stderr.replaceAll(empty, '/dev/null'));
    });
});

test('history --db /dev/null: a database must be written, so the null device is refused in one sentence', () => {
  const r = runCli(['history', '--db', '/dev/null'], { timeout: TIMEOUT });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(
    r.stderr,
    'linkdoctor: /dev/null is a character device (the null device), not a history database: give a file\n',
  );
});

describe('readRegularFile', () => {
  test('reads a file of up to maxBytes; refuses a larger one unread, in one sentence', async () => {
    const f = join(dir, 'ten');
    writeFileSync(f, '0123456789');
    assert.equal(readRegularFileSync(f, { what: 'key', maxBytes: 10 }).toString(), '0123456789');
    assert.equal((await readRegularFile(f, { what: 'key', maxBytes: 10 })).toString(), '0123456789');
    for (const read of [
      () => readRegularFileSync(f, { what: 'key', maxBytes: 9 }),
      () => readRegularFile(f, { what: 'key', maxBytes: 9 }),
    ])
      await assert.rejects(
        async () => read(),
        (e: unknown) =>
          e instanceof FileReadError && e.message === `${f} is larger than 9 bytes: too large for a key`,
      );
  });

  test('a missing file: one sentence with the reason and its code', () => {
    assert.throws(
      () => readRegularFileSync(join(dir, 'nope'), { what: 'known_hosts file', maxBytes: 1024 }),
      (e: unknown) =>
        e instanceof FileReadError &&
        e.message ===
          `cannot read the known_hosts file ${join(dir, 'nope')}: no such file or directory (ENOENT)`,
    );
  });
});
