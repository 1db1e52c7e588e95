// Structured inputs scan reads: the older XML export of message processing logs (.mpl) read as the
// OData JSON is, and exports that end or break where they should not (a truncated .mpl, HAR or JSON,
// `{"broken": `) said in one sentence with what was read, and exit 2: the result is incomplete.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ld-exports-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

const PKIX =
  'javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target';

/** One MPL of the older XML export (monitoring-tools.md §C): header properties as entries. */
function local(guid: string, o: { iflow: string; status: string; start: string; error?: string }): string {
  const entry = (name: string, type: string, value: string) =>
    `    <entry><key><name>${name}</name><type>${type}</type></key><value xsi:type="xs:string">${value}</value></entry>`;
  return [
    '<ns2:local xmlns:ns2="http://com.sap.it.op.mpl" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema">',
    `  <mplId>${guid}</mplId>`,
    '  <properties>',
    entry('ContextName', 'java.lang.String', o.iflow),
    entry('OverallStatus', 'java.lang.String', o.status),
    entry('StartTime', 'java.util.Date', o.start),
    ...(o.error
      ? [entry('LastError', 'java.lang.String', o.error.replaceAll('&', '&amp;').replaceAll('<', '&lt;'))]
      : []),
    '  </properties>',
    '</ns2:local>',
  ].join('\n');
}

const XML = [
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
  '<mpls>',
  local('AGk_000001', {
    iflow: 'Orders_to_S4',
    status: 'FAILED',
    start: '2026-11-24T08:00:05.123Z',
    error: PKIX,
  }),
  local('AGk_000002', { iflow: 'Orders_to_S4', status: 'COMPLETED', start: '2026-11-24T08:01:05.123Z' }),
  local('AGk_000003', {
    iflow: 'Invoices_SFTP',
    status: 'FAILED',
    start: '2026-11-24T08:02:05.123Z',
    error: 'com.jcraft.jsch.JSchException: Auth fail',
  }),
  '</mpls>',
  '',
].join('\n');

/** The same messages as OData JSON. */
const JSON_EXPORT = JSON.stringify({
  d: {
    results: [
      {
        MessageGuid: 'AGk_000001',
        IntegrationFlowName: 'Orders_to_S4',
        Status: 'FAILED',
        LogStart: '/Date(1795507205123)/',
        ErrorInformation: PKIX,
      },
      {
        MessageGuid: 'AGk_000002',
        IntegrationFlowName: 'Orders_to_S4',
        Status: 'COMPLETED',
        LogStart: '/Date(1795507265123)/',
      },
      {
        MessageGuid: 'AGk_000003',
        IntegrationFlowName: 'Invoices_SFTP',
        Status: 'FAILED',
        LogStart: '/Date(1795507325123)/',
        ErrorInformation: 'com.jcraft.jsch.JSchException: Auth fail',
      },
    ],
  },
});

interface Line {
  record?: number;
  iflow?: string;
  messageGuid?: string;
  diagnosis?: { id: string };
}
const lines = (stdout: string): Line[] =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
const shape = (ls: Line[]) => ls.map((l) => [l.record, l.iflow, l.messageGuid, l.diagnosis?.id ?? null]);

test('an XML .mpl export is read as the OData JSON is: the same incidents, flows, ids and diagnoses', () => {
  const xml = runCli(['scan', '--jsonl', file('export.mpl', XML)]);
  assert.equal(xml.status, 1, xml.stderr);
  assert.equal(xml.stderr, '');
  const json = runCli(['scan', '--jsonl', file('export.json', JSON_EXPORT)]);
  assert.deepEqual(shape(lines(xml.stdout)), shape(lines(json.stdout)));
  assert.deepEqual(shape(lines(xml.stdout)), [
    [1, 'Orders_to_S4', 'AGk_000001', 'out-cert-path'],
    [3, 'Invoices_SFTP', 'AGk_000003', 'out-sftp'],
  ]);
  // Standard input, and the human report's example place.
  const human = runCli(['scan', '-'], { input: XML });
  assert.match(human.stdout, /integration flow Orders_to_S4 +2026-11-24T08:00:05\.123Z/);
  assert.match(human.stdout, /example - record 1 \(line \d+\) \(message AGk_000001\)/);
});

test('a truncated .mpl: exit 2, the line where it ends and how many records were read', () => {
  const cut = XML.slice(0, XML.indexOf('<mplId>AGk_000003') + 20);
  const r = runCli(['scan', '--jsonl', file('cut.mpl', cut)]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(lines(r.stdout).length, 1, 'the failed message before the cut is still reported');
  assert.match(
    r.stderr,
    /^linkdoctor: \S*cut\.mpl:\d+: the XML ends early, a truncated file \(unclosed tag: [\w:]+\): 2 records were read before it, the rest is not scanned\n$/,
  );
  const bad = runCli(['scan', file('bad.mpl', XML.replace('</properties>', '</propertys>'))]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.mpl:\d+: the XML breaks off \(.*\): 0 records were read before it/);
});

test('a truncated HAR and a JSON document that breaks off: exit 2 with what was read', () => {
  const har = JSON.stringify({
    log: {
      version: '1.2',
      creator: { name: 'test', version: '1' },
      entries: [
        {
          startedDateTime: '2026-11-24T08:00:00Z',
          request: { method: 'GET', url: 'https://api.example.com/a' },
          response: {
            status: 401,
            statusText: 'Unauthorized',
            headers: [{ name: 'WWW-Authenticate', value: 'Basic realm="x"' }],
          },
        },
        {
          startedDateTime: '2026-11-24T08:00:01Z',
          request: { method: 'GET', url: 'https://api.example.com/b' },
          response: { status: 200, statusText: 'OK', headers: [] },
        },
      ],
    },
  });
  const r = runCli([
    'scan',
    '--jsonl',
    file('cut.har', har.slice(0, har.indexOf('"https://api.example.com/b"'))),
  ]);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(lines(r.stdout).length, 1);
  assert.match(
    r.stderr,
    /cut\.har:1 \(byte \d+\): the JSON ends early inside "log\.entries\[\]\.request", a truncated file: 1 record was read before it/,
  );

  const broken = runCli(['scan', '-'], { input: '{"broken": ' });
  assert.equal(broken.status, 2);
  assert.match(
    broken.stderr,
    /^linkdoctor: -:1 \(byte 11\): the JSON ends early, a truncated file: 0 records were read before it, the rest is missing\n$/,
  );
  // A JSON-lines application log is a text log: it is scanned, not refused.
  const appLog = runCli(['scan', '-'], {
    input: '{"level":"info","msg":"started"}\n{"level":"info","msg":"ok"}\n',
  });
  assert.equal(appLog.status, 0, appLog.stderr);
  const notJson = runCli(['scan', '--format', 'mpl', '-'], { input: 'hello there\n' });
  assert.equal(notJson.status, 2);
  assert.match(notJson.stderr, /is not the JSON it should be: no record could be read/);
});

test('a single-entity MPL answer {"d":{...}} is scanned as one record; an export of no MPL at all exits 2 (S7)', () => {
  // What GET MessageProcessingLogs('<guid>') answers (monitoring-tools.md §C, "single entity").
  const single = runCli([
    'scan',
    '--jsonl',
    file(
      'single.json',
      JSON.stringify({
        d: {
          MessageGuid: 'S1',
          Status: 'FAILED',
          ErrorInformation: 'com.jcraft.jsch.JSchException: Auth fail',
        },
      }),
    ),
  ]);
  assert.equal(single.status, 1, single.stderr);
  assert.equal(single.stderr, '');
  const inc = JSON.parse(single.stdout.trim()) as { messageGuid: string; diagnosis: { id: string } };
  assert.equal(inc.messageGuid, 'S1');
  assert.equal(inc.diagnosis.id, 'out-sftp');
  // Records were read and none is an MPL: nothing was scanned, which is not "all good".
  const foreign = runCli(['scan', file('foreign.json', '{"d":{"results":[{"a":1},{"b":2}]}}')]);
  assert.equal(foreign.status, 2);
  assert.match(
    foreign.stderr,
    /foreign\.json: none of its 2 records is a message processing log: nothing was scanned\n$/,
  );
});

test('an HTML page or a JSON document that is no export: one sentence, exit 2, not "No incident found" (S8)', () => {
  const page = runCli([
    'scan',
    file('page.html', '<!DOCTYPE html>\n<html><head><title>Log On</title></head><body>Login</body></html>\n'),
  ]);
  assert.equal(page.status, 2);
  assert.match(
    page.stderr,
    /^linkdoctor: \S*page\.html: is an HTML page \("Log On"\), not a log or an export \(a login page saved instead of the API's answer\?\): nothing was scanned\n$/,
  );
  const pkg = runCli([
    'scan',
    file('package.json', JSON.stringify({ name: 'x', version: '1.0.0' }, null, 2)),
  ]);
  assert.equal(pkg.status, 2);
  assert.match(
    pkg.stderr,
    /package\.json: is JSON but neither a message processing log export \(d\.results, MessageGuid\) nor a HAR file: nothing was scanned \(--format text reads it as a text log\)\n$/,
  );
  // Said so, it is read as a text log; and JSON lines stay a text log without being said so.
  assert.equal(runCli(['scan', '--format', 'text', join(dir, 'package.json')]).status, 0);
  const lines = runCli(['scan', '-'], { input: '{"level":"error","msg":"a"}\n{"level":"info","msg":"b"}\n' });
  assert.equal(lines.stderr, '');
});

test('a paged OData export: that only its first page was scanned is said, and a count that differs (S2)', () => {
  const page = {
    d: {
      __count: '1500',
      results: [
        { MessageGuid: 'a', Status: 'FAILED', ErrorInformation: 'com.jcraft.jsch.JSchException: Auth fail' },
        { MessageGuid: 'b', Status: 'COMPLETED' },
      ],
      __next: "https://tenant/api/v1/MessageProcessingLogs?$skiptoken=1000&$filter=Status eq 'FAILED'",
    },
  };
  const json = runCli(['scan', '--jsonl', file('page.json', JSON.stringify(page))]);
  assert.equal(json.status, 2);
  assert.equal(json.stdout.trim().split('\n').length, 1, 'the page read is still scanned');
  assert.match(
    json.stderr,
    /^linkdoctor: \S*page\.json: is one page of a longer answer \(it has a __next link to the next page, and counts 1500 messages\): 2 records were read, the next pages were not scanned \(linkdoctor tenant failures reads every page\)\n$/,
  );
  // OData v4 (a numeric count, no next link): the count against the records read.
  const v4 = runCli([
    'scan',
    file('v4.json', JSON.stringify({ '@odata.count': 5, value: [page.d.results[0]] })),
  ]);
  assert.equal(v4.status, 2);
  assert.match(
    v4.stderr,
    /v4\.json: counts 5 messages but 1 record was read: the rest is not in this export\n$/,
  );
  // The Atom feed: <m:count> and <link rel="next"> of the feed.
  const atom = readFileSync(join(import.meta.dirname, 'fixtures', 'mpl-atom.xml'), 'utf8')
    .replace('<title type="text">MessageProcessingLogs</title>', '<m:count>2400</m:count>$&')
    .replace('</feed>', '<link rel="next" href="MessageProcessingLogs?$skiptoken=1000"/></feed>');
  const xml = runCli(['scan', file('page.xml', atom)]);
  assert.equal(xml.status, 2);
  assert.match(
    xml.stderr,
    /page\.xml: is one page of a longer answer \(it has a <link rel="next"> link to the next page, and counts 2400 messages\): \d+ records were read, the next pages were not scanned/,
  );
  // A whole answer (count = records, no next link) says nothing.
  const whole = runCli([
    'scan',
    file('whole.json', JSON.stringify({ d: { __count: '2', results: page.d.results } })),
  ]);
  assert.equal(whole.status, 1, whole.stderr);
  assert.equal(whole.stderr, '');
});

test('an MPL error text longer than 64 KB: that only its first 64 KB was read is said, as for a text line (S4)', () => {
  const text = `${'x'.repeat(100_000)} com.jcraft.jsch.JSchException: Auth fail`;
  const json = runCli([
    'scan',
    '--jsonl',
    file(
      'mid.json',
      JSON.stringify({ d: { results: [{ MessageGuid: 'H1', Status: 'FAILED', ErrorInformation: text }] } }),
    ),
  ]);
  assert.equal(json.status, 1);
  assert.match(
    json.stderr,
    /^linkdoctor: \S*mid\.json record 1 \(line 1, byte \d+\): an error text of more than 64 KB: only its first 64 KB was read\n$/,
  );
  const atom = readFileSync(join(import.meta.dirname, 'fixtures', 'mpl-atom.xml'), 'utf8').replace(
    /(<d:MessageGuid>AGk_xKgivsDaGSUpuvz-eEFzhKZO<\/d:MessageGuid>)/,
    `$1<d:LastError>${text}</d:LastError>`,
  );
  const xml = runCli(['scan', file('mid.xml', atom)]);
  assert.match(
    xml.stderr,
    /mid\.xml record 1 \(line \d+\): an error text of more than 64 KB: only its first 64 KB was read\n/,
  );
  // A short one says nothing.
  assert.equal(
    runCli([
      'scan',
      file(
        'short.json',
        JSON.stringify({
          d: { results: [{ MessageGuid: 'H2', Status: 'FAILED', ErrorInformation: 'Auth fail' }] },
        }),
      ),
    ]).stderr,
    '',
  );
});

test('--markdown: foreign text renders no HTML (<, > and & as entities), pipes escaped (S9)', () => {
  const weird = 'weird failure | with pipe & `backtick` <b>bold</b> <img src=https://x.example/p.png>';
  const md = runCli([
    'scan',
    '--markdown',
    file(
      'esc<b>.json',
      JSON.stringify({ d: { results: [{ MessageGuid: 'E1', Status: 'FAILED', ErrorInformation: weird }] } }),
    ),
  ]);
  assert.equal(md.status, 1, md.stderr);
  assert.doesNotMatch(md.stdout, /<b>|<img|<\/b>/);
  assert.match(
    md.stdout,
    /\| weird failure \\\| with pipe &amp; `backtick` &lt;b&gt;bold&lt;\/b&gt; &lt;img src=https:\/\/&lt;host&gt;\/p\.png&gt; \| 1 \| \S*esc&lt;b&gt;\.json record 1 \(line 1\) \|/,
  );
});
