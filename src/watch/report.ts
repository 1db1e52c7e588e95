// The forms of a check: one line per target for people, JSON (each target's probe in the same JSON
// as `linkdoctor probe --json`), JUnit XML for pipelines and Markdown for tickets and wikis.
import { probeJson } from '../report/probe.js';
import { jsonText, markdownCell, printable } from '../report/printable.js';
import type { Colors } from '../report/text.js';
import type { CheckOutcome } from './check.js';
import { cutLine, fitText, plural } from '../report/width.js';
import type { InventoryTarget } from './inventory.js';

/** What the line says after the mark: the diagnosis (or error) of a failure, the status, expiry, host key. */
export function outcomeText(o: Pick<CheckOutcome, 'ok' | 'error' | 'summary'>): string {
  const s = o.summary;
  const parts: string[] = [];
  if (!o.ok) {
    if (s.diagnosis)
      parts.push(
        `${s.diagnosis.id}${s.diagnosis.cause ? ` (${s.diagnosis.cause})` : ''}${s.failedStep ? ` at ${s.failedStep}` : ''}`,
      );
    else if (o.error) parts.push(o.error);
    else if (s.failedStep) parts.push(`${s.failedStep} failed, no known issue matched`);
  }
  if (s.status !== undefined) parts.push(`HTTP ${s.status}`);
  if (s.certDaysLeft !== undefined)
    parts.push(
      s.certDaysLeft < 0
        ? `certificate expired ${-s.certDaysLeft} days ago`
        : `certificate expires in ${s.certDaysLeft} days`,
    );
  if (s.hostKey) parts.push(`host key ${s.hostKeyType} ${s.hostKey}`);
  if (o.ok) for (const w of s.warnings ?? []) parts.push(`! ${w}`);
  if (o.ok && !parts.length) parts.push('ok');
  return printable(parts.join(' · '));
}

const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

/** The columns of a run's lines (checkColumns): the name's, the URL's (0: no URL column), the whole width. */
export interface CheckColumns {
  name: number;
  url: number;
  width: number;
}

/** What a result keeps at least on a target's first line, beside its name and URL. */
const MIN_RESULT_COLUMNS = 32;

/**
 * The columns of the lines of `targets` within `width` (textWidth()), each as wide as its longest
 * text (counted as printed, escapes included) within bounds: the name's at most 40 and 30% of the
 * width, the URL's (of targets named otherwise) at most 60 and what leaves MIN_RESULT_COLUMNS
 * for the result. When no target has a name of its own, the one column of URLs gets all that room.
 * A longer name or URL is cut with "…" (the full ones are in --json).
 */
export function checkColumns(targets: Pick<InventoryTarget, 'name' | 'url'>[], width: number): CheckColumns {
  const longest = (texts: string[]) => Math.max(1, ...texts.map((s) => printable(s).length));
  const room = width - 2 - 2 - MIN_RESULT_COLUMNS;
  const named = targets.filter((t) => t.name !== t.url);
  if (!named.length) return { name: Math.min(longest(targets.map((t) => t.url)), 60, room), url: 0, width };
  const name = Math.min(longest(named.map((t) => t.name)), 40, Math.floor(width * 0.3));
  const url = Math.min(longest(named.map((t) => t.url)), 60, Math.max(10, room - name - 1));
  return { name, url, width };
}

/** `text` in `columns` columns: cut with "…" when longer, padded with spaces when shorter. */
const cell = (text: string, columns: number) => cutLine(text, columns).padEnd(columns);

/**
 * The lines for a target: ✔/✖ (`!`: passed, with a step's warning), its name (and URL when the name is another), what was found; the
 * name and the URL in the columns of `cols` (cut with "…" when longer), so that the lines of a run
 * align, and what was found wrapped under itself within `cols.width`. A target named by its URL
 * shows it across both columns.
 */
export function renderLine(o: CheckOutcome, c: Colors, cols: CheckColumns): string {
  const t = o.target;
  const mark = !o.ok ? c.red('✖') : o.summary.warnings?.length ? c.yellow('!') : c.green('✔');
  const both = cols.name + (cols.url && cols.url + 1);
  const head =
    t.name !== t.url
      ? `${c.bold(cell(printable(t.name), cols.name))}${cols.url ? ` ${c.dim(cell(printable(t.url), cols.url))}` : ''}`
      : c.bold(cell(printable(t.name), Math.max(both, cols.name)));
  const result = outcomeText(o);
  const at = 2 + Math.max(both, cols.name) + 2;
  // Under itself, unless a word of it (a host key's fingerprint) would be cut there but fits a line indented by 4.
  const longestWord = Math.max(0, ...result.split(' ').map((w) => w.length));
  const hang = longestWord > cols.width - at ? 4 : at;
  return fitText(`${mark} ${head}  ${result}`, cols.width, () => hang);
}

/** The closing line: how many targets, how many failed, how long it took. */
export function renderTotals(outcomes: CheckOutcome[], ms: number, c: Colors): string {
  const failing = outcomes.filter((o) => !o.ok).length;
  const n = outcomes.length;
  return `${plural(n, 'target')}: ${c.green(`${n - failing} ok`)}, ${failing ? c.red(`${failing} failing`) : '0 failing'} (${(ms / 1000).toFixed(1)} s)\n`;
}

/** The JSON form: the totals and, per target, its name, URL, module, labels, verdict, summary and probe. */
export function checkJson(outcomes: CheckOutcome[], ms: number): string {
  return `${jsonText(
    {
      targets: outcomes.length,
      failing: outcomes.filter((o) => !o.ok).length,
      ms,
      results: outcomes.map((o) => ({
        name: o.target.name,
        url: o.target.url,
        module: o.target.module.name,
        labels: o.target.labels,
        at: o.at,
        ok: o.ok,
        ...(o.error ? { error: o.error } : {}),
        summary: o.summary,
        ...(o.result ? { probe: probeJson(o.result) } : {}),
      })),
    },
    2,
  )}\n`;
}

/** XML text: the five characters XML escapes, and the controls XML 1.0 cannot hold at all. */
function xml(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, '\ufffd')
  );
}

/**
 * JUnit XML as CI servers read it (Jenkins, GitLab, Azure DevOps): one testsuite "linkdoctor check",
 * one testcase per target (classname: its module), a failure with the diagnosis for each failing one.
 */
export function checkJunit(outcomes: CheckOutcome[], ms: number): string {
  const failures = outcomes.filter((o) => !o.ok).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="linkdoctor check" tests="${outcomes.length}" failures="${failures}" time="${(ms / 1000).toFixed(3)}">`,
    `  <testsuite name="linkdoctor check" tests="${outcomes.length}" failures="${failures}" errors="0" skipped="0" time="${(ms / 1000).toFixed(3)}">`,
  ];
  for (const o of outcomes) {
    const head = `    <testcase classname="${xml(o.target.module.name)}" name="${xml(o.target.name)}" time="${(o.ms / 1000).toFixed(3)}"`;
    if (o.ok) {
      out.push(`${head}/>`);
      continue;
    }
    const d = o.result?.diagnoses[0];
    const steps = (o.result?.steps ?? []).map(
      (s) => `${s.ok === null ? '-' : s.ok ? 'ok' : 'FAIL'} ${s.name}: ${s.detail}`,
    );
    const body = [
      `${o.target.url}${Object.keys(o.target.labels).length ? ` [${labelText(o.target.labels)}]` : ''}`,
      ...steps,
      ...(d ? ['', `${d.id}: ${d.title}`, ...d.fixes.slice(0, 3).map((f, i) => `${i + 1}. ${f}`)] : []),
      ...(o.error ? [o.error] : []),
    ].join('\n');
    out.push(
      `${head}>`,
      `      <failure message="${xml(outcomeText(o))}" type="${xml(d?.id ?? 'failed')}">${xml(body)}</failure>`,
      '    </testcase>',
    );
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

/** A Markdown table: one row per target, failing ones first, then the totals. */
export function checkMarkdown(outcomes: CheckOutcome[], ms: number): string {
  const rows = [...outcomes].sort((a, b) => Number(a.ok) - Number(b.ok));
  const failing = outcomes.filter((o) => !o.ok).length;
  return [
    `## linkdoctor check: ${outcomes.length - failing} ok, ${failing} failing`,
    '',
    '| | Target | URL | Labels | Result |',
    '|---|---|---|---|---|',
    ...rows.map(
      (o) =>
        `| ${o.ok ? '✅' : '❌'} | ${markdownCell(o.target.name)} | ${markdownCell(o.target.url)} | ${markdownCell(labelText(o.target.labels))} | ${markdownCell(outcomeText(o))} |`,
    ),
    '',
    `${plural(outcomes.length, 'target')} checked in ${(ms / 1000).toFixed(1)} s.`,
    '',
  ].join('\n');
}
