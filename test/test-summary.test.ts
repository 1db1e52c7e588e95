// `npm test` ends with what a person needs (scripts/test-summary.mjs): the counts, each skipped test
// with its reason, each failure with its file and first error line, and the corpus scores, instead
// of the TAP of every test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, tempDirs } from './helpers.js';

const tempDir = tempDirs();

test('the summary: counts, skipped tests with their reasons, failures with file and first line, corpus scores', () => {
  const dir = tempDir('ld-summary-');
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(
    file,
    `import { test } from 'node:test';
import assert from 'node:assert/strict';
test('passes', () => {});
test('needs sshd', { skip: 'sshd is not installed' }, () => {});
test('fails', () => assert.equal(1, 2, 'one is not two'));
test('scores', (t) => t.diagnostic('dev: top-1 160/160, unrelated 0/67'));
`,
  );
  const r = spawnSync(
    process.execPath,
    [
      '--test',
      `--test-reporter=${join(ROOT, 'scripts', 'test-summary.mjs')}`,
      '--test-reporter-destination=stdout',
      file,
    ],
    // Without NODE_TEST_CONTEXT: a run of its own, not a subtest reporting to this one.
    { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^linkdoctor tests: 2 passed, 1 failed, 1 skipped \(\d+\.\d min\)$/m);
  assert.match(
    r.stdout,
    /^Skipped \(1\), with their reasons:\n {2}- needs sshd \(sample\.test\.mjs\): sshd is not installed$/m,
  );
  assert.match(r.stdout, /^Failed \(1\):\n {2}✖ fails \(sample\.test\.mjs\): one is not two$/m);
  assert.match(r.stdout, /^Corpus scores .*\n {2}dev: top-1 160\/160, unrelated 0\/67$/m);
  // No TAP: the summary is all there is.
  assert.doesNotMatch(r.stdout, /^(?:not )?ok \d/m);
});
