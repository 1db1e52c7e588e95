// The shipped knowledge base: lint-clean, every entry's own examples pass (one test each, like
// ESLint's RuleTester), and the 22 seed issues are there with the ids, rows and references of the seed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { diagnose, lowerText } from '../src/diagnose/match.js';
import { markedLiteral, requiredClauses, requiredLiterals } from '../src/kb/literals.js';
import { isDraftLink, lintKb } from '../src/kb/lint.js';
import { BUILTIN_KB, compileEntries, formatProblem, loadKb } from '../src/kb/load.js';
import { CORPUS, ROOT, SEED_IDS, SHARED } from './helpers.js';

const kb = await loadKb();

test('kb lint: the shipped knowledge base has no problem', async (t) => {
  const report = await lintKb(BUILTIN_KB);
  t.diagnostic(
    `kb lint: ${report.entries} entries, ${report.examples} examples, ${report.problems.length} problems`,
  );
  assert.deepEqual(report.problems.map(formatProblem), []);
});

test('the 22 seed issues are there under their ids, rows and directions', () => {
  SEED_IDS.forEach(([id, direction], i) => {
    const e = kb.byId.get(id);
    assert.ok(e, `${id} is in the knowledge base`);
    assert.equal(e.seed, i + 1, `${id} is seed row ${i + 1}`);
    assert.equal(e.direction, direction, `${id} is ${direction}`);
  });
  assert.ok(kb.entries.length >= 22 + 10, 'entries beyond the seed cover the causes around it');
});

const seedFile = join(SHARED, 'seed', 'troubleshooting-sender-receiver-systems.md');
test(
  'every SAP note and link of a seed row is among its entry’s references',
  { skip: !existsSync(seedFile) && `no seed at ${seedFile}` },
  () => {
    const html = readFileSync(seedFile, 'utf8');
    const rows = html.split('<tr>').slice(2); // the first piece precedes the table, the second is its header
    assert.equal(rows.length, 22);
    rows.forEach((row, i) => {
      const [id] = SEED_IDS[i]!;
      const refs = kb.byId.get(id)!.references;
      const solution = row.split('<td').at(-1)!;
      for (const [, title, url] of solution.matchAll(/\[([^\]]+)\]\(([^)\s]+)\)/g)) {
        const note = /me\.sap\.com\/notes\/(\d+)/.exec(url!)?.[1];
        if (note)
          assert.ok(
            refs.some((r) => r.note === note),
            `${id} cites SAP note ${note}`,
          );
        else if (/^https?:/.test(url!)) {
          // The seed links one page as a draft (?state=DRAFT&version=DEV): the entry cites the published page.
          const published = isDraftLink(url!) ? url!.replace(/\?.*$/, '?version=Cloud') : url;
          assert.ok(
            refs.some((r) => r.url === published),
            `${id} links ${published}`,
          );
        } else {
          // A link relative to SAP's help portal: the entry must cite the same page by title.
          const plain = title!.replace(/\\/g, '');
          assert.ok(
            refs.some((r) => r.title === plain),
            `${id} cites "${plain}"`,
          );
        }
      }
    });
  },
);

describe('entry examples (each must be, or must not be, the top diagnosis)', () => {
  for (const entry of kb.entries) {
    entry.examples.match.forEach((text, i) =>
      test(`${entry.id} matches example ${i + 1}`, () => {
        const top = diagnose(kb, { text }).diagnoses[0];
        assert.equal(top?.id, entry.id, `top diagnosis of: ${text}`);
      }),
    );
    entry.examples.noMatch.forEach((text, i) =>
      test(`${entry.id} does not match counter-example ${i + 1}`, () => {
        assert.notEqual(diagnose(kb, { text }).diagnoses[0]?.id, entry.id, `top diagnosis of: ${text}`);
      }),
    );
  }
});

describe('causes: each cause example names its cause, and its own fix and check come first', () => {
  for (const entry of kb.entries)
    for (const cause of entry.causes)
      cause.examples?.forEach((text, i) =>
        test(`${entry.id} · ${cause.id} example ${i + 1}`, () => {
          const top = diagnose(kb, { text }).diagnoses[0];
          assert.equal(top?.id, entry.id, `top diagnosis of: ${text}`);
          assert.equal(top.cause?.id, cause.id, `cause named for: ${text}`);
          assert.equal(top.causes[0], cause.text, 'the named cause is listed first');
          const own = entry.fixes.filter((f) => f.for?.includes(cause.id!));
          if (own.length) assert.equal(top.fixes[0], own[0]!.text, `the first fix is ${cause.id}'s own`);
          const ownChecks = entry.checks.filter((c) => c.for?.includes(cause.id!));
          if (ownChecks.length)
            assert.equal(top.checks[0]?.text, ownChecks[0]!.text, `the first check is ${cause.id}'s own`);
          // Another cause's own fix never comes before one that applies to this cause.
          const rank = (f: string) => {
            const fx = entry.fixes.find((x) => x.text === f)!;
            return !fx.for ? 1 : fx.for.includes(cause.id!) ? 0 : 2;
          };
          const ranks = top.fixes.map(rank);
          assert.deepEqual(ranks, [...ranks].sort(), 'fixes: own, then general, then the other causes');
        }),
      );
});

test('the literal pre-test: every required set must hold, word boundaries where the pattern has them', () => {
  // Every set holds of every match: "pkix path" alone does not let the pattern run.
  const clauses = requiredClauses('PKIX path \\w+ failed')!;
  assert.deepEqual(
    clauses[0],
    requiredLiterals('PKIX path \\w+ failed'),
    'the first set is the one scan uses',
  );
  assert.ok(
    clauses.some((c) => c.includes(' failed')),
    JSON.stringify(clauses),
  );
  const marked = clauses.map((c) => c.map(markedLiteral));
  assert.equal(markedLiteral('pkix path '), 'pkix\u007f \u007fpath\u007f ');
  // The same answers for a short text and for one of 64 KB and more. The first 16 short texts of a
  // process are searched directly (COLD_TEXTS, as every CLI run's are); after them, as below, short
  // texts too go through their trigrams.
  for (let i = 0; i < 16; i++) lowerText('warm');
  const pad = (t: string) => [t, `${'x'.repeat(70_000)} ${t}`];
  for (const text of pad('javax.net.ssl.SSLHandshakeException: PKIX path building failed: ...'))
    assert.equal(lowerText(text).may(marked), true);
  for (const text of pad('PKIX path building is fine, the certificate chain is complete'))
    assert.equal(lowerText(text).may(marked), false, 'no "failed": the pattern cannot match');
  // `\bGET\b` and `\bN[IT]E...`: a literal inside a longer word is no occurrence ("target", "interceptor").
  const get = requiredClauses('\\b(?:GET|HEAD)\\b works')!.map((c) => c.map(markedLiteral));
  const nte = requiredClauses('\\bN[IT]E[A-Z]+_[A-Z_]+')!.map((c) => c.map(markedLiteral));
  for (const text of pad('unable to find valid certification path to requested target; works in the browser'))
    assert.equal(lowerText(text).may(get), false);
  for (const text of pad('a GET works, a POST fails')) assert.equal(lowerText(text).may(get), true);
  for (const text of pad('at org.apache.cxf.interceptor.Fault'))
    assert.equal(lowerText(text).may(nte), false);
  for (const text of pad('partner: NIECONN_REFUSED (-10)')) assert.equal(lowerText(text).may(nte), true);
  // `_` is a word character, as in a pattern: no boundary between it and GET.
  assert.equal(lowerText('x_GET works').may(get), false, '_ is a word character');
  // Every trigram of a literal in the text is not the literal: it is searched for then.
  for (const text of pad('the host refused it: connection cut, then a refused connect'))
    assert.equal(lowerText(text).may([[markedLiteral('connection refused')]]), false);
  for (const text of pad('Connection refused'))
    assert.equal(lowerText(text).may([[markedLiteral('connection refused')]]), true);
  // A literal of fewer than three characters has no trigram: it is searched for.
  assert.equal(lowerText('rc 42').may([['42']]), true);
  assert.equal(lowerText('rc 43').may([['42']]), false);
});

test('the literal pre-tests (knowledge base and reader) change no answer: every example and corpus text, with and without them', () => {
  const plain = compileEntries(kb.entries);
  assert.ok(
    kb.entries.some((e) => e.match.some((s) => s.literals)),
    'the loaded entries carry literals',
  );
  const texts = kb.entries.flatMap((e) => [...e.examples.match, ...e.examples.noMatch]);
  for (const file of [CORPUS, join(ROOT, 'test', 'fixtures', 'holdout.jsonl')])
    if (existsSync(file))
      texts.push(
        ...readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as { text: string }).text),
      );
  const answer = (k: typeof kb, text: string) =>
    diagnose(k, { text }).diagnoses.map((d) => `${d.id} ${d.confidence}`);
  for (const text of texts) assert.deepEqual(answer(kb, text), answer(plain, text), text);
  // The reader's own patterns are skipped by their literals the same way: the same signals, in order.
  assert.ok(kb.readerLiterals && [...kb.readerLiterals.values()].some(Boolean), 'reader literals are cached');
  assert.equal(plain.readerLiterals, undefined);
  const signals = (k: typeof kb, text: string) => JSON.stringify(diagnose(k, { text }).signals);
  for (const text of texts) assert.equal(signals(kb, text), signals(plain, text), text);
});
