// The reports of a scan: one JSON line per incident, the groups as JSON, a terminal summary and a
// Markdown report. Every text shown here was already cleared of secrets by the readers; the
// terminal summary and the Markdown report make it printable too (file names and log lines are
// strangers' words), the JSON forms escape it (jsonText).
import type { Kb } from '../kb/load.js';
import type { Group, Seen } from '../scan/group.js';
import type { Incident, Place, Problem } from '../scan/incident.js';
import type { ScanResult } from '../scan/run.js';
import type { Entry } from '../types.js';
import { type Colors, compactFixes, topReferences, wrap } from './text.js';
import { guidanceFor } from '../diagnose/match.js';
import { markdownCell, markdownText, printable, printableDeep } from './printable.js';
import { plural } from './width.js';

/** Diagnosis ids shown in full in the terminal summary; the rest in one line each. */
const FULL = 10;
/** Hosts or flows listed per diagnosis, and unknown messages listed, in the summary. */
const WHERE_ROWS = 5;
const UNKNOWN_ROWS = 10;
/** Unknown messages listed in the Markdown report. */
const UNKNOWN_ROWS_MARKDOWN = 50;

/**
 * A place as the JSON forms give it: its record counted from 1, as the text and Markdown reports
 * say it ("record 3"), so that a line of --jsonl and the report name the same record.
 */
export function placeJson(place: Place): Place {
  return place.record === undefined ? place : { ...place, record: place.record + 1 };
}

/** "app.log:12", "export.json record 3 (line 40)"; with `bytes`, the byte offset too. Printable. */
export function formatPlace(place: Place, bytes = false): string {
  const p = { ...place, file: printable(place.file) };
  const at = [
    ...(p.record !== undefined && p.line !== undefined ? [`line ${p.line}`] : []),
    ...(p.offset !== undefined && (bytes || p.line === undefined) ? [`byte ${p.offset}`] : []),
  ];
  const where =
    p.record !== undefined
      ? `${p.file} record ${p.record + 1}`
      : p.line !== undefined
        ? `${p.file}:${p.line}`
        : p.file;
  return at.length ? `${where} (${at.join(', ')})` : where;
}

const oneLine = (s: string, max: number) => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
const count = (n: number) => n.toLocaleString('en-US');
const span = (g: Pick<Group, 'first' | 'last'>) =>
  !g.first ? '' : g.first.time === g.last?.time ? g.first.time : `${g.first.time} … ${g.last!.time}`;
const whereOf = (g: Group) =>
  (g.iflow ? `integration flow ${g.iflow}` : g.host ? `host ${g.host}` : 'no host named') +
  (g.cause ? ` · ${g.cause.title}` : '');

/**
 * One line of --jsonl: the incident, its diagnosis, its place and its message as the input has it
 * (secrets removed, at most 300 characters); an unknown incident also its `masked` message, the
 * one its group goes by.
 */
export function incidentJson(inc: Incident): object {
  const d = inc.diagnosis;
  return {
    ...placeJson(inc.place),
    ...(inc.time ? { time: inc.time } : {}),
    diagnosis: d
      ? {
          id: d.id,
          title: d.title,
          confidence: d.confidence,
          direction: d.direction,
          ...(d.cause ? { cause: d.cause } : {}),
        }
      : null,
    also: inc.also,
    ...(inc.failing ? { failing: inc.failing } : {}),
    ...(inc.iflow ? { iflow: inc.iflow } : {}),
    ...(inc.messageGuid ? { messageGuid: inc.messageGuid } : {}),
    ...((inc.facts.host ?? inc.host) ? { host: inc.facts.host ?? inc.host } : {}),
    message: inc.message,
    ...(d ? {} : { masked: inc.masked }),
  };
}

const seenJson = (s?: Seen) =>
  s ? { time: s.time, ...(s.at !== undefined ? { at: new Date(s.at).toISOString() } : {}) } : null;

/**
 * The groups; `shown` when they are for a terminal or Markdown, with every text printable and only
 * the unknown groups a report lists (the most frequent; `unknownGroupCount` counts them all: a log
 * of distinct unknown errors has 10,001 groups, each made printable twice for 10 lines).
 */
function summaryOf(r: ScanResult, shown = false) {
  const groups = r.grouper.groups();
  const known = shown ? printableDeep(groups.known) : groups.known;
  const unknown = shown
    ? printableDeep(groups.unknown.slice(0, Math.max(UNKNOWN_ROWS, UNKNOWN_ROWS_MARKDOWN)))
    : groups.unknown;
  const diagnosed = known.reduce((a, g) => a + g.count, 0);
  return {
    files: r.files,
    bytes: r.bytes,
    seconds: Math.round(r.seconds * 1000) / 1000,
    incidents: r.grouper.incidents,
    diagnosed,
    unknown: r.grouper.incidents - diagnosed,
    problems: r.problems,
    unreadable: r.unreadable,
    ...(r.incomplete ? { incomplete: r.incomplete } : {}),
    known,
    unknownGroups: unknown,
    unknownGroupCount: groups.unknown.length,
  };
}

/** How many problems with the input --json lists at most (`summary.problems` counts them all). */
export const MAX_PROBLEMS_LISTED = 1000;

/**
 * What the CLI does with each problem with the input (scan, tenant failures): says it on standard
 * error in one line, after `clear()` (the progress line), and keeps the first MAX_PROBLEMS_LISTED in
 * `problems` for --json when `keep`.
 */
export function problemSink(
  keep: boolean,
  clear: () => void,
): { problems: Problem[]; onProblem: (p: Problem) => void } {
  const problems: Problem[] = [];
  return {
    problems,
    onProblem: (p) => {
      if (keep && problems.length < MAX_PROBLEMS_LISTED) problems.push(p);
      clear();
      process.stderr.write(`linkdoctor: ${formatPlace(p.place, true)}: ${printable(p.message)}\n`);
    },
  };
}

/**
 * One problem with the input as --json, the API and its ndjson stream give it: `{file, line?, byte?,
 * record?, message, incomplete?}` (byte: offset in the decompressed input; record: counted from 1, as
 * an incident's, see placeJson).
 */
export function problemJson(p: Problem): object {
  const { offset, ...place } = placeJson(p.place);
  return {
    ...place,
    ...(offset !== undefined ? { byte: offset } : {}),
    message: p.message,
    ...(p.incomplete ? { incomplete: true } : {}),
  };
}

/**
 * --json: the summary, the problems with the input (`problems`: the first MAX_PROBLEMS_LISTED of
 * those the scan reported through onProblem, as problemJson) and the groups.
 */
export function scanJson(r: ScanResult, kb: Kb, problems: readonly Problem[] = []): object {
  const { known, unknownGroups, unknownGroupCount: _count, ...summary } = summaryOf(r);
  return {
    summary,
    problems: problems.slice(0, MAX_PROBLEMS_LISTED).map(problemJson),
    groups: known.map((g) => {
      const e = kb.byId.get(g.id!);
      return {
        id: g.id,
        title: g.title,
        direction: e?.direction,
        ...(e?.seed !== undefined ? { seed: e.seed } : {}),
        ...(g.iflow ? { iflow: g.iflow } : {}),
        ...(g.host ? { host: g.host } : {}),
        count: g.count,
        confidence: g.confidence,
        first: seenJson(g.first),
        last: seenJson(g.last),
        example: {
          ...placeJson(g.example.place),
          message: g.example.message,
          ...(g.example.messageGuid ? { messageGuid: g.example.messageGuid } : {}),
        },
        ...(g.cause ? { cause: g.cause } : {}),
        fixes: e ? guidanceFor(e, g.cause?.id).fixes : [],
        references: e?.references ?? [],
      };
    }),
    unknown: unknownGroups.map((g) => ({
      message: g.message,
      count: g.count,
      first: seenJson(g.first),
      last: seenJson(g.last),
      example: { ...placeJson(g.example.place), message: g.example.message },
    })),
  };
}

/** Diagnosed groups by diagnosis id, the most frequent id first. */
function byId(known: Group[]): { id: string; groups: Group[]; total: number }[] {
  const ids = new Map<string, Group[]>();
  for (const g of known) ids.set(g.id!, [...(ids.get(g.id!) ?? []), g]);
  return [...ids]
    .map(([id, groups]) => ({ id, groups, total: groups.reduce((a, g) => a + g.count, 0) }))
    .sort((a, b) => b.total - a.total);
}

/**
 * What became of the incidents, in words that hold for any count: "4 diagnosed as 3 known issues, 1
 * unknown in 1 group", "none diagnosed, 2 unknown in 1 group", "555 diagnosed as 5 known issues".
 */
function incidentParts(s: ReturnType<typeof summaryOf>): string[] {
  return [
    s.diagnosed
      ? `${count(s.diagnosed)} diagnosed as ${plural(byId(s.known).length, 'known issue')}`
      : 'none diagnosed',
    ...(s.unknown ? [`${count(s.unknown)} unknown in ${plural(s.unknownGroupCount, 'group')}`] : []),
  ];
}

/**
 * A rate of MB per second with one or two significant digits (44, 3.2, 0.44; "< 0.01" below it):
 * a slow scan's 0.44 MB/s is not "0 MB/s".
 */
export function mbPerSecond(mb: number, seconds: number): string {
  const v = mb / Math.max(seconds, 0.001);
  if (v >= 9.95) return v.toFixed(0);
  if (v >= 0.01) return v.toPrecision(2);
  return v > 0 ? '< 0.01' : '0';
}

/**
 * The summary's first lines: what was scanned (of how many inputs; "Nothing was scanned" when no
 * input could be read: then no "No incident found" either), the incidents, the problems.
 */
function headline(r: ScanResult, s: ReturnType<typeof summaryOf>): string[] {
  const mb = s.bytes / 1024 / 1024;
  const read = s.files - s.unreadable;
  const nothing = !r.source && read <= 0;
  return [
    r.source
      ? printable(r.source)
      : nothing
        ? `Nothing was scanned: ${plural(s.unreadable, 'input')} could not be read.`
        : `Scanned ${read < s.files ? `${count(read)} of ` : ''}${plural(s.files, 'input')}, ${mb.toFixed(1)} MB in ${s.seconds.toFixed(1)} s (${mbPerSecond(mb, s.seconds)} MB/s).`,
    ...(nothing
      ? []
      : [
          s.incidents
            ? `${plural(s.incidents, 'incident')}: ${incidentParts(s).join(', ')}.`
            : 'No incident found.',
        ]),
    ...(s.problems ? [`${plural(s.problems, 'problem')} with the input (reported above).`] : []),
  ];
}

/**
 * What to do for one diagnosis id of the summary, and what to read. `causeId`: the cause its groups
 * share, when every group named the same one: then, as diagnose's default report, only that cause's
 * fixes and up to three for every cause, the two references that matter most, and where the rest
 * is; otherwise every fix (`sortBy`'s own first) and every reference.
 */
function guidance(
  entry: Entry | undefined,
  causeId: string | undefined,
  sortBy: string | undefined,
  c: Colors,
  indent: string,
): string[] {
  if (!entry) return [];
  const e = printableDeep(entry);
  const all = guidanceFor(e, causeId ?? sortBy).fixes;
  const fixes = causeId ? compactFixes({ fixes: all, cause: { id: causeId } }, e).map((f) => f.text) : all;
  const refs = causeId ? topReferences(e.references) : e.references;
  const out = [`${indent}${c.bold('What to do')}`];
  fixes.forEach((f, i) =>
    out.push(wrap(f, `${indent}  ${i + 1}. `).replace(/\n {2,}\d+\. /g, `\n${indent}     `)),
  );
  out.push(`${indent}${c.bold('Read')}`);
  for (const ref of refs)
    out.push(
      `${indent}  ${ref.note ? `SAP note ${ref.note}: ` : ''}${ref.title}\n${indent}    ${c.cyan(ref.url)}`,
    );
  if (fixes.length < all.length || refs.length < e.references.length)
    out.push(c.dim(`${indent}More: every cause, fix and reference with \`linkdoctor kb show ${e.id}\`.`));
  return out;
}

/** The terminal summary. */
export function renderScan(r: ScanResult, kb: Kb, c: Colors): string {
  const s = summaryOf(r, true);
  const { known, unknownGroups } = s;
  const out = headline(r, s).map((l, i) => (i === 0 ? c.bold(l) : l));
  byId(known).forEach(({ id, groups, total }, i) => {
    const e = kb.byId.get(id);
    const badge = c.dim(`[${e?.direction ?? '?'}${e?.seed ? ` · seed row ${e.seed}` : ''}]`);
    out.push(
      '',
      `${c.red('✖')} ${c.bold(id)}  ${groups[0]!.title}  ${badge}  ${c.bold(plural(total, 'incident'))}`,
    );
    for (const g of groups.slice(0, WHERE_ROWS))
      out.push(`    ${count(g.count).padStart(7)}  ${whereOf(g)}${g.first ? c.dim(`  ${span(g)}`) : ''}`);
    if (groups.length > WHERE_ROWS)
      out.push(c.dim(`             … and ${plural(groups.length - WHERE_ROWS, 'more place')}`));
    const ex = groups[0]!.example;
    out.push(
      `  ${c.dim('example')} ${formatPlace(ex.place)}${ex.messageGuid ? c.dim(` (message ${ex.messageGuid})`) : ''}`,
    );
    out.push(`    ${oneLine(ex.message, 96)}`);
    // One cause for every group of the id: its own fixes; groups of several causes: all of them.
    const cause = groups[0]!.cause?.id;
    const shared = cause && groups.every((g) => g.cause?.id === cause) ? cause : undefined;
    if (i < FULL) out.push(...guidance(e, shared, cause, c, '  '));
    else out.push(c.dim(`  (linkdoctor kb show ${id} for what to do)`));
  });
  if (unknownGroups.length) {
    out.push(
      '',
      c.bold(`${c.yellow('?')} Unknown errors, by message (numbers, ids, times and hosts masked)`),
    );
    for (const g of unknownGroups.slice(0, UNKNOWN_ROWS)) {
      out.push(`    ${count(g.count).padStart(7)}  ${oneLine(g.message!, 88)}`);
      out.push(c.dim(`             e.g. ${formatPlace(g.example.place)}${g.first ? `  ${span(g)}` : ''}`));
    }
    if (s.unknownGroupCount > UNKNOWN_ROWS)
      out.push(
        c.dim(
          `             … and ${plural(s.unknownGroupCount - UNKNOWN_ROWS, 'more message')} (see --json)`,
        ),
      );
  }
  return out.join('\n') + '\n';
}

/** A code fence longer than any run of backticks in `text`, so a log line cannot close it early. */
const fence = (text: string) =>
  '`'.repeat(Math.max(3, ...(text.match(/`+/g) ?? []).map((r) => r.length + 1)));
const cell = markdownCell;

/** The Markdown report. */
export function scanMarkdown(r: ScanResult, kb: Kb): string {
  const s = summaryOf(r, true);
  const { known, unknownGroups } = s;
  const out = ['# linkdoctor scan', '', ...headline(r, s).map((l) => l.replace(' (reported above)', ''))];
  const ids = byId(known);
  if (ids.length) {
    out.push('', '## Known issues', '', '| issue | incidents | where | first … last |', '|---|---:|---|---|');
    for (const { id, groups } of ids)
      for (const g of groups)
        out.push(
          `| \`${id}\` ${cell(g.title ?? '')} | ${count(g.count)} | ${cell(whereOf(g))} | ${cell(span(g))} |`,
        );
    for (const { id, groups, total } of ids) {
      const entry = kb.byId.get(id);
      const e = entry && printableDeep(entry);
      const ex = groups[0]!.example;
      out.push('', `### \`${id}\` ${groups[0]!.title} (${plural(total, 'incident')})`, '');
      out.push(
        `Example, ${markdownText(formatPlace(ex.place))}:`,
        '',
        fence(ex.message),
        ex.message,
        fence(ex.message),
      );
      if (e) {
        out.push(
          '',
          '**What to do**',
          '',
          ...guidanceFor(e, groups[0]!.cause?.id).fixes.map((f, i) => `${i + 1}. ${f}`),
        );
        out.push(
          '',
          '**Read**',
          '',
          ...e.references.map(
            (ref) => `- ${ref.note ? `SAP note ${ref.note}: ` : ''}[${ref.title}](${ref.url})`,
          ),
        );
      }
    }
  }
  if (unknownGroups.length) {
    out.push(
      '',
      '## Unknown errors',
      '',
      '| message (masked) | incidents | example | first … last |',
      '|---|---:|---|---|',
    );
    for (const g of unknownGroups.slice(0, UNKNOWN_ROWS_MARKDOWN))
      out.push(
        `| ${cell(g.message!)} | ${count(g.count)} | ${cell(formatPlace(g.example.place))} | ${cell(span(g))} |`,
      );
  }
  return out.join('\n') + '\n';
}
