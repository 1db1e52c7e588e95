// `linkdoctor check inventory.yaml`: probe every target of an inventory, one line each, exit 1 when
// any fails.
import { loadKb } from '../kb/load.js';
import { colorsFor } from '../report/text.js';
import { checkAll, type CheckOutcome } from '../watch/check.js';
import { loadInventory, selectTargets } from '../watch/inventory.js';
import { ModuleOptions } from '../watch/options.js';
import { checkJson, checkJunit, checkMarkdown, renderLine, renderTotals } from '../watch/report.js';
import { UserError } from '../errors.js';

export interface CheckFlags {
  concurrency: number;
  perHost: number;
  only?: string[];
  json?: boolean;
  junit?: boolean;
  markdown?: boolean;
  progress?: boolean;
  kb?: string[];
}

/** A one-line bar on a terminal's standard error: targets done, failing so far; redrawn at most 10 times a second. */
class CheckProgress {
  private drawn = 0;
  private visible = false;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly total: number,
  ) {}
  update(done: number, failing: number): void {
    const now = performance.now();
    if (now - this.drawn < 100 && done < this.total) return;
    this.drawn = now;
    const width = 24;
    const filled = Math.round((done / this.total) * width);
    const line = `${'█'.repeat(filled).padEnd(width, '░')} ${done}/${this.total} targets · ${failing} failing`;
    this.out.write(`\r${line.slice(0, (this.out.columns || 100) - 1)}\x1b[K`);
    this.visible = true;
  }
  clear(): void {
    if (this.visible) this.out.write('\r\x1b[K');
    this.visible = false;
  }
}

export async function checkCommand(file: string, f: CheckFlags): Promise<void> {
  const forms = [f.json, f.junit, f.markdown].filter(Boolean).length;
  if (forms > 1) throw new UserError('choose one of --json, --junit and --markdown');
  const inventory = await loadInventory(file);
  const targets = selectTargets(inventory.targets, f.only);
  if (!targets.length) throw new UserError(`no target of ${file} matches ${(f.only ?? []).join(' and ')}`);
  const kb = await loadKb({ dirs: f.kb ?? [] });
  const c = colorsFor(process.stdout);
  const lines = !forms;
  const bar =
    f.progress !== false && process.stderr.isTTY
      ? new CheckProgress(process.stderr, targets.length)
      : undefined;
  const width = Math.min(40, Math.max(...targets.map((t) => t.name.length)));
  let failing = 0;
  const started = performance.now();
  const outcomes = await checkAll(kb, targets, new ModuleOptions(), f, (o: CheckOutcome, done) => {
    if (!o.ok) failing++;
    if (lines) {
      bar?.clear();
      process.stdout.write(`${renderLine(o, c, width)}\n`);
    }
    bar?.update(done, failing);
  });
  bar?.clear();
  const ms = Math.round(performance.now() - started);
  process.stdout.write(
    f.json
      ? checkJson(outcomes, ms)
      : f.junit
        ? checkJunit(outcomes, ms)
        : f.markdown
          ? checkMarkdown(outcomes, ms)
          : renderTotals(outcomes, ms, c),
  );
  process.exitCode = failing ? 1 : 0;
}
