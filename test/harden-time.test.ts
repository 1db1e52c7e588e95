// No text makes the matcher backtrack without end (issue 9): every generated adversarial text of
// 256 KB is diagnosed, and a trace of 20,000 "Caused by" lines too. How fast is the benchmark's
// business (bench/adversarial.bench.mjs prints the worst time per MB); the bound here only says
// "it ends", generous enough for a loaded machine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../src/diagnose/match.js';
import { ambiguousRepetition, boundRepetitions, overlappingAlternatives } from '../src/kb/bounded.js';
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

test('a repeated group whose alternatives overlap is found: (\\w|\\d)+, (a|a?)+, ([a-z]|[a-c])+, at any depth (attack S12 A6)', () => {
  assert.deepEqual(overlappingAlternatives('ORDERSVC-(\\w|\\d)+:'), {
    group: '(\\w|\\d)+',
    alternatives: ['\\w', '\\d'],
  });
  for (const p of [
    '(?:a|a?)+b',
    '(?:[a-z]|[a-c])+!',
    '(x(?:a|A)y)+',
    '(?:\\d|x|[0-9a-f])*',
    '(?:a|(?:b|a))+',
  ])
    assert.ok(overlappingAlternatives(p), p);
  // Alternatives that start with different characters cannot take the same text: one way only.
  for (const p of ['(?:foo|bar)+', '(?:https?|ftp)+', '(?:[a-z]+\\.)+', '(?:\\d|[a-z])+', '(?:a|b)?c'])
    assert.equal(overlappingAlternatives(p), undefined, p);
  // Case-insensitive, as the knowledge base compiles its patterns: a and A overlap.
  assert.equal(overlappingAlternatives('(?:a|A)+', ''), undefined);
});

test("none of the reader's, the cues' or the knowledge base's patterns has such a group", () => {
  const found = [
    ...READER_PATTERNS.map((re) => [re.source, ambiguousRepetition(re.source, re.flags)]),
    ...READER_PATTERNS.map((re) => [re.source, overlappingAlternatives(re.source, re.flags)?.group]),
    ...kb.entries.flatMap((e) =>
      [...e.symptoms, ...(e.against ?? [])].map((s) => [
        `${e.id}: ${s.pattern}`,
        s.pattern && (ambiguousRepetition(s.pattern) ?? overlappingAlternatives(s.pattern)?.group),
      ]),
    ),
  ].filter(([, a]) => a);
  assert.deepEqual(found, []);
});
