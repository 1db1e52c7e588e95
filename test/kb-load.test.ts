import assert from 'node:assert/strict';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDirs, widgetEntry } from './helpers.js';
import { diagnose } from '../src/diagnose/match.js';
import { lintKb } from '../src/kb/lint.js';
import { formatProblem, KbError, loadKb } from '../src/kb/load.js';

const tempDir = tempDirs();
const entry = widgetEntry;

function folder(files: Record<string, string>): string {
  const dir = tempDir('ld-kb-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('a user folder adds entries without code, and they are diagnosed like built-in ones', async () => {
  const dir = folder({ 'widget-gw-refused.yaml': entry('widget-gw-refused') });
  process.env.XDG_CACHE_HOME = tempDir('ld-cache-');
  const kb = await loadKb({ dirs: [dir], builtin: false });
  const r = diagnose(kb, { text: 'upstream said WIDGET-GW-0042 (HTTP/1.1 418)' });
  assert.equal(r.diagnoses[0]?.id, 'widget-gw-refused');
  // 0.9 and 0.4 as independent evidence: 1 - 0.1 * 0.6 = 0.94
  assert.equal(r.diagnoses[0]?.confidence, 0.94);
  assert.deepEqual(
    r.diagnoses[0]?.evidence.map((e) => e.text),
    ['WIDGET-GW-0042', 'HTTP/1.1 418'],
  );
  assert.equal(diagnose(kb, { text: 'all fine here' }).diagnoses.length, 0);
});

test('the cache is used while the files are unchanged and rebuilt when one changes', async () => {
  process.env.XDG_CACHE_HOME = tempDir('ld-cache-');
  const dir = folder({ 'widget-gw-refused.yaml': entry('widget-gw-refused') });
  await loadKb({ dirs: [dir], builtin: false });
  const cacheDir = join(process.env.XDG_CACHE_HOME, 'linkdoctor');
  const { readdirSync } = await import('node:fs');
  const [cacheName] = readdirSync(cacheDir);
  assert.ok(cacheName?.endsWith('.json'));
  const cacheText = readFileSync(join(cacheDir, cacheName!), 'utf8');
  // A line of matching data, then the entry's guidance on a line of its own, read when shown.
  const [head, guidance, rest] = cacheText.split('\n');
  const cached = JSON.parse(head!);
  assert.equal(cached.entries[0].id, 'widget-gw-refused');
  assert.equal(cached.entries[0].summary, undefined);
  assert.match(JSON.parse(guidance!).summary, /\S/);
  assert.equal(rest, '');
  // A cache cut short is rebuilt: the entry and its guidance load whole.
  writeFileSync(join(cacheDir, cacheName!), cacheText.slice(0, -20));
  const again = await loadKb({ dirs: [dir], builtin: false });
  assert.equal(again.entries[0]?.summary, JSON.parse(guidance!).summary);
  assert.equal(readFileSync(join(cacheDir, cacheName!), 'utf8'), cacheText);
  // Change the entry: the new title must be seen, not the cached one.
  const file = join(dir, 'widget-gw-refused.yaml');
  writeFileSync(file, entry('widget-gw-refused').replace('refuses the call', 'drops the call'));
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const kb = await loadKb({ dirs: [dir], builtin: false });
  assert.equal(kb.entries[0]?.title, 'Widget gateway drops the call');
});

test('a bad folder is a KbError naming file and field, never a crash', async () => {
  const dir = folder({
    'broken-yaml.yaml': 'id: broken-yaml\ntitle: [unclosed\n',
    'bad-regex.yaml': entry('bad-regex').replace("'WIDGET-GW-0042'", "'(unclosed'"),
    'wrong-name.yaml': entry('other-id'),
    'no-examples.yaml': entry('no-examples').replace(/examples:[\s\S]*$/, ''),
    'ambiguous.yaml': entry('ambiguous').replace("'WIDGET-GW-0042'", "'WIDGET-GW-(?:\\w+\\s?)+0042'"),
  });
  await assert.rejects(loadKb({ dirs: [dir], builtin: false }), (e: unknown) => {
    assert.ok(e instanceof KbError);
    const msg = e.message;
    assert.match(msg, /broken-yaml\.yaml:3:1: not valid YAML: Flow sequence/);
    assert.match(msg, /bad-regex\.yaml:\d+: symptoms\[0\]\.pattern: not a valid regular expression/);
    assert.match(msg, /wrong-name\.yaml:1: id: id "other-id" differs from the file name/);
    assert.match(msg, /no-examples\.yaml:1: examples: is missing/);
    assert.match(
      msg,
      /ambiguous\.yaml:\d+: symptoms\[0\]\.pattern: the repeated group \(\?:\\w\+\\s\?\)\+ can cut/,
    );
    return true;
  });
});

test('kb lint and load refuse a repeated group whose alternatives overlap, in the sentence of nested quantifiers; the built-in knowledge base still loads (attack S12 A6)', async () => {
  const dir = folder({
    'overlap.yaml': entry('overlap').replace("'WIDGET-GW-0042'", "'WIDGET-GW-(\\w|\\d)+:'"),
  });
  const lint = runCli(['kb', 'lint', dir]);
  assert.equal(lint.status, 1, lint.stdout + lint.stderr);
  assert.match(
    lint.stdout.replace(/\n(?!\/|warning|\d)/g, ' '),
    /overlap\.yaml:\d+: symptoms\[0\]\.pattern: the repeated group \(\\w\|\\d\)\+ has alternatives that can match the same text \(\\w and \\d\), so it can cut one text into its repetitions in very many ways/,
  );
  // diagnose --kb refuses the folder before any text is matched: nothing hangs on 40 digits.
  const d = runCli(['diagnose', '--kb', dir, `ERROR WIDGET-GW-${'1'.repeat(40)} failed`], {
    timeout: 20_000,
  });
  assert.equal(d.status, 2, d.stderr);
  assert.match(d.stderr, /has alternatives that can match the same text/);
  const builtin = await loadKb();
  assert.ok(builtin.entries.length >= 44);
});

test("kb lint: every schema problem at its line, in sentences, in the file's order; an id that is not the file name even when the rest is wrong (attack K1)", async () => {
  const dir = folder({
    'widget.yaml': [
      'id: other',
      'title: 3',
      'direction: sideways',
      "summary: ''",
      'symptoms:',
      "  - pattern: 'x'",
      '    weight: 2',
      '    colour: red',
      'causes:',
      '  - 5',
      '  - text: a',
      '    idd: x',
      'checks: []',
      'fixes: [a]',
      'references:',
      '  - { title: t, url: "ftp://x" }',
      'examples:',
      '  match: [a]',
      '  noMatch: [a, b]',
      '',
    ].join('\n'),
  });
  const report = await lintKb(dir);
  assert.deepEqual(
    report.problems.map((p) => formatProblem({ ...p, file: basename(p.file) })),
    [
      'widget.yaml:1: id: id "other" differs from the file name',
      'widget.yaml:2: title: is a text, not the number 3',
      'widget.yaml:3: direction: is one of inbound, outbound or any, not "sideways"',
      'widget.yaml:4: summary: is empty',
      'widget.yaml:7: symptoms[0].weight: is at most 1, not the number 2',
      'widget.yaml:8: symptoms[0].colour: is not a field here',
      'widget.yaml:10: causes[0]: is a text or a map, not the number 5',
      'widget.yaml:12: causes[1].idd: is not a field here; did you mean id?',
      'widget.yaml:13: checks: is an empty list: give at least one',
      'widget.yaml:16: references[0].url: is an http:// or https:// address, not "ftp://x"',
      'widget.yaml:18: examples.match: at least 3 texts the entry must match',
    ],
  );
});

test('kb lint runs each entry’s examples and reports the ones that fail', async () => {
  const bad = entry('widget-gw-refused').replace(
    "- 'error WIDGET-GW-0042 from gateway'",
    "- 'a text with no code at all'",
  );
  const dir = folder({ 'widget-gw-refused.yaml': bad, 'dup.yaml': entry('dup'), 'dup2.yaml': entry('dup') });
  const report = await lintKb(dir);
  const lines = report.problems.map((p) => `${p.file.replace(dir + '/', '')}: ${p.field}: ${p.message}`);
  assert.ok(
    lines.includes(
      'widget-gw-refused.yaml: examples.match[2]: nothing matched it, though widget-gw-refused should',
    ),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.startsWith('dup2.yaml: id: "dup" is already defined in')),
    lines.join('\n'),
  );
});

test('an id defined twice across folders is refused', async () => {
  const a = folder({ 'same-id.yaml': entry('same-id') });
  const b = folder({ 'same-id.yaml': entry('same-id') });
  await assert.rejects(loadKb({ dirs: [a, b], builtin: false }), /"same-id" is already defined in/);
});
