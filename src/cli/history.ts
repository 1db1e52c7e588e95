// `linkdoctor history [TARGET] [--since 7d]`: the results and changes the history database holds.
import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import { jsonText, printable } from '../report/printable.js';
import { colorsFor } from '../report/text.js';
import { parseDuration } from '../watch/duration.js';
import { defaultDbPath, openHistory } from '../watch/history.js';
import { outcomeText } from '../watch/report.js';
import { fitText, plural } from '../report/width.js';

export interface HistoryFlags {
  since: string;
  db?: string;
  json?: boolean;
  changes?: boolean;
}

export async function historyCommand(target: string | undefined, f: HistoryFlags): Promise<void> {
  const sinceMs = parseDuration(f.since);
  if (sinceMs === undefined)
    throw new UserError(`--since takes a duration such as 7d or 12h, not "${f.since}"`);
  const file = f.db ?? defaultDbPath();
  if (!existsSync(file)) throw new UserError(`there is no history at ${file} (check --db writes it)`);
  const history = await openHistory(file);
  const sinceIso = new Date(Date.now() - sinceMs).toISOString();
  const { results, changes } = history.read({ sinceIso, ...(target ? { target } : {}) });
  // A name the history never held is a typo, not a quiet week: say so (exit 2, as for other bad input).
  const known =
    !target || results.length > 0 || history.read({ sinceIso: '', target, limit: 1 }).results.length > 0;
  history.close();
  if (!known) throw new UserError(`no target is named ${printable(target!)} in the history at ${file}`);
  if (f.json) {
    process.stdout.write(`${jsonText({ since: sinceIso, results: f.changes ? [] : results, changes }, 2)}\n`);
    return;
  }
  const c = colorsFor(process.stdout);
  const rows: { at: string; order: number; text: string }[] = [];
  if (!f.changes)
    for (const r of results)
      rows.push({
        at: r.at,
        order: 0,
        text: `${r.ok ? c.green('✔') : c.red('✖')} ${c.bold(printable(r.target))}  ${outcomeText(r)}`,
      });
  for (const ch of changes)
    rows.push({
      at: ch.at,
      order: 1,
      text: `${c.yellow('↳')} ${c.bold(printable(ch.target))} ${ch.kind}: ${printable(ch.text)}`,
    });
  rows.sort((a, b) => a.at.localeCompare(b.at) || a.order - b.order);
  const when = (iso: string) => iso.slice(0, 19).replace('T', ' ');
  for (const r of rows) process.stdout.write(`${fitText(`${c.dim(when(r.at))}  ${r.text}`)}\n`);
  const counted = [
    ...(f.changes ? [] : [plural(results.length, 'result')]),
    plural(changes.length, 'change'),
  ];
  process.stdout.write(
    `${counted.join(', ')} since ${when(sinceIso)} UTC${target ? ` for ${printable(target)}` : ''}\n`,
  );
}
