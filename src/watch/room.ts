// The watch room of `linkdoctor serve`: /probe and /metrics always; with `--inventory`, the
// inventory checked on its schedule, every outcome and change kept in the history (`--db`), each
// change printed and sent to the webhooks. Stopped with the server.
import type { FastifyPluginAsync } from 'fastify';
import { printableLine } from '../report/printable.js';
import type { ServeOptions } from '../serve/app.js';
import { exporterRoutes } from './exporter.js';
import { defaultDbPath, openHistory } from './history.js';
import { servedInventory } from './inventory.js';
import { defaultProbeWorkers, ProbePool } from './probe-pool.js';
import { clearTextTargetWarnings, ModuleOptions } from './options.js';
import { Watcher } from './watcher.js';
import { Deliverer, parseWebhook } from './webhook.js';

/** The serve options of this room (`serve --inventory FILE --every 5m --db FILE --webhook URL`). */
export interface WatchServeOptions {
  inventory?: string;
  /** Milliseconds between checks of a target whose module sets no `every`. */
  everyMs?: number;
  /** The history database; default: defaultDbPath(). */
  db?: string;
  /** `[json|slack|teams=]URL` of each webhook (from --webhook, or the variable of --webhook-env). */
  webhooks?: string[];
  concurrency?: number;
  perHost?: number;
  /**
   * Worker threads for /probe (`--probe-workers`; default: defaultProbeWorkers()). None when the
   * knowledge base was handed over loaded (tests): the workers load theirs from `kbDirs`.
   */
  probeWorkers?: number;
  /** Where a change is told in a line (default: standard output). */
  log?: (line: string) => void;
}

/** Five minutes, as blackbox_exporter setups scrape most often. */
export const DEFAULT_EVERY_MS = 5 * 60_000;

export const watchRoom: FastifyPluginAsync = async (app) => {
  const o = app.linkdoctor.options as ServeOptions & WatchServeOptions;
  const kb = app.linkdoctor.kb;
  const workers = o.kb ? 0 : (o.probeWorkers ?? defaultProbeWorkers());
  const pool = workers > 0 ? new ProbePool(workers, o.kbDirs ?? []) : undefined;
  if (pool) app.addHook('onClose', () => pool.close());
  if (!o.inventory) {
    await app.register(exporterRoutes({ kb, ...(pool ? { pool } : {}) }));
    return;
  }
  // Read once per server: the probe room's secret bindings came from this same load.
  const inventory = (await servedInventory(o))!;
  const webhooks = (o.webhooks ?? []).map((w) => parseWebhook(w));
  const history = await openHistory(
    o.db ?? defaultDbPath(),
    webhooks.map((w) => w.key),
  );
  // Every line escaped at the door: a change's text quotes servers (certificate names, replies).
  const write = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = (line: string) => write(printableLine(line));
  const deliverer = new Deliverer(history, webhooks, undefined, (s) => log(`linkdoctor: ${s}`));
  // As check says it: a module's secret that goes in clear text (Basic over http://), once per target.
  for (const w of await clearTextTargetWarnings(inventory.targets, new ModuleOptions(inventory.files)))
    log(`linkdoctor: warning: ${w}`);
  const watcher = new Watcher(kb, inventory, {
    limits: { concurrency: o.concurrency ?? 16, perHost: o.perHost ?? 4 },
    everyMs: o.everyMs ?? DEFAULT_EVERY_MS,
    onOutcome: (outcome) => {
      for (const c of history.record(outcome)) log(`${c.at} ${c.target} ${c.kind}: ${c.text}`);
    },
  });
  await app.register(exporterRoutes({ kb, inventory, watcher, ...(pool ? { pool } : {}) }));
  app.addHook('onReady', async () => {
    watcher.start();
    deliverer.start();
  });
  app.addHook('onClose', async () => {
    await watcher.stop();
    await deliverer.stop();
    history.close();
  });
};
