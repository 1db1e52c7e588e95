import { UserError } from '../errors.js';
import { closestName } from './usage-error.js';
import { lintKb } from '../kb/lint.js';
import { BUILTIN_KB, formatProblem, loadKb, type Kb } from '../kb/load.js';
import { jsonText, printable, printableDeep } from '../report/printable.js';
import { colorsFor, renderGuidance } from '../report/text.js';
import type { Entry, Source } from '../types.js';
import { fitText, plural } from '../report/width.js';

/** An entry as `kb show --json` gives it: causes, fixes and checks as objects, each with its `sources` (empty: none yet). */
const strip = ({ match: _m, unless: _u, ...entry }: Entry & { match?: unknown; unless?: unknown }): Entry => {
  const sourced = <T extends { sources?: Source[] }>(x: T): T & { sources: Source[] } => ({
    ...x,
    sources: x.sources ?? [],
  });
  return {
    ...entry,
    causes: entry.causes.map(sourced),
    fixes: entry.fixes.map(sourced),
    checks: entry.checks.map(sourced),
  };
};

/** The rows `kb list --json` prints (and GET /api/kb answers). */
export function kbListJson(kb: Kb): object[] {
  return kb.entries.map((e) => ({ id: e.id, title: e.title, direction: e.direction, seed: e.seed ?? null }));
}

/** The entry `kb show ID --json` prints (and GET /api/kb/{id} answers); undefined when there is none. */
export function kbShowJson(kb: Kb, id: string): Entry | undefined {
  const found = kb.byId.get(id);
  return found && strip(found);
}

export async function kbList(opts: { json?: boolean; kb?: string[] }): Promise<void> {
  const kb = await loadKb({ dirs: opts.kb ?? [] });
  if (opts.json) {
    process.stdout.write(`${jsonText(kbListJson(kb), 2)}\n`);
    return;
  }
  const c = colorsFor(process.stdout);
  const seeds = kb.entries.filter((e) => e.seed !== undefined).sort((a, b) => a.seed! - b.seed!);
  const others = kb.entries.filter((e) => e.seed === undefined);
  const width = Math.max(...kb.entries.map((e) => e.id.length));
  const row = (e: Entry) =>
    `  ${printable(e.id).padEnd(width)}  ${c.dim(e.direction.padEnd(8))}  ${printable(e.title)}`;
  // A long title goes on under its own column.
  const titleAt = 2 + width + 2 + 8 + 2;
  process.stdout.write(
    fitText(
      [
        c.bold(`Seed issues (${seeds.length}), from SAP's troubleshooting table`),
        ...seeds.map(row),
        '',
        c.bold(`Around them (${others.length})`),
        ...others.map(row),
        '',
      ].join('\n'),
      undefined,
      (line) => (line.startsWith('  ') ? titleAt : 0),
    ),
  );
}

/**
 * The sentence for an id that names no entry of `kb`: the entries whose ids hold it (or that it
 * holds), else the one a typo most likely meant ("out-cert-pth" → out-cert-path); `otherwise` (where
 * the ids are listed) when none is near. `kb show` and GET /api/kb/{id} say it alike.
 */
export function noEntry(kb: Kb, id: string, otherwise: string): string {
  const ids = kb.entries.map((x) => x.id);
  const near = ids.filter((x) => x.includes(id) || id.includes(x));
  const typo = near.length ? undefined : closestName(id, ids);
  if (typo) near.push(typo);
  return `no entry "${id}"${near.length ? `; did you mean ${near.join(', ')}?` : ` ${otherwise}`}`;
}

export async function kbShow(id: string, opts: { json?: boolean; kb?: string[] }): Promise<void> {
  const kb = await loadKb({ dirs: opts.kb ?? [] });
  const found = kb.byId.get(id);
  if (!found) throw new UserError(noEntry(kb, id, '(see `linkdoctor kb list`)'));
  if (opts.json) {
    process.stdout.write(`${jsonText(kbShowJson(kb, id), 2)}\n`);
    return;
  }
  // An entry of a --kb folder is text someone else may have written.
  const e = printableDeep(found);
  const c = colorsFor(process.stdout);
  const out = [
    `${c.bold(e.id)}  ${e.title}  ${c.dim(`[${e.direction}${e.seed ? ` · seed row ${e.seed}` : ''}]`)}`,
  ];
  out.push(...renderGuidance(e, c));
  out.push(c.bold('  Recognised by'));
  for (const s of e.symptoms) {
    const sig = s.pattern
      ? `/${s.pattern}/`
      : s.status !== undefined
        ? `HTTP status ${String(s.status)}`
        : `${s.signal}${s.value ? ` = ${s.value}` : ''}`;
    out.push(`    ${s.weight.toFixed(2)}  ${sig}${s.means ? c.dim(` — ${s.means}`) : ''}`);
  }
  if (e.decide) out.push(c.bold('  Told apart from look-alikes by'), `    ${e.decide}`);
  out.push(c.dim(`  ${e.file ?? ''}`), '');
  process.stdout.write(fitText(out.join('\n')));
}

export async function kbLint(dir: string | undefined, opts: { quiet?: boolean }): Promise<void> {
  const report = await lintKb(dir ?? BUILTIN_KB);
  for (const p of report.problems) process.stdout.write(`${fitText(printable(formatProblem(p)))}\n`);
  for (const w of report.warnings)
    process.stdout.write(`${fitText(`warning: ${printable(formatProblem(w))}`)}\n`);
  if (!opts.quiet || report.problems.length || report.warnings.length)
    process.stdout.write(
      `${plural(report.entries, 'entry', 'entries')}, ${plural(report.examples, 'example')} checked, ${plural(report.problems.length, 'problem')}, ${plural(report.warnings.length, 'warning')}\n`,
    );
  process.exitCode = report.problems.length ? 1 : 0;
}
