// The human report of a diagnosis: the best diagnosis in full, the others in one line each.
import pc from 'picocolors';
import type { DiagnoseResult, Diagnosis, Entry, Evidence, Facts } from '../types.js';

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

function oneLine(s: string, max = 100): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Wraps prose at `width`, indenting continuation lines. */
export function wrap(text: string, indent: string, width = 100): string {
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
    .map(([k, label]) => `${c.dim(label)} ${String(facts[k])}`)
    .join(c.dim(' · '));
}

function evidenceLine(e: Evidence, c: Colors): string {
  const where = e.line !== undefined ? c.dim(`line ${e.line}: `) : '';
  const mark = e.kind === 'against' ? c.red('−') : e.kind === 'direction' ? c.blue('→') : c.green('+');
  return `    ${mark} ${where}${c.bold(`"${oneLine(e.text, 80)}"`)}${e.means ? c.dim(` — ${e.means}`) : ''}`;
}

function badge(d: Pick<Diagnosis, 'direction' | 'seed'>, c: Colors): string {
  return c.dim(`[${d.direction}${d.seed ? ` · seed row ${d.seed}` : ''}]`);
}

/** An entry's guidance: what it means, causes, checks, fixes, references. */
export function renderGuidance(
  e: Pick<Entry, 'summary' | 'causes' | 'checks' | 'fixes' | 'references'>,
  c: Colors,
): string[] {
  const out: string[] = [];
  out.push(wrap(e.summary, '  '));
  out.push(c.bold('  Likely causes'));
  for (const cause of e.causes) out.push(wrap(cause, '    - ').replace(/\n {4}- /g, '\n      '));
  out.push(c.bold('  What to do'));
  e.fixes.forEach((f, i) => out.push(wrap(f, `    ${i + 1}. `).replace(/\n {4}\d+\. /g, '\n       ')));
  out.push(c.bold('  How to confirm'));
  for (const ch of e.checks)
    out.push(
      wrap(`${ch.text}${ch.probe ? ` (probe: ${ch.probe})` : ''}`, '    - ').replace(/\n {4}- /g, '\n      '),
    );
  out.push(c.bold('  Read'));
  for (const r of e.references)
    out.push(`    ${r.note ? `SAP note ${r.note}: ` : ''}${r.title}\n      ${c.cyan(r.url)}`);
  return out;
}

function meter(confidence: number, c: Colors): string {
  const n = Math.round(confidence * 10);
  return `${c.green('█'.repeat(n))}${c.dim('░'.repeat(10 - n))} ${confidence.toFixed(2)}`;
}

export function renderDiagnose(result: DiagnoseResult, c: Colors): string {
  const out: string[] = [];
  const [top, ...rest] = result.diagnoses;
  const facts = factsLine(result.facts, c);
  if (!top) {
    out.push(
      `${c.yellow('?')} ${c.bold('No known issue matched.')} linkdoctor does not guess: nothing in the knowledge base fits this text.`,
    );
    out.push(
      facts
        ? `  ${c.bold('Facts found')}  ${facts}`
        : '  No facts (status, host, exception, code) were found in it either.',
    );
    return out.join('\n') + '\n';
  }
  out.push(`${c.red('✖')} ${c.bold(top.id)}  ${top.title}  ${badge(top, c)}`);
  out.push(`  ${c.dim('confidence')} ${meter(top.confidence, c)}`);
  if (facts) out.push(`  ${factsLine(result.facts, c)}`);
  out.push(c.bold('  Evidence'));
  for (const e of top.evidence) out.push(evidenceLine(e, c));
  out.push(...renderGuidance(top, c));
  if (result.direction.decide) {
    out.push(c.bold(c.yellow('  Inbound or outbound?')));
    out.push(wrap(result.direction.decide, '    '));
  }
  if (rest.length) {
    out.push('', c.bold('Also possible'));
    for (const d of rest) {
      const ev = d.evidence.find((e) => e.kind === 'symptom');
      out.push(`  ${c.bold(d.id)} ${c.dim(d.confidence.toFixed(2))}  ${d.title}  ${badge(d, c)}`);
      if (ev) out.push(`      ${c.dim('because')} "${oneLine(ev.text, 70)}"`);
    }
  }
  return out.join('\n') + '\n';
}
