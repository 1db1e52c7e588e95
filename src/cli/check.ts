// `linkdoctor check inventory.yaml`: probe every target of an inventory, one line each, exit 1 when
// any fails. With --db the outcomes and their changes go to the history (and the changes to the
// webhooks); with --every it checks again on that schedule until stopped.
import { constants } from 'node:os';
import { UserError } from '../errors.js';
import { loadKb } from '../kb/load.js';
import { printable } from '../report/printable.js';
import { colorsFor } from '../report/text.js';
import { checkAll, type CheckOutcome } from '../watch/check.js';
import { parseDuration } from '../watch/duration.js';
import { type Change, defaultDbPath, type History, openHistory } from '../watch/history.js';
import { loadInventory, selectTargets } from '../watch/inventory.js';
import { clearTextTargetWarnings, ModuleOptions } from '../watch/options.js';
import {
  checkColumns,
  checkJson,
  checkJunit,
  checkMarkdown,
  renderLine,
  renderTotals,
} from '../watch/report.js';
import { Watcher } from '../watch/watcher.js';
import {
  DEFAULT_DELIVERY,
  Deliverer,
  parseWebhook,
  WEBHOOK_ARGV_WARNING,
  webhookFromEnv,
} from '../watch/webhook.js';
import { fitText, textWidth } from '../report/width.js';

export interface CheckFlags {
  concurrency: number;
  perHost: number;
  only?: string[];
  json?: boolean;
  junit?: boolean;
  markdown?: boolean;
  progress?: boolean;
  db?: string | boolean;
  every?: string;
  webhook?: string[];
  webhookEnv?: string[];
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

/** A change under its target's line (wrapped under its text, after the arrow). */
const changeText = (c: Change) => `  ↳ ${c.kind}: ${printable(c.text)}`;

export async function checkCommand(file: string, f: CheckFlags): Promise<void> {
  const forms = [f.json, f.junit, f.markdown].filter(Boolean).length;
  if (forms > 1) throw new UserError('choose one of --json, --junit and --markdown');
  const everyMs = f.every === undefined ? undefined : parseDuration(f.every);
  if (f.every !== undefined && (everyMs === undefined || everyMs < 1000 || everyMs > 7 * 86_400_000))
    throw new UserError('--every takes a duration from 1s to 7d, such as 5m');
  if (everyMs !== undefined && forms)
    throw new UserError('--every prints lines: it takes no --json, --junit or --markdown');
  const webhooks = [
    ...(f.webhook ?? []).map((w) => parseWebhook(w)),
    ...(f.webhookEnv ?? []).map((v) => parseWebhook(webhookFromEnv(v))),
  ];
  if (webhooks.length && !f.db)
    throw new UserError(
      `${f.webhook?.length ? '--webhook' : '--webhook-env'} needs --db (changes are found against the history)`,
    );
  if (f.webhook?.length) process.stderr.write(`linkdoctor: ${WEBHOOK_ARGV_WARNING}\n`);
  const inventory = await loadInventory(file);
  const targets = selectTargets(inventory.targets, f.only, file);
  if (!targets.length) throw new UserError(`${file} lists no target`);
  const kb = await loadKb({ dirs: f.kb ?? [] });
  // A secret in clear text (Basic over http://, ...) is sent, as probe sends it, but said: once per target.
  const moduleOptions = new ModuleOptions(inventory.files);
  for (const w of await clearTextTargetWarnings(targets, moduleOptions))
    process.stderr.write(`linkdoctor: warning: ${w}\n`);
  const history = f.db
    ? await openHistory(
        typeof f.db === 'string' ? f.db : defaultDbPath(),
        webhooks.map((w) => w.key),
      )
    : undefined;
  // One run (no --every) ends before any retry: a failed delivery waits for the next run.
  const dbPath = typeof f.db === 'string' ? f.db : defaultDbPath();
  const delivery =
    everyMs === undefined
      ? { ...DEFAULT_DELIVERY, nextRun: `at the next run of check --db ${dbPath}` }
      : undefined;
  const deliverer = history
    ? new Deliverer(history, webhooks, delivery, (s) => process.stderr.write(`linkdoctor: ${s}\n`))
    : undefined;
  const c = colorsFor(process.stdout);
  // Names and URLs in columns, each line within the terminal's width (COLUMNS, at most 100).
  const cols = checkColumns(targets, textWidth());
  const lines = !forms;
  /** Records an outcome (its changes under its line) and prints its line. */
  const recordAndPrint = (o: CheckOutcome, before?: () => void) => {
    const changes = history?.record(o) ?? [];
    if (!lines) return;
    before?.();
    process.stdout.write(
      `${[renderLine(o, c, cols), ...changes.map((ch) => fitText(changeText(ch), cols.width, () => 4))].join('\n')}\n`,
    );
  };

  if (everyMs !== undefined)
    return watch(kb, { ...inventory, targets }, f, everyMs, recordAndPrint, history, deliverer);

  const bar =
    f.progress !== false && process.stderr.isTTY
      ? new CheckProgress(process.stderr, targets.length)
      : undefined;
  let failing = 0;
  const started = performance.now();
  try {
    const outcomes = await checkAll(kb, targets, moduleOptions, f, (o, done) => {
      if (!o.ok) failing++;
      recordAndPrint(o, () => bar?.clear());
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
            : fitText(renderTotals(outcomes, ms, c)),
    );
    // Each change once to each webhook; what fails waits in the history for the next run.
    await deliverer?.deliverDue();
  } finally {
    history?.close();
  }
  process.exitCode = failing ? 1 : 0;
}

/** `--every`: check on the schedule, record, deliver, until SIGINT/SIGTERM/SIGHUP (then exit 128 + signal). */
async function watch(
  kb: Awaited<ReturnType<typeof loadKb>>,
  inventory: Awaited<ReturnType<typeof loadInventory>>,
  f: CheckFlags,
  everyMs: number,
  onOutcome: (o: CheckOutcome) => void,
  history: History | undefined,
  deliverer: Deliverer | undefined,
): Promise<void> {
  const watcher = new Watcher(kb, inventory, { limits: f, everyMs, onOutcome });
  watcher.start();
  deliverer?.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, stop);
      void Promise.all([watcher.stop(), deliverer?.stop()]).then(() => {
        history?.close();
        process.exitCode = 128 + constants.signals[signal];
        resolve();
      });
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
  });
}
