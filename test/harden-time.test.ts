// No text makes the matcher backtrack without end (issue 9): every generated adversarial text of
// 256 KB is diagnosed, and a trace of 20,000 "Caused by" lines too. How fast is the benchmark's
// business (bench/adversarial.bench.mjs prints the worst time per MB); the bound here only says
// "it ends", generous enough for a loaded machine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../src/diagnose/match.js';
import { ambiguousRepetition, boundRepetitions } from '../src/kb/bounded.js';
import { READER_PATTERNS } from '../src/diagnose/signals.js';
import { loadKb } from '../src/kb/load.js';
import { adversarialTexts } from './adversarial-text.js';

const kb = await loadKb();
/** Far above the benchmark's figures (tens of ms per 256 KB): only a runaway pattern takes this long. */
const ENDS_WITHIN_MS = 5000;

test('every adversarial text of 256 KB is diagnosed, none takes seconds', () => {
  let worst: [number, string] = [0, ''];
  for (const [name, text] of adversarialTexts(256 * 1024)) {
    const started = performance.now();
    diagnose(kb, { text });
    const ms = performance.now() - started;
    if (ms > worst[0]) worst = [ms, name];
  }
  assert.ok(worst[0] < ENDS_WITHIN_MS, `worst ${worst[0].toFixed(0)} ms: ${worst[1]}`);
});

test('a trace with 20,000 "Caused by" lines: every signal once, the innermost exception as the fact', () => {
  const text = Array.from(
    { length: 20000 },
    (_, i) => `Caused by: ${i % 2 ? 'java.io.IOException' : 'javax.net.ssl.SSLException'}: step ${i}`,
  ).join('\n');
  const started = performance.now();
  const r = diagnose(kb, { text });
  assert.ok(performance.now() - started < ENDS_WITHIN_MS);
  assert.equal(r.facts.exception, 'java.io.IOException');
  assert.equal(r.signals.filter((s) => s.type === 'exception').length, 20000);
});

test('open repetitions are bounded, the rest of the syntax kept', () => {
  assert.equal(boundRepetitions('HTTP[\\s_-]*\\s+x'), 'HTTP[\\s_-]{0,16}\\s{1,16}x');
  assert.equal(boundRepetitions('(?:[a-z]+\\.)+[A-Z]'), '(?:[a-z]{1,300}\\.){1,32}[A-Z]');
  assert.equal(boundRepetitions('a.*?b[^;]+c\\w*'), 'a.{0,300}?b[^;]{1,300}c\\w{0,64}');
  // Escapes, literal characters and classes holding * or ] are left alone.
  assert.equal(boundRepetitions('\\\\s*a+\\*[\\]*]x'), '\\\\s*a+\\*[\\]*]x');
  assert.equal(boundRepetitions('x(?=\\s*;)'), 'x(?=\\s{0,16};)');
});

test('a repeated group that can cut a text in many ways is found; one with a delimiter its runs cannot match is not', () => {
  // Bounding cannot save these: the ways to cut a long word into up to 32 pieces never end.
  for (const p of [
    'x(?:\\w+\\s?)+y',
    '(a+)+',
    '(?:\\s*\\w+)*',
    '(?:a|b+)+',
    '(?:\\d+){2,}',
    '(?:[a-z]+(?:-[a-z]+)?)+',
  ])
    assert.ok(ambiguousRepetition(p), p);
  for (const p of [
    '(?:[a-z]+\\.)+',
    '(?:_[A-Z]+)+',
    '(?:ab)+',
    '(?<n>\\d+,)+',
    '(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+x',
  ])
    assert.equal(ambiguousRepetition(p), undefined, p);
  // Case-insensitive: an upper-case delimiter is no delimiter for a lower-case run.
  assert.ok(ambiguousRepetition('(?:[a-z]+X)+', 'i'));
  assert.equal(ambiguousRepetition('(?:[a-z]+X)+', ''), undefined);
});

test("none of the reader's, the cues' or the knowledge base's patterns has such a group", () => {
  const found = [
    ...READER_PATTERNS.map((re) => [re.source, ambiguousRepetition(re.source, re.flags)]),
    ...kb.entries.flatMap((e) =>
      [...e.symptoms, ...(e.against ?? [])].map((s) => [
        `${e.id}: ${s.pattern}`,
        s.pattern && ambiguousRepetition(s.pattern),
      ]),
    ),
  ].filter(([, a]) => a);
  assert.deepEqual(found, []);
});
