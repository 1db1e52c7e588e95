// One /probe of the exporter as plain data (ProbeJob) and the code that runs it, the same in the
// request's thread and in a probe worker (probe-pool.ts): the module's options, the guarded
// server's pinned names and the scrape budget applied, the probe run, the module's verdict, and
// the answer in Prometheus's text format.
import { UserError } from '../errors.js';
import type { Kb } from '../kb/load.js';
import { pinResolution } from '../probe/net.js';
import { BUDGET_TIMEOUTS, probe } from '../probe/run.js';
import { type PinnedAnswers, pinnedFrom } from '../serve/targets.js';
import { verdict } from './check.js';
import type { Module } from './inventory.js';
import { probeMetrics } from './metrics.js';
import type { ModuleOptions } from './options.js';

/** What one /probe asks, checked by the route: structured-cloneable, so that a worker can run it. */
export interface ProbeJob {
  module: Module;
  target: string;
  /** The whole probe's bound from Prometheus's scrape timeout (scrapeBudgetMs), when it sent one. */
  budgetMs?: number;
  /**
   * On a guarded server: the names its target check resolved (the probe connects to exactly these
   * addresses) and the sentence a redirect answers with (it follows none).
   */
  guarded?: { pinned: PinnedAnswers; noRedirects: string };
}

/** A job's answer: the metrics text and the module's verdict, or the one sentence of a 400. */
export type ProbeAnswer = { text: string; ok: boolean; bad?: undefined } | { bad: string };

/**
 * Runs `job` with the module's options from `options` and the knowledge base `kb`. A module that
 * cannot be used (its trust store does not open) or a target the probe refuses is `bad`; anything
 * else thrown is a fault of this program and is thrown on. `signal` stops the probe (its sockets
 * and timers released); the promise then rejects with the signal's reason.
 */
export async function runProbeJob(
  kb: Kb,
  options: ModuleOptions,
  job: ProbeJob,
  signal?: AbortSignal,
): Promise<ProbeAnswer> {
  try {
    let opts = await options.optionsFor(job.module, job.target);
    if (signal) opts.signal = signal;
    if (job.guarded) {
      opts = pinResolution(opts, pinnedFrom(job.guarded.pinned));
      opts.http = { ...opts.http, maxRedirects: 0, noRedirects: job.guarded.noRedirects };
    }
    if (job.budgetMs !== undefined) {
      opts.budgetMs = Math.min(job.budgetMs, opts.budgetMs ?? opts.timeoutMs * BUDGET_TIMEOUTS);
      opts.timeoutMs = Math.min(opts.timeoutMs, opts.budgetMs);
    }
    const started = performance.now();
    const result = await probe(kb, opts);
    const ms = performance.now() - started;
    const { ok } = verdict(job.module, result);
    return { text: await probeMetrics(result, ms, ok), ok };
  } catch (e) {
    if (e instanceof UserError) return { bad: e.message };
    throw e;
  }
}
