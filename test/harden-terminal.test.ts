// Issue 9, terminal: what strangers wrote never reaches a terminal as a control sequence. Error
// texts, log lines, file names, an SMTP banner and reply, an FTP reply and an HTTP reason phrase
// carry the sequences that set the window title (OSC 0), clear the screen (CSI 2J), plant an OSC 8
// hyperlink, and the one-character C1 CSI U+009B; the reports (text, Markdown, colour) show them
// visibly and JSON escapes them. The peers are raw servers on 127.0.0.1 started here.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FtpSrv } from 'ftp-srv';
import forge from 'node-forge';
import { jsonText, printable, printableDeep } from '../src/report/printable.js';
import { freePort, runCli, runCliAsync } from './helpers.js';

const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
const LINK = '\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\';
const C1_CSI = '\u009b31m';
/** A right-to-left override: what follows reads backwards (Trojan Source, CVE-2021-42574). */
const BIDI = '\u202e';
const ATTACK = `${TITLE}${CLEAR}${LINK}${C1_CSI}${BIDI}`;

/** Anything that can act on a terminal: C0 but tab and newline, DEL, C1, U+2028/2029, bidi controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** No control character in `out`, but our own colour codes (SGR) when `colour`. */
function assertPrintable(out: string, what: string, colour = false): void {
  // eslint-disable-next-line no-control-regex
  const rest = colour ? out.replace(/\x1b\[[0-9;]*m/g, '') : out;
  const m = CONTROL.exec(rest);
  assert.equal(
    m,
    null,
    `${what}: U+${m?.[0].charCodeAt(0).toString(16).padStart(4, '0')} raw at …${JSON.stringify(rest.slice(Math.max(0, (m?.index ?? 0) - 40), (m?.index ?? 0) + 20))}`,
  );
}

/** The JSON has no raw DEL, C1 or U+2028/9, and still parses. */
function assertJson(out: string, what: string): unknown {
  const m = /[\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/.exec(out);
  assert.equal(m, null, `${what}: U+${m?.[0].charCodeAt(0).toString(16)} raw in the JSON`);
  try {
    return JSON.parse(out);
  } catch {
    return out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
  }
}

/** The attack reached the output, shown visibly (so a test that finds nothing raw is no accident). */
const shownVisibly = (out: string) => /\\x1b|\\x07|\\x9b/.test(out);

describe('printable', () => {
  test('shows C0, DEL, C1 and U+2028/2029 in escape notation, keeps newline and tab', () => {
    assert.equal(printable(`a${TITLE}b`), 'a\\x1b]0;pwned\\x07b');
    assert.equal(printable(`x${C1_CSI}\x7f\x00`), 'x\\x9b31m\\x7f\\x00');
    assert.equal(printable('one\ntwo\tthree'), 'one\ntwo\tthree');
    assert.equal(printable('line\r\nnext\rover'), 'line\nnext\\x0dover');
    assert.equal(printable('a\u2028b\u2029c'), 'a\\u2028b\\u2029c');
    assert.equal(printable('host \u202eexample.com\u2066'), 'host \\u202eexample.com\\u2066');
    assert.equal(printable('ümlaut → ✔ C:\\temp'), 'ümlaut → ✔ C:\\temp');
  });
  test('is idempotent, and printableDeep reaches every string of plain objects and arrays', () => {
    assert.equal(printable(printable(ATTACK)), printable(ATTACK));
    const deep = printableDeep({ a: [ATTACK, { b: ATTACK }], n: 3, ok: null });
    assert.deepEqual(deep, { a: [printable(ATTACK), { b: printable(ATTACK) }], n: 3, ok: null });
  });
  test('printableDeep finds each kind of control character alone, deep in a result, and copies only then', () => {
    const clean = { a: ['x', { b: 'tab\there, line\nnext, C:\\temp, ümlaut ✔' }], n: 3 };
    assert.equal(printableDeep(clean), clean, 'nothing to change: the value itself');
    // Each class of character on its own, so that the test before the copy misses none of them.
    for (const ch of [
      '\x00',
      '\x08',
      '\x0b',
      '\x0c',
      '\x1b',
      '\x1f',
      '\r',
      '\x7f',
      '\x85',
      '\x9b',
      '\u2028',
      '\u2029',
      '\u061c',
      '\u200e',
      '\u202e',
      '\u2066',
    ]) {
      const value = { a: [{ b: `host${ch}name` }] };
      const shown = printableDeep(value);
      assert.notEqual(shown, value, JSON.stringify(ch));
      assert.deepEqual(shown, { a: [{ b: printable(`host${ch}name`) }] }, JSON.stringify(ch));
    }
    // A value JSON cannot write (a BigInt): every string is looked at all the same.
    assert.deepEqual(printableDeep({ s: ATTACK, big: 1n }), { s: printable(ATTACK), big: 1n });
  });
  test('jsonText escapes DEL, C1 and U+2028/2029, and reads back the exact text', () => {
    const value = { s: `${ATTACK}\x7f\u0085\u2028\u200f` };
    const text = jsonText(value, 2);
    assertJson(text, 'jsonText');
    assert.deepEqual(JSON.parse(text), value);
  });
});

describe('diagnose', () => {
  const text = `javax.net.ssl.SSLHandshakeException: ${TITLE}PKIX path building failed ${CLEAR}${LINK} https://api.example.com/${C1_CSI} status 401`;
  for (const colour of [false, true])
    test(`an error text with escapes is reported printable${colour ? ' (in colour)' : ''}`, () => {
      const r = runCli(['diagnose', text], colour ? { env: { FORCE_COLOR: '1' } } : {});
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /out-cert-path|in-cert-validity/);
      // eslint-disable-next-line no-control-regex
      if (colour) assert.match(r.stdout, /\x1b\[\d+m/, 'our own colour codes stay');
      assertPrintable(r.stdout, 'stdout', colour);
      assertPrintable(r.stderr, 'stderr', colour);
      // The escapes are read as blanks: no fact takes them in (the URL ends before the C1 CSI).
      assert.match(r.stdout, /url https:\/\/api\.example\.com\/ /);
    });
  test('the text is read with its control sequences blanked; evidence quotes it as given, visibly', () => {
    // Read as is, "\x1b[31mjavax..." named the exception net.ssl.SSLHandshakeException.
    const given = `\x1b[31mjavax.net.ssl.SSLHandshakeException: ${TITLE}Received fatal alert: handshake_failure\x1b[0m`;
    const json = JSON.parse(runCli(['diagnose', '--json', given]).stdout) as {
      facts: { exception?: string };
      diagnoses: { evidence: { text: string; start?: number; end?: number }[] }[];
    };
    assert.equal(json.facts.exception, 'javax.net.ssl.SSLHandshakeException');
    const camel = `HTTP operation failed invoking https://api.example.com/${TITLE}orders with statusCode: 401`;
    const r = runCli(['diagnose', '--json', `\x1b[1m${camel}`]);
    const ev = (JSON.parse(r.stdout) as typeof json).diagnoses[0]!.evidence[0]!;
    assert.equal(ev.text, camel, 'the original text, escapes included');
    assert.deepEqual([ev.start, ev.end], [4, 4 + camel.length], 'at the offsets of the text as given');
    const shown = runCli(['diagnose', camel]).stdout;
    assertPrintable(shown, 'stdout');
    assert.ok(shownVisibly(shown), shown);
    assert.match(shown, /invoking https:\/\/api\.example\.com\/\\x1b\]0;pwned\\x07orders/);
  });
  test('--full prints every evidence printable', () => {
    const r = runCli(['diagnose', '--full', text]);
    assertPrintable(r.stdout, 'stdout');
  });
  test('--json escapes C1 and reads back the exact text', () => {
    const r = runCli(['diagnose', '--json', text]);
    const json = assertJson(r.stdout, 'diagnose --json') as { diagnoses: { evidence: { text: string }[] }[] };
    assert.ok(JSON.stringify(json).includes('\u009b'), 'the C1 character is kept, escaped');
  });
  test('an error sentence that quotes a file name is printable (exit 2)', () => {
    const r = runCli(['diagnose', '--file', `/nonexistent/${ATTACK}.txt`]);
    assert.equal(r.status, 2);
    assertPrintable(r.stderr, 'stderr');
    assert.equal(r.stdout, '');
  });
  test("commander's usage errors quote the argument printable", () => {
    const r = runCli(['diagnose', `--${TITLE}`]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option/);
    assertPrintable(r.stderr, 'stderr');
  });
});

describe('scan', () => {
  let dir = '';
  let log = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ld-terminal-'));
    log = join(dir, `app${TITLE}${CLEAR}.log`);
    writeFileSync(
      log,
      [
        `2026-11-24 08:00:05 ERROR ${TITLE}javax.net.ssl.SSLHandshakeException: PKIX path building failed ${CLEAR}${LINK}${C1_CSI}`,
        `2026-11-24 08:00:06 ERROR the flux capacitor ${TITLE} overheated ${CLEAR}${LINK}${C1_CSI}`,
        `2026-11-24 08:00:07 ERROR the flux capacitor ${TITLE} overheated ${CLEAR}${LINK}${C1_CSI}\u2028forged line`,
        '',
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const mode of [[], ['--markdown'], ['--color']]) {
    const colour = mode[0] === '--color';
    test(`a log whose name and lines carry escapes: ${mode[0] ?? 'text'} report printable`, () => {
      const r = runCli(['scan', ...mode.filter((m) => m !== '--color'), log], {
        ...(colour ? { env: { FORCE_COLOR: '1' } } : {}),
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /out-cert-path|in-cert-validity/);
      assert.match(r.stdout, /flux capacitor/);
      assertPrintable(r.stdout, 'stdout', colour);
      assertPrintable(r.stderr, 'stderr', colour);
      assert.ok(shownVisibly(r.stdout), r.stdout);
    });
  }
  test('--json and --jsonl escape C1 and keep the exact text', () => {
    for (const flag of ['--json', '--jsonl']) {
      const r = runCli(['scan', flag, log]);
      assert.equal(r.status, 1, r.stderr);
      assertJson(r.stdout, `scan ${flag}`);
      // No raw ESC either (JSON escapes C0 as \u001b): the decoded strings keep the exact text.
      assertPrintable(r.stdout, `scan ${flag}`);
      assert.ok(r.stdout.includes('\\u001b'), `${flag}: ESC is kept, escaped`);
      assert.ok(r.stdout.includes('\\u009b'), `${flag}: the C1 character is kept, escaped`);
      assertPrintable(r.stderr, 'stderr');
    }
  });
  test('a file that cannot be read is named printable on standard error (exit 2)', () => {
    const r = runCli(['scan', '--no-progress', join(dir, `missing${ATTACK}.log`)]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing/);
    assertPrintable(r.stderr, 'stderr');
    assertPrintable(r.stdout, 'stdout');
  });
});

describe('probe', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((close) => close()));

  /** A raw server on 127.0.0.1 that answers each line of the client with `reply(line)`. */
  async function lineServer(greeting: string, reply: (line: string) => string | undefined): Promise<number> {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      if (greeting) s.write(greeting);
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          const answer = reply(line);
          if (answer === undefined) s.end();
          else s.write(Buffer.from(answer, 'utf8'));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return (server.address() as AddressInfo).port;
  }

  /** The probe's text report, in colour and as JSON: nothing raw in any of them; the text report. */
  async function probeBoth(url: string, ...args: string[]): Promise<string> {
    const env = { FTP_PW: 'not-a-real-password' };
    const run = (more: string[], extra: Record<string, string> = {}) =>
      runCliAsync(['probe', url, '--timeout', '3', ...more, ...args], { env: { ...env, ...extra } });
    // The three forms at once: the servers take any number of connections.
    const [text, colour, json] = await Promise.all([run([]), run([], { FORCE_COLOR: '1' }), run(['--json'])]);
    assertPrintable(text.stdout, `probe ${url}: stdout`);
    assertPrintable(text.stderr, `probe ${url}: stderr`);
    assertPrintable(colour.stdout, `probe ${url} in colour: stdout`, true);
    assertJson(json.stdout, `probe ${url} --json`);
    return text.stdout;
  }

  test('an SMTP server whose banner and EHLO answer carry escapes', async () => {
    const port = await lineServer(`220 mail${TITLE}.example ESMTP ${CLEAR}${C1_CSI}\r\n`, (line) =>
      /^(EHLO|HELO)/i.test(line)
        ? `250-mail${LINK}\r\n250-SIZE 1000\r\n250 8BITMIME${C1_CSI}\r\n`
        : /^QUIT/i.test(line)
          ? undefined
          : `554 5.7.1 ${TITLE}no ${LINK}\r\n`,
    );
    const out = await probeBoth(`smtp://127.0.0.1:${port}`);
    assert.ok(shownVisibly(out), out);
  });

  test('an SMTP server that refuses with escapes in its reply', async () => {
    const port = await lineServer(`554 5.7.1 ${TITLE}go away ${CLEAR}${LINK}${C1_CSI}\r\n`, () => undefined);
    const out = await probeBoth(`smtp://127.0.0.1:${port}`);
    assert.ok(shownVisibly(out), out);
  });

  test('an FTP server whose greeting and replies carry escapes', async () => {
    const port = await lineServer(`220 ftp${TITLE} ready ${CLEAR}${C1_CSI}\r\n`, (line) =>
      /^FEAT/i.test(line)
        ? `211-Features${TITLE}:\r\n UTF8${LINK}\r\n211 End\r\n`
        : /^QUIT/i.test(line)
          ? undefined
          : `530 ${TITLE}login incorrect ${CLEAR}${LINK}${C1_CSI}\r\n`,
    );
    const out = await probeBoth(`ftp://127.0.0.1:${port}`, '-u', 'someone', '--password-env', 'FTP_PW');
    assert.ok(shownVisibly(out), out);
  });

  test('an FTP listing whose file names carry escapes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ld-terminal-ftp-'));
    closers.push(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(join(root, `invoice${TITLE}${CLEAR}.xml`), 'x');
    mkdirSync(join(root, `in${CLEAR}${C1_CSI}`)); // (a name cannot hold the "/" of a link)
    const port = await freePort();
    const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
    const server = new FtpSrv({
      url: `ftp://127.0.0.1:${port}`,
      pasv_url: '127.0.0.1',
      pasv_min: 42000,
      pasv_max: 42999,
      greeting: `ready ${TITLE}`,
      log: quiet,
    } as ConstructorParameters<typeof FtpSrv>[0]);
    server.on('login', (_login, resolve) => resolve({ root }));
    server.on('client-error', () => undefined);
    await server.listen();
    closers.push(() => void server.close());
    const out = await probeBoth(`ftp://127.0.0.1:${port}/`, '-u', 'edi', '--password-env', 'FTP_PW');
    assert.match(out, /invoice\\x1b\]0;pwned\\x07\\x1b\[2J\.xml/);
  });

  /** A raw HTTP server that answers every request with `response`, written as it is. */
  async function httpServer(response: string): Promise<number> {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('data', () => s.end(Buffer.from(response, 'utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return (server.address() as AddressInfo).port;
  }

  test('an HTTP server whose reason phrase carries escapes', async () => {
    const port = await httpServer(
      `HTTP/1.1 401 Unauthorized ${TITLE}${CLEAR}${LINK}${C1_CSI}\r\n` +
        'WWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    const out = await probeBoth(`http://127.0.0.1:${port}/x`);
    assert.match(out, /401 Unauthorized \\x1b\]0;pwned\\x07/);
  });

  test('an HTTP server whose header carries escapes (Node refuses it: the sentence is printable)', async () => {
    const port = await httpServer(
      `HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="${LINK}${C1_CSI}"\r\n` +
        'Content-Length: 0\r\nConnection: close\r\n\r\n',
    );
    await probeBoth(`http://127.0.0.1:${port}/x`);
  });
});

test('trust show: a certificate whose names carry escape sequences is listed printable, in text and JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-terminal-cert-'));
  try {
    // A certificate anyone can make: its subject is the attacker's to choose.
    const keys = forge.pki.rsa.generateKeyPair(1024);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.now() - 86_400_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000 * 30);
    const name = [{ name: 'commonName', value: `evil${TITLE}${CLEAR}` }];
    cert.setSubject(name);
    cert.setIssuer(name);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    const file = join(dir, 'evil.pem');
    writeFileSync(file, forge.pki.certificateToPem(cert));
    const text = runCli(['trust', 'show', file]);
    assert.equal(text.status, 0, text.stderr);
    assertPrintable(text.stdout, 'trust show');
    assert.ok(shownVisibly(text.stdout), text.stdout);
    const colour = runCli(['trust', 'show', file], { env: { FORCE_COLOR: '1' } });
    assertPrintable(colour.stdout, 'trust show, colour', true);
    const json = runCli(['trust', 'show', '--json', file]);
    assertJson(json.stdout, 'trust show --json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
