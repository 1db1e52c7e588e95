// linkdoctor scan: every input format, events joined the way logs write them, grouping and masking,
// output contracts (--jsonl one line per incident), the same diagnoses as `diagnose`, malformed
// input reported with its place, and no secret of a HAR file in any output.
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { diagnose } from '../src/diagnose/match.js';
import { loadKb } from '../src/kb/load.js';
import { BOUNDARY, requiredLiterals } from '../src/kb/literals.js';
import { mask } from '../src/scan/mask.js';
import { redact } from '../src/redact.js';
import { MultiMatcher } from '../src/scan/multimatch.js';
import { buildPrefilter } from '../src/scan/prefilter.js';
import { classify, LOG_MIN_CONFIDENCE } from '../src/scan/run.js';
import { textCandidates } from '../src/scan/text.js';
import { runCli, type Run } from './helpers.js';

const kb = await loadKb();
const dir = mkdtempSync(join(tmpdir(), 'ld-scan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

const PKIX =
  'javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target';
const LOG = [
  '2024-05-01 10:00:00,001 INFO [exec-1] com.sap.it.Poller - polled sftp://files.example.com/in: 4 found',
  '2024-05-01 10:00:01,123 ERROR [exec-2] com.sap.it.rt.adapter.http.HttpProducer - Message failed',
  'org.apache.cxf.interceptor.Fault: Could not send Message.',
  '\tat org.apache.cxf.interceptor.MessageSenderInterceptor.handleMessage(MessageSenderInterceptor.java:64)',
  `Caused by: ${PKIX}`,
  '\tat sun.security.ssl.Alert.createSSLException(Alert.java:131)',
  '\t... 12 more',
  '2024-05-01 10:00:02,000 INFO [exec-1] com.sap.it.Client - request to https://api.example.com/x completed in 401 ms',
  "2024-05-01 10:00:03,000 WARN [exec-3] com.sap.it.Client - HTTP response '503: Service Unavailable' when communicating with https://s4.example.com:443/sap/opu/odata",
  '2024-05-01 10:00:04,000 ERROR [exec-4] com.sap.it.Job - Job 12345 could not lock partition 7 on db1.example.com',
  '2024-05-01 10:00:05,000 ERROR [exec-5] com.sap.it.Job - Job 99 could not lock partition 3 on db2.example.com',
  '',
].join('\n');

interface Line {
  file: string;
  line?: number;
  record?: number;
  diagnosis: { id: string } | null;
  message: string;
  masked?: string;
  iflow?: string;
  host?: string;
}
const jsonl = (r: Run): Line[] =>
  r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

function assertClean(r: Run): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stderr, /internal error/);
}

test('literals: every match of a pattern contains one of its required literals', () => {
  assert.deepEqual(requiredLiterals('PKIX path (?:building|validation) failed')?.sort(), [
    'pkix path building failed',
    'pkix path validation failed',
  ]);
  assert.deepEqual(requiredLiterals('unauthori[sz]ed')?.sort(), ['unauthorised', 'unauthorized']);
  assert.equal(requiredLiterals('\\d{3}-[A-Z]+'), null, 'nothing to look for');
  assert.equal(requiredLiterals('(a)\\1'), null, 'backreferences are not read');
  // The knowledge base's own examples: wherever a symptom's pattern matches, a literal is found.
  for (const e of kb.entries)
    for (const s of e.match.filter((x) => x.pattern !== undefined)) {
      const lits = requiredLiterals(s.pattern!);
      if (!lits) continue;
      const m = new MultiMatcher(lits);
      for (const ex of [...e.examples.match, ...e.examples.noMatch]) {
        const hit = new RegExp(s.pattern!, 'i').exec(ex);
        if (!hit) continue;
        const span = Buffer.from(hit[0]);
        assert.ok(m.found(span, 0, span.length).size > 0, `${e.id}: /${s.pattern}/ on "${hit[0]}"`);
      }
    }
});

test('multimatch: cases and word boundaries', () => {
  const m = new MultiMatcher([`${BOUNDARY}err${BOUNDARY}`, 'pkix', '\u0002Found']);
  const ids = (s: string) => [...m.found(Buffer.from(s), 0, s.length)].sort();
  assert.deepEqual(ids('an ERR here'), [0]);
  assert.deepEqual(ids('errors and stderr'), []);
  assert.deepEqual(ids('PKIX failed'), [1]);
  assert.deepEqual(ids('Not Found'), [2]);
  assert.deepEqual(ids('4 found'), []);
  // The end of a terminal control sequence is no letter of the word after it (S14).
  assert.deepEqual(ids('\x1b[31mERR\x1b[0m here'), [0]);
  assert.deepEqual(ids('\x1b[1;38;5;196mERR:'), [0]);
  assert.deepEqual(ids('\x1b[KERR'), [0]);
  assert.deepEqual(ids('[31mERR and 31mERR'), [], 'no ESC: no sequence');
});

test('multimatch: an automaton saved by one process and read back by the next finds what a new one finds', async () => {
  const saved = join(dir, 'automata');
  const literals = [
    ...new Set(kb.entries.flatMap((e) => e.match.map((s) => requiredLiterals(s.pattern ?? '') ?? []).flat())),
  ];
  literals.push(`${BOUNDARY}err${BOUNDARY}`, '\u0002Found');
  const hits = (m: MultiMatcher, text: string) => {
    const out: number[][] = [];
    const buf = Buffer.from(text);
    m.scan(buf, 0, buf.length, (start, id, end) => (out.push([start, id, end]), end));
    const lines: number[][] = [];
    const n = m.scanLines(
      buf,
      0,
      buf.length,
      (lineStart, line, start, id) => (lines.push([lineStart, line, start, id]), false),
    );
    return { out, lines, n };
  };
  const text = kb.entries.flatMap((e) => e.examples.match).join('\n') + '\nan ERR here, 4 found, Not Found\n';
  const fresh = MultiMatcher.cached(literals, true, saved);
  // Saved in the background.
  const savedFiles = () => (existsSync(saved) ? readdirSync(saved) : []);
  for (let i = 0; i < 250 && !savedFiles().some((f) => f.endsWith('.bin')); i++)
    await new Promise((r) => setTimeout(r, 20));
  const [file] = savedFiles().filter((f) => /^scan-automaton-[0-9a-f]+\.bin$/.test(f));
  assert.ok(file, 'the automaton is saved');
  const expected = hits(fresh, text);
  assert.ok(expected.out.length > 500 && expected.lines.length > 500);
  assert.deepEqual(hits(MultiMatcher.cached(literals, true, saved), text), expected);
  assert.deepEqual(hits(new MultiMatcher(literals, true), text), expected);
  // A damaged file is not read: the automaton is built again.
  writeFileSync(join(saved, file), readFileSync(join(saved, file)).subarray(0, 1000));
  assert.deepEqual(hits(MultiMatcher.cached(literals, true, saved), text), expected);
});

test('the same diagnoses as diagnose, for every example of the knowledge base, in a log', async () => {
  const pf = buildPrefilter(kb, LOG_MIN_CONFIDENCE);
  const examples = kb.entries.flatMap((e) => [...e.examples.match, ...e.examples.noMatch]);
  for (const level of ['ERROR', 'INFO']) {
    const log = examples
      .map((ex, i) => `2024-05-01 10:00:${String(i % 60).padStart(2, '0')} ${level} [t] x - ${ex}\n`)
      .join('');
    let seen = 0;
    for await (const c of textCandidates(Readable.from([Buffer.from(log)]), 'x', pf, () => {})) {
      const full = diagnose(kb, { text: c.text });
      const top = full.diagnoses[0];
      const inc = classify(c, pf);
      const expected = level === 'ERROR' || (top !== undefined && top.confidence >= LOG_MIN_CONFIDENCE);
      assert.equal(!!inc, expected, c.text);
      if (!inc) continue;
      seen++;
      // An incident keeps what its line and group show of the diagnosis (IncidentDiagnosis).
      const shown = top && {
        id: top.id,
        title: top.title,
        direction: top.direction,
        confidence: top.confidence,
        ...(top.cause ? { cause: top.cause } : {}),
      };
      assert.deepEqual(inc.diagnosis ?? null, shown ?? null, c.text);
      assert.deepEqual(
        inc.also,
        full.diagnoses.slice(1).map((d) => d.id),
        c.text,
      );
    }
    // Every example the knowledge base recognises was found at all.
    const recognised = examples.filter((ex) => {
      const top = diagnose(kb, { text: `2024-05-01 10:00:00 ${level} [t] x - ${ex}` }).diagnoses[0];
      return level === 'ERROR' || (top && top.confidence >= LOG_MIN_CONFIDENCE);
    });
    assert.ok(
      seen >= recognised.length,
      `${level}: ${seen} incidents for ${recognised.length} recognised examples`,
    );
  }
});

test('text log: stack traces joined with their Caused by chain, grouped, masked; exit 1', () => {
  const log = file('app.log', LOG);
  const r = runCli(['scan', '--jsonl', log]);
  assert.equal(r.status, 1, r.stderr);
  const lines = jsonl(r);
  assert.equal(lines.length, 4, r.stdout);
  assert.deepEqual(
    lines.map((l) => [l.line, l.diagnosis?.id ?? null]),
    [
      [2, 'out-cert-path'],
      [9, 'out-http-503'],
      [10, null],
      [11, null],
    ],
  );
  assert.equal(lines[2]!.masked, lines[3]!.masked, 'numbers and hosts masked alike');
  assert.match(lines[2]!.masked!, /Job <n> could not lock partition <n> on <host>/);

  const j = JSON.parse(runCli(['scan', '--json', log]).stdout);
  assert.equal(j.summary.incidents, 4);
  assert.deepEqual(
    j.groups.map((g: { id: string; host?: string; count: number }) => [g.id, g.host, g.count]),
    [
      ['out-cert-path', undefined, 1],
      ['out-http-503', 's4.example.com', 1],
    ],
  );
  assert.equal(j.unknown.length, 1);
  assert.equal(j.unknown[0].count, 2);
  assert.equal(j.unknown[0].first.time, '2024-05-01 10:00:04,000');
  assert.equal(j.unknown[0].last.time, '2024-05-01 10:00:05,000');
  assert.ok(j.groups[0].fixes.length && j.groups[0].references.length);

  const text = runCli(['scan', log]);
  assert.match(text.stdout, /4 incidents: 2 diagnosed as 2 known issues, 2 unknown in 1 group/);
  // Counts that are nought are not written as such (attack report 25: "0 diagnosed as 0 known issues").
  const unknownOnly = runCli(['scan', '-'], {
    input: '2024-05-01 10:00:04,000 ERROR [Reporting] Nightly export job 7 failed: disk quota exceeded\n',
  });
  assert.match(
    unknownOnly.stdout,
    /^1 incident: none diagnosed, 1 unknown in 1 group\.$/m,
    unknownOnly.stdout,
  );
  const knownOnly = runCli(['scan', '-'], {
    input: '2024-05-01 10:00:04,000 ERROR javax.net.ssl.SSLHandshakeException: PKIX path building failed\n',
  });
  assert.match(knownOnly.stdout, /^1 incident: 1 diagnosed as 1 known issue\.$/m, knownOnly.stdout);
  assert.match(text.stdout, /out-cert-path[\s\S]*What to do[\s\S]*SAP note 2354153/);
  assert.match(text.stdout, /Unknown errors/);
  const md = runCli(['scan', '--markdown', log]);
  assert.match(md.stdout, /^# linkdoctor scan/);
  assert.match(md.stdout, /\| `out-http-503` /);
});

test('a log without timestamps: a stack trace is one event', () => {
  const r = runCli([
    'scan',
    '--jsonl',
    file(
      'trace.txt',
      `some preamble\n\n${PKIX}\n\tat a.b(C.java:1)\nCaused by: x.YException: boom\n\tat c.d(E.java:2)\n`,
    ),
  ]);
  assert.deepEqual(
    jsonl(r).map((l) => [l.line, l.diagnosis?.id]),
    [[3, 'out-cert-path']],
  );
});

test('--jsonl: exactly one line per incident and nothing else; the same through gzip, stdin and several files', () => {
  const log = file('big.log', LOG.repeat(50));
  const json = JSON.parse(runCli(['scan', '--json', log]).stdout);
  const r = runCli(['scan', '--jsonl', log]);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, json.summary.incidents);
  assert.equal(lines.length, 200);
  for (const l of lines) assert.doesNotThrow(() => JSON.parse(l));

  const gz = file('big.log.gz', gzipSync(LOG.repeat(50)));
  const viaGzip = jsonl(runCli(['scan', '--jsonl', gz]));
  const viaStdin = jsonl(runCli(['scan', '--jsonl'], { input: gzipSync(LOG.repeat(50)) }));
  const strip = (ls: Line[]) => ls.map(({ file: _f, ...rest }) => rest);
  assert.deepEqual(strip(viaGzip), strip(jsonl(r)));
  assert.deepEqual(strip(viaStdin), strip(jsonl(r)));
  assert.equal(viaStdin[0]!.file, '-');

  const two = jsonl(runCli(['scan', '--jsonl', file('a.log', LOG), file('b.log', LOG)]));
  assert.deepEqual([...new Set(two.map((l) => l.file.split('/').pop()))], ['a.log', 'b.log']);
});

const mplRecord = (i: number, status: string, error?: string) => ({
  __metadata: { id: `https://tenant/api/v1/MessageProcessingLogs('AGk_xKgivsDaGSUpuvz-eEFzhK${i}')` },
  MessageGuid: `AGk_xKgivsDaGSUpuvz-eEFzhK${i}`,
  IntegrationFlowName: i % 2 ? 'Orders_to_S4' : 'Invoices_to_Ariba',
  Status: status,
  LogStart: `/Date(${1765786792442 + i * 1000})/`,
  LogEnd: `/Date(${1765786793442 + i * 1000})/`,
  ...(error ? { ErrorText: error } : {}),
});
const MPL = [
  mplRecord(1, 'FAILED', `com.sap.it.rt.adapter.http.api.exception.HttpResponseException: ${PKIX}`),
  mplRecord(2, 'COMPLETED'),
  mplRecord(3, 'FAILED', `org.apache.cxf.interceptor.Fault: ${PKIX}`),
  mplRecord(4, 'RETRY'),
];

test('MPL export: OData d.results and JSON lines; failed messages grouped by integration flow', () => {
  const odata = file('mpl.json', JSON.stringify({ d: { __count: '4', results: MPL } }, null, 2));
  const r = runCli(['scan', '--json', odata]);
  assert.equal(r.status, 1, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.summary.incidents, 3);
  assert.deepEqual(
    j.groups.map((g: { id: string; iflow: string; count: number }) => [g.id, g.iflow, g.count]),
    [['out-cert-path', 'Orders_to_S4', 2]],
  );
  assert.equal(j.groups[0].example.messageGuid, 'AGk_xKgivsDaGSUpuvz-eEFzhK1');
  assert.equal(j.groups[0].first.at, new Date(1765786793442 + 1000).toISOString());
  assert.match(j.unknown[0].message, /RETRY: the export has no error text/);

  const lines = file('mpl.jsonl', MPL.map((m) => JSON.stringify(m)).join('\n') + '\n');
  const viaLines = jsonl(runCli(['scan', '--jsonl', lines]));
  assert.deepEqual(
    viaLines.map((l) => [l.record, l.diagnosis?.id ?? null, l.iflow]),
    [
      [1, 'out-cert-path', 'Orders_to_S4'],
      [3, 'out-cert-path', 'Orders_to_S4'],
      [4, null, 'Invoices_to_Ariba'],
    ],
  );
});

const SECRETS = [
  'dXNlcjpzM2NyM3Q=',
  'JSESSIONID=abc123secret',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
  'hunter2',
  'tok3n-in-query',
  'Set-Me-Secret',
];
const HAR = {
  log: {
    version: '1.2',
    creator: { name: 'test', version: '1' },
    entries: [
      {
        startedDateTime: '2024-05-01T10:00:00.000Z',
        request: {
          method: 'POST',
          url: 'https://tenant-iflmap.hana.ondemand.com/http/orders?access_token=tok3n-in-query',
          headers: [
            { name: 'Authorization', value: 'Basic dXNlcjpzM2NyM3Q=' },
            { name: 'Cookie', value: 'JSESSIONID=abc123secret' },
          ],
          postData: { mimeType: 'application/json', text: '{"password":"hunter2"}' },
        },
        response: {
          status: 401,
          statusText: 'Unauthorized',
          httpVersion: 'HTTP/1.1',
          headers: [
            { name: 'WWW-Authenticate', value: 'Basic realm="SAP HANA Cloud Platform"' },
            { name: 'Set-Cookie', value: 'session=Set-Me-Secret; Secure' },
          ],
          content: {
            mimeType: 'text/plain',
            text: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl rejected',
          },
        },
      },
      {
        startedDateTime: '2024-05-01T10:00:01.000Z',
        request: { method: 'GET', url: 'https://api.example.com/ok', headers: [] },
        response: {
          status: 200,
          statusText: 'OK',
          headers: [],
          content: { mimeType: 'text/plain', text: 'fine' },
        },
      },
      {
        startedDateTime: '2024-05-01T10:00:02.000Z',
        request: { method: 'GET', url: 'https://untrusted.example.com/', headers: [] },
        response: {
          status: 0,
          statusText: '',
          headers: [],
          content: {},
          _error: 'net::ERR_CERT_AUTHORITY_INVALID',
        },
      },
      {
        startedDateTime: '2024-05-01T10:00:03.000Z',
        request: { method: 'GET', url: 'https://x.example.com/' },
      },
    ],
  },
};

test('HAR: failed exchanges are incidents; a malformed entry is reported; no secret in any output', () => {
  const har = file('session.har', JSON.stringify(HAR));
  const runs = [['--jsonl'], ['--json'], ['--markdown'], []].map((flags) => runCli(['scan', ...flags, har]));
  for (const r of runs) {
    assert.equal(r.status, 1, r.stderr);
    assertClean(r);
    for (const s of SECRETS) {
      assert.ok(!r.stdout.includes(s), `stdout shows ${s}`);
      assert.ok(!r.stderr.includes(s), `stderr shows ${s}`);
    }
  }
  const lines = jsonl(runs[0]!);
  assert.deepEqual(
    lines.map((l) => [l.record, l.host]),
    [
      [1, 'tenant-iflmap.hana.ondemand.com'],
      [3, 'untrusted.example.com'],
    ],
  );
  assert.match(lines[0]!.diagnosis!.id, /401/);
  assert.match(
    runs[0]!.stderr,
    /session\.har record 4 \(line 1, byte \d+\): a HAR entry without response: skipped/,
  );
});

test('malformed input: truncated JSON, binary garbage, a 100 MB line; reported with their place, the rest scanned', () => {
  const whole = JSON.stringify({ d: { results: MPL } }, null, 2);
  const truncated = runCli([
    'scan',
    '--jsonl',
    file('cut.json', whole.slice(0, whole.indexOf('"MessageGuid": "AGk_xKgivsDaGSUpuvz-eEFzhK3"'))),
  ]);
  // Incomplete: what was read is reported, and the exit code says the result is not whole.
  assert.equal(truncated.status, 2);
  assertClean(truncated);
  assert.equal(jsonl(truncated).length, 1, 'the record before the cut is read');
  assert.match(
    truncated.stderr,
    /cut\.json:\d+ \(byte \d+\): the JSON ends early inside "d\.results\[\]", a truncated file: 2 records were read before it, the rest is missing/,
  );

  const broken = runCli([
    'scan',
    '--jsonl',
    file(
      'broken.jsonl',
      `${JSON.stringify(MPL[0])}\n{"MessageGuid": "x", "Status": "FAIL\n${JSON.stringify(MPL[2])}\n`,
    ),
  ]);
  assert.equal(jsonl(broken).length, 2, 'both good lines are read');
  assert.match(broken.stderr, /broken\.jsonl:2 \(byte \d+\): a line break inside a JSON string/);

  const garbage = Buffer.concat([
    Buffer.from(LOG.split('\n').slice(0, 8).join('\n') + '\n'),
    Buffer.from([0, 1, 2, 0xff, 0, 0x10, 0x0a, 0x1b, 0, 0, 0x0a]),
    Buffer.from(LOG.split('\n').slice(8).join('\n')),
  ]);
  const g = runCli(['scan', '--jsonl', file('garbage.log', garbage)]);
  assertClean(g);
  assert.equal(jsonl(g).length, 4);
  assert.match(g.stderr, /garbage\.log:9 \(byte \d+\): binary data \(\d+ bytes\) skipped/);
  assert.equal(jsonl(g).at(-1)!.line, 13, 'line numbers count the garbage lines');

  const long = join(dir, 'long.log');
  const fd = openSync(long, 'w');
  writeSync(fd, `2024-05-01 10:00:00 INFO x - start\n2024-05-01 10:00:01 ERROR x - `);
  const mb = Buffer.alloc(1 << 20, 'a');
  for (let i = 0; i < 100; i++) writeSync(fd, mb);
  writeSync(fd, `\n2024-05-01 10:00:02 ERROR x - ${PKIX}\n`);
  closeSync(fd);
  const l = runCli(['scan', '--jsonl', long], { timeout: 60_000 });
  assertClean(l);
  assert.deepEqual(
    jsonl(l).map((x) => [x.line, x.diagnosis?.id ?? null]),
    [
      [2, null],
      [3, 'out-cert-path'],
    ],
  );
  assert.match(l.stderr, /long\.log:2 \(byte \d+\): a line of 100\.0 MB: only its first 1\.0 MB was read/);
  // The README's contract (S5): the input was read, one line of it in part: exit by the incidents.
  assert.equal(l.status, 1);
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8').replace(/\s+/g, ' ');
  assert.match(
    readme,
    /a line longer than 1 MB \(of which the first 1 MB is read\), are reported with their place and do not change the exit code/,
  );
});

test('a long line of many literals is scanned in linear time (the worst adversarial text of the bench, cut to 900 KB)', () => {
  // 28,000 "certificate"s on one line: each was held against the same patterns over the whole
  // line, so the scan of 4 MB of it had not ended after 120 s. A hang bound, not a timing.
  const unit = `certificate ${'='.repeat(20)}`;
  const r = runCli(['scan', '--jsonl', '--no-progress', file('literals.log', `${unit.repeat(28_000)}\n`)], {
    timeout: 120_000,
  });
  assertClean(r);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
});

test('exit codes and usage: 0 when nothing is found, 2 for an unreadable input (the others still scanned) or clashing flags', () => {
  const quiet = runCli(['scan', file('quiet.log', '2024-05-01 10:00:00 INFO all good\n')]);
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.match(quiet.stdout, /No incident found/);
  const missing = runCli(['scan', '--jsonl', join(dir, 'nope.log'), file('c.log', LOG)]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nope\.log: cannot be read: no such file/);
  assert.equal(jsonl(missing).length, 4);
  const both = runCli(['scan', '--json', '--jsonl', file('d.log', LOG)]);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /choose one of --json, --jsonl and --markdown/);
  const binary = runCli([
    'scan',
    file('blob.bin', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 32))),
  ]);
  assert.equal(binary.status, 2);
  assertClean(binary);
});

test('a --kb pattern without literal text: a note, and it is still found', () => {
  const kbDir = join(dir, 'kb');
  mkdirSync(kbDir);
  file(
    'kb/zz-code.yaml',
    JSON.stringify({
      id: 'zz-code',
      title: 'A code',
      direction: 'any',
      summary: 's',
      symptoms: [{ pattern: '\\b\\d{3}-[A-Z]{2}\\d\\b', weight: 0.9 }],
      causes: ['c'],
      checks: [{ text: 'c' }],
      fixes: ['f'],
      references: [{ title: 'r', url: 'https://example.com/' }],
      examples: { match: ['123-AB4', '999-ZZ1', '000-QQ0'], noMatch: ['x', 'y'] },
    }),
  );
  const r = runCli(
    ['scan', '--jsonl', '--kb', kbDir, file('e.log', '2024-05-01 10:00:00 INFO job 123-AB4 done\n')],
    {
      env: { XDG_CACHE_HOME: join(dir, 'cache') },
    },
  );
  assert.deepEqual(
    jsonl(r).map((l) => l.diagnosis?.id),
    ['zz-code'],
  );
  assert.match(r.stderr, /note: zz-code: .* has no literal text to look for/);
});

test('masking and redaction', () => {
  assert.equal(
    mask(
      '2024-05-01T10:00:00Z job 42 for 3f2a9c1e-1234-4cde-9f00-1234567890ab on api.example.com:8443 from 10.0.0.1',
    ),
    '<time> job <n> for <id> on <host>:<n> from <host>',
  );
  assert.equal(mask('com.sap.it.rt.Foo failed'), 'com.sap.it.rt.Foo failed', 'Java packages are not hosts');
  assert.equal(redact('Authorization: Basic dXNlcjpwYXNz'), 'Authorization: <redacted>');
  assert.equal(
    redact('url?access_token=abc&x=1 password=hunter2'),
    'url?access_token=<redacted>&x=1 password=<redacted>',
  );
});

test("--jsonl keeps a diagnosed incident's message as the log has it; a masked message is never cut inside a mask (S1)", () => {
  const log = file(
    'jobs.log',
    '2026-11-24 08:09:30 ERROR [Jobs_Start] com.sap.it.rt.adapter.http.api.exception.HttpResponseException: An internal server error occured: HTTP operation failed invoking https://api.example.com/v1/jobs/42/start with statusCode: 411\n' +
      '2026-11-24 08:12:44 ERROR [Reporting] Nightly export job 17 failed: disk quota exceeded on /var/export/17\n',
  );
  const [known, unknown] = runCli(['scan', '--jsonl', log])
    .stdout.trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { diagnosis: unknown; message: string; masked?: string });
  assert.ok(known!.diagnosis);
  assert.match(known!.message, /https:\/\/api\.example\.com\/v1\/jobs\/42\/start with statusCode: 411$/);
  assert.equal(known!.masked, undefined);
  assert.equal(unknown!.diagnosis, null);
  assert.equal(
    unknown!.message,
    'ERROR [Reporting] Nightly export job 17 failed: disk quota exceeded on /var/export/17',
  );
  assert.equal(
    unknown!.masked,
    'ERROR [Reporting] Nightly export job <n> failed: disk quota exceeded on /var/export/<n>',
  );
  // 198 characters, then a number: the mask that would not fit whole is left out, not cut.
  const long = mask(`${'a'.repeat(197)} 411`);
  assert.equal(long, `${'a'.repeat(197)} `);
  assert.equal(mask(`${'a'.repeat(190)} 411`), `${'a'.repeat(190)} <n>`);
});
