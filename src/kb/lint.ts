// `kb lint`: schema, patterns, unique ids, and every entry's own examples (as ESLint's RuleTester
// runs a rule's valid and invalid cases): a `match` text must make the entry the top diagnosis,
// a `noMatch` text must not.
import { resolve } from 'node:path';
import { diagnose } from '../diagnose/match.js';
import type { Entry } from '../types.js';
import { BUILTIN_KB, compileEntries, duplicateIds, type KbProblem, readEntries } from './load.js';

export interface LintReport {
  entries: number;
  examples: number;
  problems: KbProblem[];
}

/** Lints `dir`; a user folder's examples run against the built-in entries and its own together. */
export async function lintKb(dir: string): Promise<LintReport> {
  const own = await readEntries(dir);
  const problems = [...own.problems];
  let context: Entry[] = [];
  if (resolve(dir) !== BUILTIN_KB) {
    const builtin = await readEntries(BUILTIN_KB);
    context = builtin.entries;
  }
  const all = [...context, ...own.entries];
  problems.push(...duplicateIds(all));
  const badRegex = new Set(problems.filter((p) => p.message.startsWith('not a valid regular')).map((p) => p.file));
  const usable = all.filter((e) => !badRegex.has(e.file ?? ''));
  const kb = compileEntries(usable);
  let examples = 0;
  for (const entry of own.entries) {
    if (!kb.byId.has(entry.id)) continue;
    const file = entry.file ?? entry.id;
    entry.examples.match.forEach((text, i) => {
      examples++;
      const top = diagnose(kb, { text }).diagnoses[0];
      if (top?.id !== entry.id)
        problems.push({
          file,
          field: `examples.match[${i}]`,
          message: top
            ? `the top diagnosis is ${top.id} (${top.confidence}), not ${entry.id}`
            : `nothing matched it, though ${entry.id} should`,
        });
    });
    entry.examples.noMatch.forEach((text, i) => {
      examples++;
      const top = diagnose(kb, { text }).diagnoses[0];
      if (top?.id === entry.id)
        problems.push({ file, field: `examples.noMatch[${i}]`, message: `${entry.id} is the top diagnosis (${top.confidence}), though it should not match` });
    });
  }
  return { entries: own.entries.length, examples, problems };
}
