// `kb lint`: schema, patterns, unique ids, and every entry's own examples (as ESLint's RuleTester
// runs a rule's valid and invalid cases): a `match` text must make the entry the top diagnosis,
// a `noMatch` text must not. An entry with more than one cause names each, tells each by its own
// symptoms, and each cause's examples must make the entry the top diagnosis with that cause.
// Warnings (they do not fail the lint): a cause, fix or check without sources, a draft or preview link.
import { resolve } from 'node:path';
import { diagnose } from '../diagnose/match.js';
import { type Diagnosis, type Entry, SIGNAL_TYPES, type Source, type Symptom } from '../types.js';
import { BUILTIN_KB, compileEntries, duplicateIds, type Kb, type KbProblem, readEntries } from './load.js';

export interface LintReport {
  entries: number;
  examples: number;
  problems: KbProblem[];
  /** What does not stop the entries from working but should be fixed: a statement without sources, a draft link. */
  warnings: KbProblem[];
}

/** Lints `dir`; a user folder's examples run against the built-in entries and its own together. */
export async function lintKb(dir: string): Promise<LintReport> {
  const own = await readEntries(dir);
  const problems = [...own.problems];
  const warnings: KbProblem[] = [];
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
      if (top?.id !== entry.id) problems.push({ file, field: `examples.match[${i}]`, message: notTop(top, entry) });
    });
    problems.push(...causeProblems(entry, kb, () => examples++));
    const sourced = sourceFindings(entry);
    problems.push(...sourced.problems);
    warnings.push(...sourced.warnings);
    entry.examples.noMatch.forEach((text, i) => {
      examples++;
      const top = diagnose(kb, { text }).diagnoses[0];
      if (top?.id === entry.id)
        problems.push({ file, field: `examples.noMatch[${i}]`, message: `${entry.id} is the top diagnosis (${top.confidence}), though it should not match` });
    });
  }
  // Each at its field's line (the built-in entries' problems, such as a duplicate id, as they are).
  return { entries: own.entries.length, examples, problems: problems.map(own.placed), warnings: warnings.map(own.placed) };
}

/**
 * A link to a page readers cannot open or that may change under them: help.sap.com's draft and
 * preview states (`?state=DRAFT`, `state=PREVIEW`, `version=DEV`) and `/draft/` or `/preview/` paths.
 */
export function isDraftLink(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const state = u.searchParams.get('state')?.toUpperCase();
  if (state && state !== 'PRODUCTION') return true;
  if (u.searchParams.get('version')?.toUpperCase() === 'DEV') return true;
  return /(?:^|\/)(?:draft|preview)(?:\/|$)/i.test(u.pathname) || /^(?:draft|preview)[.-]/i.test(u.hostname);
}

/** Statements without sources and draft links are warnings; `seed` on an entry that is no seed row is a problem. */
function sourceFindings(entry: Entry): { problems: KbProblem[]; warnings: KbProblem[] } {
  const file = entry.file ?? entry.id;
  const problems: KbProblem[] = [];
  const warnings: KbProblem[] = [];
  const draft = (field: string, url: string) =>
    warnings.push({ file, field, message: `links a draft or preview page (${url}); cite the published page` });
  entry.references.forEach((r, i) => {
    if (isDraftLink(r.url)) draft(`references[${i}].url`, r.url);
  });
  for (const [list, items] of [
    ['causes', entry.causes],
    ['fixes', entry.fixes],
    ['checks', entry.checks],
  ] as const)
    items.forEach((x: { sources?: Source[] }, i) => {
      if (!x.sources?.length) {
        warnings.push({
          file,
          field: `${list}[${i}]`,
          message: 'no sources: cite the page, SAP note or post that states it, `seed`, or `inference`',
        });
        return;
      }
      x.sources.forEach((s, j) => {
        if (s === 'seed' && entry.seed === undefined)
          problems.push({ file, field: `${list}[${i}].sources[${j}]`, message: 'cites the seed, but the entry is no seed row' });
        if (typeof s === 'object' && 'url' in s && isDraftLink(s.url)) draft(`${list}[${i}].sources[${j}]`, s.url);
      });
    });
  entry.causes.forEach((c, i) => {
    const field = `causes[${i}].text`;
    if (c.title && startsWithTitle(c.text, c.title))
      warnings.push({ file, field, message: `repeats its title ("${c.title}"): the report prints the title before the text` });
    if (PROVENANCE.test(c.text))
      warnings.push({ file, field, message: 'tells where the statement comes from: put that in sources (`inference`, a page), not in the text' });
  });
  return { problems, warnings };
}

/** Words about a statement's provenance, which belong in its sources, not in the sentence a user reads. */
const PROVENANCE = /\bis an inference\b|\bno public source\b|\b(?:this|the) (?:link|statement|claim) is inferred\b/i;

/** Whether a cause's text begins with its own title (the report prints "cause TITLE: TEXT"). */
function startsWithTitle(text: string, title: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
  const t = norm(title);
  return t.length > 0 && norm(text).startsWith(t);
}

/** Why an example that must select `entry` does not: another entry won, or nothing matched. */
function notTop(top: Diagnosis | undefined, entry: Entry): string {
  return top
    ? `the top diagnosis is ${top.id} (${top.confidence}), not ${entry.id}`
    : `nothing matched it, though ${entry.id} should`;
}

/** Symptom kinds a text can show; a cause told only by probe signals can have no text examples. */
const readable = (s: Symptom) =>
  s.signal === undefined || !SIGNAL_TYPES[s.signal as keyof typeof SIGNAL_TYPES]?.startsWith('probe:');

function causeProblems(entry: Entry, kb: Kb, counted: () => void): KbProblem[] {
  const file = entry.file ?? entry.id;
  const problems: KbProblem[] = [];
  if (entry.causes.length < 2) return problems;
  entry.causes.forEach((cause, i) => {
    if (!cause.id || !cause.title) {
      problems.push({
        file,
        field: `causes[${i}]`,
        message: 'an entry with more than one cause names each: give it an id and a title',
      });
      return;
    }
    const own = entry.symptoms.filter((s) => s.cause === cause.id);
    if (!own.length)
      problems.push({ file, field: `causes[${i}]`, message: `no symptom tells cause "${cause.id}" (add \`cause: ${cause.id}\` to one)` });
    else if (own.some(readable) && !cause.examples?.length)
      problems.push({ file, field: `causes[${i}].examples`, message: `cause "${cause.id}" needs at least one text that selects it` });
    cause.examples?.forEach((text, j) => {
      counted();
      const top = diagnose(kb, { text }).diagnoses[0];
      const field = `causes[${i}].examples[${j}]`;
      if (top?.id !== entry.id) problems.push({ file, field, message: notTop(top, entry) });
      else if (top.cause?.id !== cause.id)
        problems.push({
          file,
          field,
          message: `the cause named is ${top.cause ? `"${top.cause.id}"` : 'none'}, not "${cause.id}"`,
        });
    });
  });
  return problems;
}
