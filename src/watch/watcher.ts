// The inventory watched on a schedule: every target checked every `--every` (or its module's
// `every`), one run of a module at a time, the latest outcome of each target kept for /metrics, and
// each outcome handed to whoever records it (the history store).
import type { Kb } from '../kb/load.js';
import { checkAll, type CheckLimits, type CheckOutcome } from './check.js';
import type { Inventory, InventoryTarget } from './inventory.js';
import { ModuleOptions } from './options.js';

export interface WatcherOptions {
  limits: CheckLimits;
  /** How often each target is checked, in milliseconds, unless its module sets `every`. */
  everyMs: number;
  /** Called with each outcome as it ends (before the next run starts); its errors are its own to report. */
  onOutcome?: (o: CheckOutcome) => void | Promise<void>;
}

/** Checks an inventory's targets on a schedule and keeps each one's latest outcome. */
export class Watcher {
  /** The latest outcome of each target, by target name. */
  readonly latest = new Map<string, CheckOutcome>();
  /** The modules' probe options, with the files the inventory read at load. */
  readonly options: ModuleOptions;
  private timers = new Set<NodeJS.Timeout>();
  private running = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(
    readonly kb: Kb,
    readonly inventory: Inventory,
    private readonly opts: WatcherOptions,
  ) {
    this.options = new ModuleOptions(inventory.files);
  }

  /** Checks `targets` (default: all) once; resolves when every outcome has been handed on. */
  async runOnce(targets: InventoryTarget[] = this.inventory.targets): Promise<CheckOutcome[]> {
    const handed: Promise<void>[] = [];
    const run = checkAll(this.kb, targets, this.options, this.opts.limits, (o) => {
      this.latest.set(o.target.name, o);
      if (this.opts.onOutcome) handed.push(Promise.resolve(this.opts.onOutcome(o)));
    });
    this.running.add(run);
    try {
      const outcomes = await run;
      await Promise.all(handed);
      return outcomes;
    } finally {
      this.running.delete(run);
    }
  }

  /**
   * Starts the schedule: the targets grouped by their interval (a module's `every`, else --every),
   * each group checked at once and then again one interval after its run started (a run that takes
   * longer than the interval is followed at once by the next, never overlapped by it).
   */
  start(): void {
    const groups = new Map<number, InventoryTarget[]>();
    for (const t of this.inventory.targets) {
      const every = t.module.every ?? this.opts.everyMs;
      groups.set(every, [...(groups.get(every) ?? []), t]);
    }
    for (const [every, targets] of groups) {
      const tick = async () => {
        if (this.stopped) return;
        const started = performance.now();
        await this.runOnce(targets);
        if (this.stopped) return;
        const timer = setTimeout(
          () => {
            this.timers.delete(timer);
            void tick();
          },
          Math.max(0, every - (performance.now() - started)),
        );
        this.timers.add(timer);
      };
      void tick();
    }
  }

  /** Stops the schedule and waits for the runs under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
