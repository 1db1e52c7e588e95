// scan's inputs at their edges: a gzip log cut off or damaged is scanned as far as it decompresses
// (and says so, exit 2), an input that is not text is refused in one sentence (exit 2), a Latin-1
// log is still a text log, and the OData API's Atom XML is read as message processing logs.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import { mbPerSecond } from '../src/report/scan.js';
import { ROOT, runCli, tempDirs } from './helpers.js';

const dir = tempDirs()('ld-scan-inputs-');
const file = (name: string, content: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const jsonl = (out: string) =>
  out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { line: number; diagnosis: { id: string } | null; message: string });

/** A log of 60 lines: every other one a PKIX failure of its own host (numbered), the others noise. */
const LOG = Array.from({ length: 60 }, (_, i) =>
  i % 2
    ? `2026-11-24 08:00:${String(i).padStart(2, '0')} INFO request ${i} processed in 12 ms`
    : `2026-11-24 08:00:${String(i).padStart(2, '0')} ERROR javax.net.ssl.SSLHandshakeException: PKIX path building failed: unable to find valid certification path to requested target (host erp${i}.example.com)`,
).join('\n');

/** Numbers of generated data that no one mistakes for text, the same on every run. */
function noise(n: number, from = 0, to = 256): Buffer {
  let x = 12345;
  return Buffer.from(
    Array.from({ length: n }, () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return from + ((x >>> 16) % (to - from));
    }),
  );
}

test('a gzip log cut off: what decompresses is scanned, the cut is said, exit 2', () => {
  const gz = gzipSync(LOG);
  const cut = gz.subarray(0, Math.floor(gz.length / 2));
  // What any gunzip recovers of the cut file (zcat prints the same before its error).
  const readable = gunzipSync(cut, { finishFlush: constants.Z_SYNC_FLUSH }).toString();
  const whole = LOG.split('\n').filter((l) => l.includes('ERROR')).length;
  const before = readable.split('\n').filter((l) => l.includes('ERROR')).length;
  assert.ok(before > 2 && before < whole, `the cut leaves ${before} of ${whole} incidents`);

  for (const r of [
    runCli(['scan', '--jsonl', file('cut.log.gz', cut)]),
    runCli(['scan', '--jsonl', '-'], { input: cut }),
  ]) {
    assert.equal(r.status, 2, r.stderr);
    const found = jsonl(r.stdout);
    // Everything but perhaps the last, half-decompressed line.
    assert.ok(found.length >= before - 1 && found.length <= before, `${found.length} of ${before}`);
    assert.ok(found.every((x) => x.diagnosis?.id === 'out-cert-path'));
    assert.match(
      r.stderr,
      /\(byte \d+\): the gzip data ends early, a truncated file: the \d+ bytes decompressed before it were scanned, the rest is missing/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // After another input, the count is this file's own; a file of which nothing decompresses is unreadable.
  const two = runCli([
    'scan',
    '--jsonl',
    file('first.log', LOG),
    file('cut3.log.gz', cut),
    file('head.gz', gz.subarray(0, 12)),
  ]);
  assert.equal(two.status, 2);
  const bytes = Number(
    /cut3\.log\.gz \(byte \d+\): [^\n]* the (\d+) bytes decompressed/.exec(two.stderr)?.[1],
  );
  assert.ok(bytes > 0 && bytes <= readable.length, two.stderr);
  assert.match(
    two.stderr,
    /head\.gz: the gzip data ends early, a truncated file: nothing could be decompressed/,
  );
  // The text report says it too, and still lists what was found.
  const text = runCli(['scan', file('cut2.log.gz', cut)]);
  assert.equal(text.status, 2);
  assert.match(text.stdout, /out-cert-path/);
  assert.match(text.stdout, /1 problem with the input/);
});

test('a gzip log whose check fails (damaged): scanned up to it, exit 2; a whole one exits 1', () => {
  // Long enough that the damage comes after more than one 16 KB chunk of output: zlib drops the
  // output of the call that meets the damage, so what is lost is at most that chunk.
  const gz = Buffer.from(gzipSync(LOG.repeat(20)));
  const damaged = Buffer.from(gz);
  // The CRC of the trailer no longer matches the data: zlib's "incorrect data check".
  damaged[gz.length - 8] = damaged[gz.length - 8]! ^ 0xff;
  const r = runCli(['scan', '--jsonl', file('damaged.log.gz', damaged)]);
  assert.equal(r.status, 2, r.stderr);
  assert.ok(jsonl(r.stdout).length > 0, 'the incidents before the damage are found');
  assert.match(
    r.stderr,
    /the gzip data is damaged \([^)]+\): the \d+ bytes decompressed before it were scanned/,
  );
  const ok = runCli(['scan', '--jsonl', file('whole.log.gz', gz)]);
  assert.equal(ok.status, 1, ok.stderr);
  assert.equal(jsonl(ok.stdout).length, 600);
  assert.equal(ok.stderr, '');
});

test('an input that is not text is refused in one sentence, exit 2; a Latin-1 log is read', () => {
  // Random bytes: few of them control bytes (11%), most of them not UTF-8.
  for (const [name, bytes] of [
    ['random.bin', noise(3000)],
    ['high.bin', noise(5000, 0x20, 0x100)],
    ['random.gz', gzipSync(noise(3000))],
  ] as const) {
    const r = runCli(['scan', file(name, bytes)]);
    assert.equal(r.status, 2, `${name}: ${r.stdout}`);
    assert.match(
      r.stderr,
      new RegExp(`${name.replace('.', '\\.')}: is neither a text log, a JSON export nor gzip data`),
    );
    assert.match(r.stdout, /^Nothing was scanned: 1 input could not be read\.\n1 problem with the input/);
  }
  // A German log in Latin-1 (ä, ö, ü, ß are single bytes, not UTF-8) is still a text log.
  const latin1 = Buffer.from(
    `${LOG.split('\n').slice(0, 4).join('\n')}\n2026-11-24 08:01:00 INFO Verbindung für Bestellungen geprüft (Größe 12)\n`.repeat(
      20,
    ),
    'latin1',
  );
  const l = runCli(['scan', '--jsonl', file('latin1.log', latin1)]);
  assert.equal(l.status, 1, l.stderr);
  assert.equal(jsonl(l.stdout).length, 40);
});

/**
 * The OData API's Atom XML (its default format, ../shared/platform/tenant-api.md §3): three entries
 * shaped as the API sends them, one FAILED without error text (the API's own: it is a navigation),
 * one FAILED with an error text and an expanded ErrorInformation whose MessageGuid is not the
 * entry's, one COMPLETED.
 */
const ATOM = readFileSync(join(ROOT, 'test', 'fixtures', 'mpl-atom.xml'), 'utf8');

test('MPL Atom XML is read as the JSON export is: iFlow, message id, status, error text; FAILED without text counted and said', () => {
  for (const r of [
    runCli(['scan', '--jsonl', file('mpl.xml', ATOM)]),
    runCli(['scan', '--jsonl', '-'], { input: gzipSync(ATOM) }),
  ]) {
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr, '');
    const found = jsonl(r.stdout) as unknown as {
      iflow?: string;
      messageGuid?: string;
      failing?: string;
      time?: string;
      diagnosis: { id: string } | null;
      message: string;
    }[];
    assert.deepEqual(
      found.map((x) => [x.iflow, x.messageGuid, x.failing, x.diagnosis?.id ?? null, x.time]),
      [
        [
          'INTEGRA_SCOPE_TEST',
          'AGk_xKgivsDaGSUpuvz-eEFzhKZO',
          'status FAILED',
          null,
          '2025-12-15T08:19:54.800Z',
        ],
        ['Orders to ERP', 'AGk2', 'status FAILED', 'out-cert-path', '2025-12-15T08:21:00.000Z'],
      ],
    );
    assert.match(found[0]!.message, /^FAILED: the export has no error text/);
    assert.doesNotMatch(r.stdout, /<entry|<d:|m:properties/, 'no raw XML as a message');
  }
  const text = runCli(['scan', file('mpl2.xml', ATOM)]);
  assert.match(text.stdout, /2 incidents: 1 diagnosed as 1 known issue, 1 unknown in 1 group/);
  assert.match(text.stdout, /integration flow Orders to ERP/);
  assert.match(text.stdout, /FAILED: the export has no error text/);
});

test('MPL Atom XML: an empty feed is an empty answer (exit 0), a cut one says so (exit 2)', () => {
  const empty = ATOM.slice(0, ATOM.indexOf('<entry>')) + '</feed>\n';
  const e = runCli(['scan', file('empty.xml', empty)]);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(e.stderr, '');
  assert.match(e.stdout, /No incident found/);
  const cut = ATOM.slice(0, ATOM.indexOf('<d:MessageGuid>AGk2'));
  const c = runCli(['scan', '--jsonl', file('cut.xml', cut)]);
  assert.equal(c.status, 2);
  assert.equal(jsonl(c.stdout).length, 1, 'the entry before the cut');
  assert.match(
    c.stderr,
    /cut\.xml:\d+: the XML ends early, a truncated file \([^)]*\): 1 record was read before it/,
  );
});

test('UTF-16 text without a byte order mark (Windows tools): the iconv hint with its byte order, exit 2 (S6)', () => {
  const log = readFileSync(join(ROOT, 'examples', 'app.log'), 'utf8');
  const le = runCli(['scan', file('u16le.log', Buffer.from(log, 'utf16le'))]);
  assert.equal(le.status, 2);
  assert.match(
    le.stderr,
    /u16le\.log: is UTF-16 text without a byte order mark: convert it to UTF-8 first \(iconv -f UTF-16LE -t UTF-8\)\n$/,
  );
  const be = runCli(['scan', file('u16be.log', Buffer.from(log, 'utf16le').swap16())]);
  assert.match(
    be.stderr,
    /u16be\.log: is UTF-16 text without a byte order mark: convert it to UTF-8 first \(iconv -f UTF-16BE -t UTF-8\)\n$/,
  );
  // diagnose names it in the same words, not "looks binary (a NUL byte at offset 1)".
  const d = runCli(['diagnose', '--file', file('u16le.txt', Buffer.from(log, 'utf16le'))]);
  assert.equal(d.status, 2);
  assert.match(
    d.stderr,
    /u16le\.txt is UTF-16 text without a byte order mark: convert it to UTF-8 first \(iconv -f UTF-16LE -t UTF-8\)/,
  );
});

test('UTF-16 with a byte order mark (Windows PowerShell 5 `>`), either order, gzip too: scanned as its UTF-8 is, as diagnose reads it (attack S13 B16)', () => {
  const log = readFileSync(join(ROOT, 'examples', 'app.log'), 'utf8');
  const utf8 = runCli(['scan', '--jsonl', file('u8.log', log)]);
  assert.equal(utf8.status, 1, utf8.stderr);
  const want = jsonl(utf8.stdout).map((i) => JSON.stringify({ ...i, file: undefined }));
  assert.ok(want.length > 0);
  const le = Buffer.from(`\ufeff${log}`, 'utf16le');
  for (const [name, bytes] of [
    ['u16le-bom.log', le],
    ['u16be-bom.log', Buffer.from(le).swap16()],
    ['u16le-bom.log.gz', gzipSync(le)],
  ] as const) {
    const r = runCli(['scan', '--jsonl', file(name, bytes)]);
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    assert.equal(r.stderr, '', name);
    assert.deepEqual(
      jsonl(r.stdout).map((i) => JSON.stringify({ ...i, file: undefined })),
      want,
      name,
    );
  }
});

test('a text log with runs of NUL bytes (a logrotate copytruncate hole, a crash) is scanned, the runs skipped and said (attack S11)', () => {
  const plain = runCli(['scan', '--jsonl', file('plain.log', `${LOG}\n`)]);
  assert.equal(plain.status, 1, plain.stderr);
  const incidents = jsonl(plain.stdout).length;
  assert.equal(incidents, 30);
  const zeros = (n: number) => Buffer.alloc(n);
  for (const [name, bytes] of [
    // 8 KB of NULs before the first line: the whole first 4 KB is NUL.
    ['hole-start.log', Buffer.concat([zeros(8192), Buffer.from(`\n${LOG}\n`)])],
    // 300 NULs on a line of their own within the first 4 KB.
    ['hole-300.log', Buffer.concat([Buffer.from('x\n'), zeros(300), Buffer.from(`\n${LOG}\n`)])],
    // A hole between two halves of the log.
    ['hole-mid.log', Buffer.concat([Buffer.from(`${LOG}\n`), zeros(8192), Buffer.from(`\n${LOG}\n`)])],
  ] as const) {
    const r = runCli(['scan', '--jsonl', file(name, bytes)]);
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    const expected: number = name === 'hole-mid.log' ? 2 * incidents : incidents;
    assert.equal(jsonl(r.stdout).length, expected, name);
    assert.match(
      r.stderr,
      new RegExp(`${name.replace('.', '\\.')}:\\d+ \\(byte \\d+\\): binary data \\(\\d+ bytes\\) skipped`),
    );
  }
  // Random bytes with NULs among them are still refused whole (the test above holds the rest).
  const r = runCli(['scan', file('random-nul.bin', Buffer.concat([zeros(5000), noise(3000)]))]);
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stderr, /is neither a text log, a JSON export nor gzip data/);
});

/**
 * The same log line packed as the tools pack it (zip 3.0, bzip2 1.0.8, xz 5.4, zstd 1.5; base64 of
 * their output): an archive that is how logs are often handed over.
 */
const PACKED = {
  'logs.zip':
    'UEsDBAoAAAAAAORpgV2uaXr+PAAAADwAAAAFABwAYS5sb2dVVAkAA1zIDmtcyA5rdXgLAAEEAAAAAAQAAAAAMjAyNi0xMS0yNCAwODowMDowMCBFUlJPUiBbSm9iXSBmYWlsZWQ6IGRpc2sgcXVvdGEgZXhjZWVkZWQKUEsBAh4DCgAAAAAA5GmBXa5pev48AAAAPAAAAAUAGAAAAAAAAQAAAKSBAAAAAGEubG9nVVQFAANcyA5rdXgLAAEEAAAAAAQAAAAAUEsFBgAAAAABAAEASwAAAHsAAAAAAA==',
  'app.log.bz2':
    'QlpoOTFBWSZTWXvs/bcAAAlfgAAQQAJ1UAIQkAo/LK5AIABUUCaYTEwAaBFPU8jUGyj0Q0aBRINm71WSRBZEaqJQAVFkm0xc6eVt91dFeysYcw2AcQZnF9F3JFOFCQe+z9tw',
  'app.log.xz':
    '/Td6WFoAAATm1rRGAgAhARYAAAB0L+WjAQA7MjAyNi0xMS0yNCAwODowMDowMCBFUlJPUiBbSm9iXSBmYWlsZWQ6IGRpc2sgcXVvdGEgZXhjZWVkZWQKAO7Kdo9m6YWcAAFUPPxRPtEftvN9AQAAAAAEWVo=',
  'app.log.zst':
    'KLUv/SQ84QEAMjAyNi0xMS0yNCAwODowMDowMCBFUlJPUiBbSm9iXSBmYWlsZWQ6IGRpc2sgcXVvdGEgZXhjZWVkZWQKWgcHzw==',
};

test('an input that could not be read is not "Scanned 1 input ... No incident found"; an archive is named with the command that opens it (S13)', () => {
  const commands = {
    'logs.zip': 'a zip archive, which scan does not open (it reads gzip only): unzip -p',
    'app.log.bz2': 'bzip2-compressed data, which scan does not open (it reads gzip only): bzcat',
    'app.log.xz': 'xz-compressed data, which scan does not open (it reads gzip only): xzcat',
    'app.log.zst': 'zstd-compressed data, which scan does not open (it reads gzip only): zstdcat',
  };
  for (const [name, base64] of Object.entries(PACKED)) {
    const path = file(name, Buffer.from(base64, 'base64'));
    const r = runCli(['scan', path]);
    assert.equal(r.status, 2, `${name}: ${r.stdout}`);
    assert.equal(
      r.stderr,
      `linkdoctor: ${path}: is ${commands[name as keyof typeof commands]} ${path} | linkdoctor scan - reads what is in it\n`,
    );
    assert.equal(
      r.stdout,
      'Nothing was scanned: 1 input could not be read.\n1 problem with the input (reported above).\n',
    );
    // On standard input the same, with FILE for the name it has not.
    const s = runCli(['scan', '-'], { input: Buffer.from(base64, 'base64') });
    assert.equal(s.status, 2);
    assert.match(s.stderr, / FILE \| linkdoctor scan - reads what is in it\n$/);
    assert.match(s.stdout, /^Nothing was scanned/);
  }
  // Text that starts as a bzip2 header would is still text: the block's magic is not there.
  const word = runCli(['scan', '-'], { input: 'BZh9 job started\n' });
  assert.equal(word.status, 0, word.stderr);
  assert.match(word.stdout, /^Scanned 1 input, /);
  // UTF-16 without a byte order mark on standard input, and a folder: nothing scanned either.
  const u16 = runCli(['scan', '-'], { input: Buffer.from(LOG, 'utf16le') });
  assert.equal(u16.status, 2);
  assert.match(u16.stderr, /is UTF-16 text/);
  assert.match(u16.stdout, /^Nothing was scanned: 1 input could not be read\.\n/);
  assert.doesNotMatch(u16.stdout, /No incident found|Scanned/);
  const folder = runCli(['scan', '--markdown', dir]);
  assert.equal(folder.status, 2);
  assert.match(
    folder.stdout,
    /^# linkdoctor scan\n\nNothing was scanned: 1 input could not be read\.\n1 problem with the input\.\n/,
  );
  // One input of three read: said so, and what it found.
  const some = runCli(['scan', join(dir, 'logs.zip'), file('some.log', LOG), dir]);
  assert.equal(some.status, 2);
  assert.match(
    some.stdout,
    /^Scanned 1 of 3 inputs, 0\.0 MB in [\d.]+ s \((?:< )?[\d.]+ MB\/s\)\.\n30 incidents/,
  );
});

test('the summary gives a rate one or two significant digits: 0.44 MB/s is not "0 MB/s" (S12)', () => {
  assert.equal(mbPerSecond(6, 13.5), '0.44');
  assert.equal(mbPerSecond(32, 10), '3.2');
  assert.equal(mbPerSecond(440, 10), '44');
  assert.equal(mbPerSecond(0.001, 1), '< 0.01');
  assert.equal(mbPerSecond(0, 0.1), '0');
});
