// The terminal report of a diagnosis: it fits a screen by default (the README's one-line examples in
// 25 lines or fewer, the named cause's fixes first), and --full gives every cause, fix and reference.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadKb } from '../src/kb/load.js';
import { ROOT, runCli } from './helpers.js';
import type { ProbeResult } from '../src/types.js';

const kb = await loadKb();
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The README's `$ linkdoctor diagnose "..."` examples, each with the output it shows. */
const examples = [...readme.matchAll(/^\$ linkdoctor diagnose "([^"\n]+)"\n([\s\S]*?)\n```/gm)].map(
  ([, text, shown]) => ({
    text: text!,
    shown: shown!,
  }),
);

test('the README shows one-line diagnose examples', () =>
  assert.ok(examples.length >= 3, `${examples.length}`));

for (const { text, shown } of examples)
  test(`README example is what diagnose prints, and fits a screen: ${text.slice(0, 50)}`, () => {
    const r = runCli(['diagnose', text]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trimEnd(), shown, 'the README shows what the command prints today');
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.length <= 25, `${lines.length} lines:\n${r.stdout}`);
    assert.ok(
      lines.every((l) => [...l].length <= 100),
      'no line wider than 100 columns',
    );
    assert.match(r.stdout, /--full/, 'it says how to see the rest');
  });

test('--full prints every cause, fix and reference of the entry', () => {
  const text = 'com.jcraft.jsch.JSchException: Auth fail';
  const full = runCli(['diagnose', '--full', text]).stdout.replace(/\s+/g, ' ');
  const entry = kb.byId.get('out-sftp')!;
  for (const x of [...entry.causes, ...entry.fixes, ...entry.checks])
    assert.ok(
      full.includes(x.text.replace(/\s+/g, ' ').slice(0, 60)),
      `--full shows: ${x.text.slice(0, 60)}`,
    );
  for (const r of entry.references) assert.ok(full.includes(r.url), r.url);
});

test("the compact report names the cause and gives that cause's fixes, not another cause's", () => {
  const r = runCli(['diagnose', 'com.jcraft.jsch.JSchException: Auth fail']);
  const entry = kb.byId.get('out-sftp')!;
  const cause = entry.causes.find((c) => c.id === 'login-refused')!;
  assert.match(r.stdout, new RegExp(`cause ${cause.title}`));
  const flat = r.stdout.replace(/\s+/g, ' ');
  for (const f of entry.fixes) {
    const shown = flat.includes(f.text.replace(/\s+/g, ' ').slice(0, 50));
    if (f.for?.includes('login-refused')) assert.ok(shown, `its own fix is shown: ${f.text.slice(0, 50)}`);
    else if (f.for) assert.ok(!shown, `another cause's fix is not: ${f.text.slice(0, 50)}`);
  }
  const json = JSON.parse(runCli(['diagnose', '--json', 'com.jcraft.jsch.JSchException: Auth fail']).stdout);
  assert.deepEqual(json.diagnoses[0].cause, { id: 'login-refused', title: cause.title });
});

test('a text that names no cause says so, and --json has no cause', () => {
  const r = runCli(['diagnose', 'Request failed with status 401 Unauthorized']);
  assert.match(r.stdout, /cause +not told by this text/);
  const json = JSON.parse(
    runCli(['diagnose', '--json', 'Request failed with status 401 Unauthorized']).stdout,
  );
  assert.equal(json.diagnoses[0].cause, undefined);
});

test("the demo ends a scenario whose steps passed as probe ends its run: a warning is said, not 'all steps passed'", async () => {
  const { scenarioLines } = await import('../src/cli/demo.js');
  const { renderProbe } = await import('../src/report/probe.js');
  const { colorsFor } = await import('../src/report/text.js');
  const c = colorsFor({ isTTY: false } as NodeJS.WriteStream);
  const result: ProbeResult = {
    target: 'sftp://127.0.0.1:2222/',
    direction: 'outbound',
    ok: true,
    steps: [
      { name: 'dns', ok: true, ms: 1, detail: '127.0.0.1 (an address: nothing to resolve)' },
      { name: 'tcp', ok: true, ms: 1, detail: 'connected to 127.0.0.1:2222' },
      {
        name: 'ssh',
        ok: true,
        ms: 9,
        detail: 'SSH-2.0-OpenSSH_9.6',
        warning: 'the host key was not checked (give --known-hosts FILE)',
      },
    ],
    diagnoses: [],
    signals: [],
  };
  const scenario = { name: 'sftp-x', url: result.target, probeArgs: [], reproduces: 'a test', expect: '' };
  const demo = scenarioLines(scenario, result, c).join('\n');
  assert.match(
    demo,
    /^ {3}! No step failed, but one passed with a warning:\n {5}ssh: the host key was not checked/m,
  );
  assert.doesNotMatch(demo, /all steps passed/i);
  // The same sentence as the probe's own end.
  const probeEnd = renderProbe(result, c).trimEnd().split('\n').slice(-2);
  assert.deepEqual(
    demo
      .split('\n')
      .slice(2, 4)
      .map((l) => l.trim()),
    probeEnd.map((l) => l.trim()),
  );
  // Without a warning: probe's "All steps passed." there too.
  const clean = { ...result, steps: result.steps.map(({ warning: _w, ...s }) => s) };
  assert.match(scenarioLines(scenario, clean, c).join('\n'), /^ {3}✔ All steps passed\.$/m);
});
