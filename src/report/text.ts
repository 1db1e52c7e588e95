// The human report of a diagnosis: the best diagnosis in full, the others in one line each.
import pc from 'picocolors';
import { rankFor } from '../diagnose/match.js';
import type {
  Cause,
  Check,
  DiagnoseResult,
  Diagnosis,
  Entry,
  Evidence,
  Facts,
  Fix,
  Reference,
  Source,
} from '../types.js';
import { printable, printableDeep } from './printable.js';
import { cutLine, textWidth } from './width.js';

export type Colors = ReturnType<typeof pc.createColors>;

/** Colour on a terminal, none with NO_COLOR, when piped, or on a dumb terminal. */
export function colorsFor(stream: { isTTY?: boolean }): Colors {
  const env = process.env;
  const on =
    'FORCE_COLOR' in env
      ? env.FORCE_COLOR !== '0'
      : !('NO_COLOR' in env) && !!stream.isTTY && env.TERM !== 'dumb';
  return pc.createColors(on);
}

const FACT_LABELS: [keyof Facts, string][] = [
  ['status', 'status'],
  ['method', 'method'],
  ['url', 'url'],
  ['host', 'host'],
  ['port', 'port'],
  ['exception', 'exception'],
  ['code', 'code'],
  ['alert', 'tls alert'],
  ['errno', 'errno'],
  ['certificateSubject', 'certificate'],
  ['certificateIssuer', 'issuer'],
  ['reporter', 'reported by'],
];

function oneLine(s: string, max = textWidth()): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Wraps prose at `width` (the text output's, textWidth), indenting continuation lines. */
export function wrap(text: string, indent: string, width = textWidth()): string {
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && indent.length + line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

export function factsLine(facts: Facts, c: Colors): string {
  return FACT_LABELS.filter(([k]) => facts[k] !== undefined)
    .map(([k, label]) => `${c.dim(label)} ${printable(String(facts[k]))}`)
    .join(c.dim(' · '));
}

/** Cuts a line that would run past the text output's width with "…" (cutLine). */
const fit = (line: string): string => cutLine(line);

/** An evidence line: its quote on one line, cut at 80 characters unless `full` (which cuts nothing). */
function evidenceLine(e: Evidence, c: Colors, withLine: boolean, full = false): string {
  const where = withLine && e.line !== undefined ? c.dim(`line ${e.line}: `) : '';
  const mark = e.kind === 'against' ? c.red('−') : e.kind === 'direction' ? c.blue('→') : c.green('+');
  // What a probe observed has no text to quote: say what it means, not its internal value.
  if (e.start === undefined && e.means && e.kind !== 'direction')
    return `    ${mark} ${c.dim('probe:')} ${e.means}`;
  return `    ${mark} ${where}${c.bold(`"${oneLine(e.text, full ? Infinity : 80)}"`)}${e.means ? c.dim(` — ${e.means}`) : ''}`;
}

function badge(d: Pick<Diagnosis, 'direction' | 'seed'>, c: Colors): string {
  return c.dim(`[${d.direction}${d.seed ? ` · seed row ${d.seed}` : ''}]`);
}

/** Guidance as an entry holds it (named causes, fixes for some causes) or as a diagnosis orders it. */
export interface Guidance {
  summary: string;
  causes: (string | Cause)[];
  checks: Check[];
  fixes: (string | Fix)[];
  references: Reference[];
}

const bullet = (text: string, lead: string) =>
  wrap(text, lead).replace(
    new RegExp(`\\n${lead.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}`, 'g'),
    `\n${' '.repeat(lead.length)}`,
  );
const forWhich = (x: { for?: string[] }) => (x.for ? ` [for ${x.for.join(', ')}]` : '');

/** A statement's source in one line: a page's title and address, an SAP note, the seed, or `inference`. */
export function sourceText(s: Source): string {
  if (s === 'seed') return "seed: SAP's table Troubleshooting Sender/Receiver Systems";
  if (s === 'inference') return 'inference: no source states it';
  if ('url' in s) return `${s.title} <${s.url}>`;
  return `SAP note ${s.note}${s.title ? `: ${s.title}` : ''}`;
}

/** The sources of a statement of an entry, one per line under it (a diagnosis's statements carry none). */
const sourceLines = (x: string | { sources?: Source[] }, indent: string, c: Colors): string[] =>
  typeof x === 'string' || !x.sources ? [] : x.sources.map((s) => c.dim(`${indent}source: ${sourceText(s)}`));

/** An entry's or a diagnosis's guidance in full: what it means, causes, fixes, checks, references. */
export function renderGuidance(guidance: Guidance, c: Colors): string[] {
  // An entry from a --kb folder is text someone else may have written.
  const g = printableDeep(guidance);
  const out: string[] = [];
  out.push(wrap(g.summary, '  '));
  out.push(c.bold('  Likely causes'));
  for (const cause of g.causes)
    out.push(
      typeof cause === 'string'
        ? bullet(cause, '    - ')
        : bullet(
            `${cause.title ? `${cause.title}${cause.id ? ` [${cause.id}]` : ''}: ` : ''}${cause.text}`,
            '    - ',
          ),
      ...sourceLines(cause, '        ', c),
    );
  out.push(c.bold('  What to do'));
  g.fixes.forEach((f, i) =>
    out.push(
      bullet(typeof f === 'string' ? f : `${f.text}${forWhich(f)}`, `    ${i + 1}. `.padEnd(7)),
      ...sourceLines(f, '         ', c),
    ),
  );
  out.push(c.bold('  How to confirm'));
  for (const ch of g.checks)
    out.push(
      bullet(`${ch.text}${ch.probe ? ` (probe: ${ch.probe})` : ''}${forWhich(ch)}`, '    - '),
      ...sourceLines(ch, '        ', c),
    );
  out.push(c.bold('  Read'));
  for (const r of g.references)
    out.push(`    ${r.note ? `SAP note ${r.note}: ` : ''}${r.title}\n      ${c.cyan(r.url)}`);
  return out;
}

function meter(confidence: number, c: Colors): string {
  const n = Math.round(confidence * 10);
  return `${c.green('█'.repeat(n))}${c.dim('░'.repeat(10 - n))} ${confidence.toFixed(2)}`;
}

/** How much of a diagnosis the compact report shows. */
const COMPACT = { evidence: 3, fixes: 3, checks: 1, references: 2, alsoPossible: 2 };

/**
 * The fixes a compact report shows: the named cause's own (always), then up to three for every
 * cause; without a named cause (or entry), the first three. `optional` may be left out when the
 * screen is full. Which fix is whose comes from rankFor, as the diagnosis ordered them (`d.fixes`:
 * guidanceFor's order, the named cause's own first). Also scan's groups whose cause is known.
 */
export function compactFixes(
  d: Pick<Diagnosis, 'fixes'> & { cause?: { id: string } },
  kbEntry: Pick<Entry, 'fixes' | 'causes'> | undefined,
): { text: string; optional: boolean }[] {
  const first = (xs: string[], optional: (i: number) => boolean) =>
    xs.slice(0, COMPACT.fixes).map((text, i) => ({ text, optional: optional(i) }));
  const causeId = d.cause?.id;
  if (!causeId || !kbEntry) return first(d.fixes, (i) => i > 0);
  const rank = new Map(kbEntry.fixes.map((f) => [f.text, rankFor(causeId, f)]));
  const own = d.fixes.filter((f) => rank.get(f) === 0);
  const general = d.fixes.filter((f) => rank.get(f) === 1);
  if (!own.length && !general.length) return first(d.fixes, (i) => i > 0);
  return [
    ...own.map((text) => ({ text, optional: false })),
    ...first(general, (i) => own.length > 0 || i > 0),
  ];
}

/** The references that matter most: SAP notes first (they name the fix), then the entry's order; at most two. */
export function topReferences(refs: Reference[]): Reference[] {
  return [...refs.filter((r) => r.note), ...refs.filter((r) => !r.note)].slice(0, COMPACT.references);
}

/**
 * The terminal report of a diagnosis. By default it fits a screen (about 25 lines for a one-line
 * input): verdict, cause, facts, the deciding evidence, the cause's fixes, one check, two
 * references and how to see the rest. `full` prints every cause, fix, check and reference.
 * `entryOf` gives the knowledge-base entry, so the compact report can keep only the cause's fixes.
 */
export function renderDiagnose(
  diagnosed: DiagnoseResult,
  c: Colors,
  options: {
    full?: boolean;
    entryOf?: (id: string) => Pick<Entry, 'fixes' | 'causes'> | undefined;
    more?: string;
    /** Whether evidence may cite line numbers: not when the text is the probe's own, which the user never saw. */
    lineNumbers?: boolean;
    /**
     * What was diagnosed: `text`, an error text the user gave (default); `probe`, what a probe saw,
     * so the report speaks of that ("nothing fits what the probe saw", not "this text").
     */
    source?: 'text' | 'probe';
  } = {},
): string {
  // Evidence, facts and details quote what strangers wrote: printable from here on.
  const result = printableDeep(diagnosed);
  const entryOf = options.entryOf;
  // Only the fixes and causes the report reads: the whole entry would also read its lazily compiled
  // patterns and lazily parsed guidance, every one of them (55 M instructions of a cold run).
  const entryPart = (id: string) => {
    const e = entryOf?.(id);
    return e && printableDeep({ fixes: e.fixes, causes: e.causes });
  };
  const opts = { ...options, ...(entryOf ? { entryOf: entryPart } : {}) };
  const out: string[] = [];
  const [top, ...rest] = result.diagnoses;
  const facts = factsLine(result.facts, c);
  const probe = opts.source === 'probe';
  const what = probe ? 'what the probe saw' : 'this text';
  if (!top) {
    out.push(
      `${c.yellow('?')} ${c.bold('No known issue matched.')} linkdoctor does not guess: nothing in the knowledge base fits ${what}.`,
    );
    out.push(
      facts
        ? wrap(`${c.bold(probe ? 'Facts seen' : 'Facts found')}  ${facts}`, '  ')
        : `  No facts (status, host, exception, code) were ${probe ? 'seen' : 'found in it'} either.`,
    );
    return out.join('\n') + '\n';
  }
  const full = !!opts.full;
  const head: string[] = [];
  // A long title is cut to the screen's width (the direction badge stays); --full shows it whole.
  const plainBadge = `[${top.direction}${top.seed ? ` · seed row ${top.seed}` : ''}]`;
  const room = textWidth() - `✖ ${top.id}    ${plainBadge}`.length;
  head.push(
    `${c.red('✖')} ${c.bold(top.id)}  ${full ? top.title : oneLine(top.title, room)}  ${badge(top, c)}`,
  );
  head.push(`  ${c.dim('confidence')} ${meter(top.confidence, c)}`);
  if (top.cause) head.push(wrap(`${c.bold('cause')} ${top.cause.title}: ${top.causes[0] ?? ''}`, '  '));
  else if (!full && top.causes.length > 1) {
    const titles =
      opts
        .entryOf?.(top.id)
        ?.causes?.map((x) => x.title)
        .filter(Boolean) ?? [];
    head.push(
      c.dim(
        wrap(
          titles.length === top.causes.length
            ? `cause  not told by ${what}; one of: ${titles.join(' · ')}`
            : `cause  not told by ${what}: one of ${top.causes.length} (--full lists them)`,
          '  ',
        ),
      ),
    );
  }
  if (facts) head.push(full ? `  ${facts}` : fit(`  ${facts}`));
  if (result.direction.decide) {
    head.push(c.bold(c.yellow('  Inbound or outbound?')));
    head.push(wrap(full ? result.direction.decide : sentences(result.direction.decide, 2), '    '));
  }
  head.push(c.bold('  Evidence'));
  // Line numbers help only where the text has lines to count.
  const multiLine = opts.lineNumbers !== false && top.evidence.some((e) => (e.line ?? 1) > 1);
  const evidence = full
    ? top.evidence
    : [...top.evidence]
        // The cause's own evidence decided most; then the other symptoms; direction and negative last.
        .sort((a, b) => rankEvidence(top, a) - rankEvidence(top, b))
        // Two symptoms that read the same words are one piece of evidence.
        .filter((e, i, all) => all.findIndex((o) => o.kind === e.kind && o.text === e.text) === i)
        .slice(0, COMPACT.evidence);
  for (const e of evidence)
    head.push(full ? evidenceLine(e, c, multiLine, true) : fit(evidenceLine(e, c, multiLine)));

  if (full) {
    const out = [...head, ...renderGuidance(top, c)];
    if (rest.length) out.push('', c.bold('Also possible'));
    for (const d of rest) {
      out.push(`  ${c.bold(d.id)} ${c.dim(d.confidence.toFixed(2))}  ${d.title}  ${badge(d, c)}`);
      const ev = d.evidence.find((e) => e.kind === 'symptom');
      if (ev) out.push(`      ${c.dim('because')} "${oneLine(ev.text, 70)}"`);
    }
    return out.join('\n') + '\n';
  }

  // The compact report: blocks in the order shown, each with a priority; the least important blocks
  // (7 first) are left out until the report fits a screen. Priorities 0 and 1 always stay: the
  // verdict, cause, facts and evidence, the first fix (all of the named cause's own) and the check.
  type Block = { lines: string[]; priority: number; height: number };
  const block = (priority: number, ...lines: string[]): Block => ({
    lines,
    priority,
    height: lines.join('\n').split('\n').length,
  });
  const blocks: Block[] = [block(0, ...head)];
  if (!top.cause) blocks.push(block(6, wrap(sentences(top.summary, 1), '  ')));
  const fixes = compactFixes(top, opts.entryOf?.(top.id));
  fixes.forEach((f, i) =>
    blocks.push(
      block(
        f.optional ? 4 + i : 1,
        ...(i === 0 ? [c.bold('  What to do')] : []),
        bullet(f.text, `    ${i + 1}. `),
      ),
    ),
  );
  const check = top.checks[0];
  if (check)
    blocks.push(
      block(
        1,
        c.bold('  How to confirm'),
        bullet(`${check.text}${check.probe ? ` (probe: ${check.probe})` : ''}`, '    - '),
      ),
    );
  topReferences(top.references).forEach((r, i) =>
    blocks.push(
      block(
        i === 0 ? 2 : 7,
        ...(i === 0 ? [c.bold('  Read')] : []),
        fit(`    ${c.cyan(r.url)}${c.dim(`  ${r.note ? `SAP note ${r.note}: ` : ''}${r.title}`)}`),
      ),
    ),
  );
  // The twin the "inbound or outbound?" note already names need not be listed again.
  const also = rest.filter((d) => !result.direction.decide?.includes(d.id)).slice(0, COMPACT.alsoPossible);
  if (also.length)
    blocks.push(
      block(
        3,
        '',
        c.bold('Also possible'),
        ...also.map((d) =>
          fit(`  ${c.bold(d.id)} ${c.dim(d.confidence.toFixed(2))}  ${d.title}  ${badge(d, c)}`),
        ),
      ),
    );
  blocks.push(
    block(
      0,
      '',
      c.dim(
        `More: every cause, fix and reference with ${opts.more ?? '--full'}, or \`linkdoctor kb show ${top.id}\`.`,
      ),
    ),
  );
  const count = (bs: Block[]) => bs.reduce((n, b) => n + b.height, 0);
  let kept = blocks;
  // Fixes weigh less the later they come, so a fix is left out only with those after it.
  for (let p = 7; p > 1 && count(kept) > SCREEN_LINES; p--) kept = kept.filter((b) => b.priority !== p);
  return kept.flatMap((b) => b.lines).join('\n') + '\n';
}

/** What the compact report aims to fit in. */
const SCREEN_LINES = 25;

/** The first `n` sentences of a text (a sentence ends at . ! or ? before a capital: "/http/..." and "a.b" do not end one). */
function sentences(text: string, n: number): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .split(/(?<=[.!?])\s+(?=[A-Z"'(])/)
    .slice(0, n)
    .join(' ');
}

function rankEvidence(d: Diagnosis, e: Evidence): number {
  if (e.kind === 'symptom') return d.cause && e.cause === d.cause.id ? 0 : 1;
  return e.kind === 'direction' ? 2 : 3;
}
