// A test reporter for `npm test` (node --test --test-reporter=./scripts/test-summary.mjs): what a
// person needs at the end of a run, after the dots of the `dot` reporter: the counts, every failure
// with its file and first error line, every skipped test with its reason, and the knowledge base's
// corpus scores (the corpus test's diagnostics), instead of thousands of lines of TAP.
import { relative } from 'node:path';

const where = (file) => (file ? relative(process.cwd(), file) : '?');
const firstLine = (error) => {
  const e = error?.cause ?? error;
  return String(e?.message ?? e ?? '')
    .split('\n')
    .find((l) => l.trim())
    ?.trim()
    .slice(0, 200);
};

export default async function* summary(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let todo = 0;
  const failures = [];
  const skips = [];
  const scores = [];
  const started = Date.now();
  for await (const event of source) {
    const d = event.data ?? {};
    if (event.type === 'test:pass' || event.type === 'test:fail') {
      // A file's own entry (nesting 0 with the file's path as its name) is not a test.
      if (d.details?.type === 'suite' && d.nesting === 0 && d.name === d.file) continue;
      if (d.skip !== undefined && d.skip !== false) {
        skipped++;
        skips.push(
          `${d.name} (${where(d.file)}): ${typeof d.skip === 'string' ? d.skip : 'no reason given'}`,
        );
      } else if (d.todo !== undefined && d.todo !== false) todo++;
      else if (event.type === 'test:pass') passed++;
      else {
        // A suite or file that failed because its subtests did is counted through them.
        if (d.details?.error?.failureType === 'subtestsFailed') continue;
        failed++;
        failures.push(`${d.name} (${where(d.file)}): ${firstLine(d.details?.error)}`);
      }
    } else if (event.type === 'test:diagnostic' && /top-1 \d+\/\d+/.test(d.message ?? ''))
      scores.push(d.message);
  }
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  const out = [
    '',
    `linkdoctor tests: ${passed} passed, ${failed} failed, ${skipped} skipped${todo ? `, ${todo} todo` : ''} (${minutes} min)`,
  ];
  if (scores.length)
    out.push(
      '',
      'Corpus scores (knowledge base against the labelled corpus):',
      ...scores.map((s) => `  ${s}`),
    );
  if (skips.length)
    out.push('', `Skipped (${skips.length}), with their reasons:`, ...skips.map((s) => `  - ${s}`));
  if (failures.length) out.push('', `Failed (${failures.length}):`, ...failures.map((f) => `  ✖ ${f}`));
  else out.push('', 'No test failed.');
  yield `${out.join('\n')}\n`;
}
