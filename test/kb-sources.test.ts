// Sources of the knowledge base's statements (issue 15): the format (`seed`, `inference`, a page,
// an SAP note), kb lint's warnings (a statement without sources, a draft or preview link), and
// `kb show` printing them under each statement (text) or as {text, sources} objects (--json).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDraftLink, lintKb } from '../src/kb/lint.js';
import { readEntries } from '../src/kb/load.js';
import { runCli, tempDirs } from './helpers.js';

const tempDir = tempDirs();
const entry = (id: string, statements: string, extra = '') => `id: ${id}
title: Widget gateway refuses the call
direction: outbound
summary: The widget gateway in front of the receiver refused the call.
symptoms:
  - pattern: 'WIDGET-GW-0042'
    weight: 0.9
${statements}
references: [{ title: Widget gateway manual, url: 'https://widgets.example.com/manual' }]
examples:
  match: ['WIDGET-GW-0042 no route', 'HTTP/1.1 418 WIDGET-GW-0042', 'error WIDGET-GW-0042 from gateway']
  noMatch: ['HTTP/1.1 200 OK', 'PKIX path building failed']
${extra}`;

const sourced = `causes:
  - text: The gateway has no route for the called path.
    sources:
      - { title: Widget gateway manual - Routes, url: 'https://widgets.example.com/manual/routes' }
      - { note: '2124480' }
checks:
  - text: Call the gateway's health page.
    probe: http
    sources: [inference]
fixes:
  - text: Add a route for the path in the gateway.
    sources: [{ note: '3062478', title: 'FAQ: SFTP adapter in SAP Cloud Integration' }]`;

function folder(files: Record<string, string>): string {
  const dir = tempDir('ld-kbsrc-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('sources: a page, an SAP note, inference; a statement with all of them lints without warning', async () => {
  const dir = folder({ 'widget-gw.yaml': entry('widget-gw', sourced) });
  const { entries, problems } = await readEntries(dir);
  assert.deepEqual(problems, []);
  assert.deepEqual(entries[0]!.causes[0]!.sources, [
    { title: 'Widget gateway manual - Routes', url: 'https://widgets.example.com/manual/routes' },
    { note: '2124480' },
  ]);
  const report = await lintKb(dir);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.warnings, []);
});

test('kb lint warns on a statement without sources and on a draft link, and still passes', async () => {
  const plain = `causes: [The gateway has no route for the called path.]
checks: [{ text: Call the gateway's health page., probe: http, sources: [inference] }]
fixes:
  - text: Add a route for the path in the gateway.
    sources: [{ title: Routes, url: 'https://help.sap.com/docs/x/y/routes?state=DRAFT&version=DEV' }]`;
  const dir = folder({ 'widget-gw.yaml': entry('widget-gw', plain) });
  const report = await lintKb(dir);
  assert.deepEqual(report.problems, []);
  const lines = report.warnings.map((w) => `${w.field}: ${w.message}`);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /^causes\[0\]: no sources/);
  assert.match(lines[1]!, /^fixes\[0\]\.sources\[0\]: links a draft or preview page/);
  const r = runCli(['kb', 'lint', dir]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /warning: .*causes\[0\]: no sources/);
  assert.match(r.stdout, /0 problems, 2 warnings/);
});

test('draft and preview links are told from published ones', () => {
  assert.ok(isDraftLink('https://help.sap.com/docs/cloud-integration/x?state=DRAFT&version=DEV'));
  assert.ok(isDraftLink('https://help.sap.com/docs/cloud-integration/x?version=DEV'));
  assert.ok(isDraftLink('https://help.sap.com/viewer/abc/Cloud/en-US/x.html?state=PREVIEW'));
  assert.ok(isDraftLink('https://example.com/preview/page'));
  assert.ok(!isDraftLink('https://help.sap.com/docs/cloud-integration/x?version=Cloud'));
  assert.ok(!isDraftLink('https://community.sap.com/t5/technology-blogs-by-sap/previewing-things/ba-p/1'));
});

test('a wrong source is a problem: a short note number, a seed citation outside a seed entry', async () => {
  const bad = sourced.replace("{ note: '2124480' }", "{ note: '2124' }");
  const { problems } = await readEntries(folder({ 'widget-gw.yaml': entry('widget-gw', bad) }));
  assert.match(
    problems.map((p) => `${p.field}: ${p.message}`).join('\n'),
    /causes\[0\]\.sources\[1\]\.note: an SAP note number/,
  );
  const seedless = sourced.replace('sources: [inference]', 'sources: [seed]');
  const report = await lintKb(folder({ 'widget-gw.yaml': entry('widget-gw', seedless) }));
  assert.deepEqual(
    report.problems.map((p) => `${p.field}: ${p.message}`),
    ['checks[0].sources[0]: cites the seed, but the entry is no seed row'],
  );
});

test('kb show prints the sources under each statement; --json gives {text, sources} objects', () => {
  const dir = folder({ 'widget-gw.yaml': entry('widget-gw', sourced) });
  const env = { XDG_CACHE_HOME: tempDir('ld-cache-') };
  const r = runCli(['kb', 'show', 'widget-gw', '--kb', dir], { env });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const at = lines.findIndex((l) => l.includes('The gateway has no route'));
  assert.match(
    lines[at + 1]!,
    /^\s+source: Widget gateway manual - Routes <https:\/\/widgets\.example\.com\/manual\/routes>$/,
  );
  assert.match(lines[at + 2]!, /^\s+source: SAP note 2124480$/);
  const fix = lines.findIndex((l) => l.includes('Add a route'));
  assert.match(lines[fix + 1]!, /source: SAP note 3062478: FAQ: SFTP adapter in SAP Cloud Integration/);
  const check = lines.findIndex((l) => l.includes('health page'));
  assert.match(lines[check + 1]!, /source: inference/);

  const j = runCli(['kb', 'show', 'widget-gw', '--kb', dir, '--json'], { env });
  const e = JSON.parse(j.stdout) as Record<string, { text: string; sources: unknown[] }[]>;
  assert.deepEqual(e.checks, [
    { text: "Call the gateway's health page.", probe: 'http', sources: ['inference'] },
  ]);
  assert.equal(e.causes![0]!.sources.length, 2);
  // A built-in entry statement comes as an object with its list of sources.
  const builtin = JSON.parse(runCli(['kb', 'show', 'dns-failure', '--json'], { env }).stdout) as typeof e;
  for (const list of ['causes', 'fixes', 'checks'])
    for (const x of builtin[list]!) assert.ok(typeof x.text === 'string' && Array.isArray(x.sources), list);
});

test('a diagnosis carries no sources: they are guidance for kb show, not matching data', () => {
  const dir = folder({ 'widget-gw.yaml': entry('widget-gw', sourced) });
  const env = { XDG_CACHE_HOME: tempDir('ld-cache-') };
  const r = runCli(['diagnose', '--kb', dir, '--json'], { env, input: 'error WIDGET-GW-0042 from gateway' });
  assert.doesNotMatch(r.stdout, /sources|2124480/);
  assert.match(r.stdout, /widget-gw/);
});

/** Entries whose every cause, fix and check has sources (issue 15): all 41 of the shipped knowledge base. */
const SOURCED = [
  'connection-reset',
  'dns-failure',
  'ftp-failure',
  'http-gateway-error',
  'http-redirect-loop',
  'in-authorization-check',
  'in-cert-validity',
  'in-date-header',
  'in-http-401',
  'in-http-403',
  'in-http-404',
  'in-http-503',
  'in-icm-connection-failed',
  'in-not-active-subaccount',
  'in-request-not-reaching',
  'in-srt-soap-runtime',
  'in-ssslerr-untrusted',
  'network-timeout',
  'oauth-token-failure',
  'out-411-empty-post',
  'out-cert-expired',
  'out-cert-path',
  'out-client-cert-rejected',
  'out-csrf-403',
  'out-fsm-sequential-smtp',
  'out-http-400',
  'out-http-401',
  'out-http-403-cloud-connector',
  'out-http-404',
  'out-http-429',
  'out-http-500',
  'out-http-503',
  'out-http-redirect',
  'out-osci-conversion',
  'out-sftp',
  'out-successfactors-adapter',
  'out-successfactors-webservice',
  'proxy-error',
  'smtp-auth-failed',
  'smtp-starttls-required',
  'tcp-connection-refused',
  'tls-handshake-failure',
  'tls-hostname-mismatch',
  'wrong-scheme',
];

test('the shipped knowledge base: every entry is listed and sourced, no statement lacks sources, no link is a draft', async () => {
  const { BUILTIN_KB } = await import('../src/kb/load.js');
  const { entries } = await readEntries(BUILTIN_KB);
  assert.deepEqual(entries.map((e) => e.id).sort(), [...SOURCED].sort(), 'SOURCED lists every shipped entry');
  for (const e of entries)
    for (const [list, xs] of [
      ['causes', e.causes],
      ['fixes', e.fixes],
      ['checks', e.checks],
    ] as const)
      xs.forEach((x, i) =>
        assert.ok((x.sources ?? []).length > 0, `${e.id} ${list}[${i}] has no sources: ${x.text}`),
      );
  const report = await lintKb(BUILTIN_KB);
  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.warnings, [], 'kb lint is clean: no unsourced statement, no draft or preview link');
});
