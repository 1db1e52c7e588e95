// The Prometheus exporter, as a fastify plugin that `linkdoctor serve` mounts: GET /probe runs one
// probe in the multi-target exporter pattern (blackbox_exporter's `/probe?target=URL&module=NAME`),
// GET /metrics shows the latest outcome of every inventory target and the server's own metrics.
import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { hostPort } from '../errors.js';
import type { Kb } from '../kb/load.js';
import type { CheckOutcome } from './check.js';
import { type Inventory, type Module, RESERVED_LABELS } from './inventory.js';
import { parseTarget } from '../probe/target.js';
import {
  inProbeSlot,
  MAX_PROBES_IN_FLIGHT,
  MAX_PROBES_WAITING,
  probeSlots,
  type ProbeSlots,
} from '../serve/probe-slots.js';
import { DEFAULT_TIMEOUT_S, ModuleOptions } from './options.js';
import { type ProbeJob, runProbeJob } from './probe-job.js';
import type { ProbePool } from './probe-pool.js';
import type { Watcher } from './watcher.js';

export interface ExporterContext {
  kb: Kb;
  /** The modules /probe may use and the targets /metrics shows; without one, only the default module. */
  inventory?: Inventory;
  /** The schedule whose latest outcomes /metrics shows. */
  watcher?: Watcher;
  /**
   * Worker threads that run /probe's probes (loaded with the same knowledge base as `kb`); without
   * one, or once it has failed, the request's own thread probes.
   */
  pool?: ProbePool;
}

/** Prometheus's text format, version 0.0.4, as prom-client writes it. */
const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** Does a module send anything secret (credentials, a client certificate, a key, its own headers)? */
export function carriesSecrets(m: Module): boolean {
  return !!(m.user || m.password_env || m.oauth_token_url || m.client_cert || m.identity || m.headers);
}

/** What a probe leaves of Prometheus's scrape timeout for the answer to travel (blackbox_exporter's --timeout-offset default). */
export const SCRAPE_MARGIN_MS = 500;

/**
 * The whole probe's bound from Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` header, as
 * blackbox_exporter reads it: the scrape timeout less SCRAPE_MARGIN_MS (half of it when it is
 * shorter than twice the margin); undefined without a usable header.
 */
export function scrapeBudgetMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  if (!(seconds > 0) || !Number.isFinite(seconds)) return undefined;
  const ms = seconds * 1000;
  return Math.max(ms / 2, ms - SCRAPE_MARGIN_MS);
}

/** Milliseconds as seconds for a sentence: "5 s", "1.5 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/** The host name of a URL; undefined for one that does not parse (the probe tells that itself). */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/**
 * The target `raw` names, written one way, as the probe reads it (parseTarget: a bare host is https,
 * WHATWG URL parsing): scheme and host in lower case, the port as a number (443 and none are one),
 * the user, the path (an https URL's empty path is "/") and query. "https://h:443", "HTTPS://h/" and
 * "https://h/" are one target; another host, port, user, path or query is another. undefined when
 * the probe would refuse `raw`.
 */
export function targetKey(raw: string): string | undefined {
  try {
    const t = parseTarget(raw);
    const user = t.user === undefined ? '' : `${encodeURIComponent(t.user)}@`;
    return `${t.scheme}://${user}${hostPort(t.host.toLowerCase(), t.port)}${t.url.pathname}${t.url.search}`;
  } catch {
    return undefined;
  }
}

/**
 * Label names an inventory label cannot have on /metrics: ours (an inventory refuses them) and those
 * Prometheus sets on every scraped series (instance, job): such a label becomes label_NAME.
 */
const RESERVED = new Set([...RESERVED_LABELS, 'instance', 'job']);

/**
 * The exporter's routes for `ctx`. /probe answers 400 with one sentence for a missing or bad target,
 * an unknown module, or a module with secrets asked to probe a target the inventory does not list
 * for it (its credentials go only to the hosts the user named).
 */
export function exporterRoutes(ctx: ExporterContext): FastifyPluginAsync {
  return async (app) => {
    const own = new Registry();
    collectDefaultMetrics({ register: own });
    const probes = new Counter({
      name: 'linkdoctor_probes_total',
      help: 'Probes run through /probe, by module and result',
      labelNames: ['module', 'result'],
      registers: [own],
    });
    // The probe slots of POST /api/probe and GET /probe: `serve`'s (one cap for both routes), or
    // this exporter's own when it is mounted elsewhere.
    const slots: ProbeSlots = (app as Partial<typeof app>).linkdoctor ?? probeSlots();
    new Gauge({
      name: 'linkdoctor_api_probes_in_flight',
      help: `Probes of POST /api/probe and GET /probe running now (at most ${MAX_PROBES_IN_FLIGHT}; then a scrape waits, an API request gets 429)`,
      registers: [own],
      collect() {
        this.set(slots.probesInFlight);
      },
    });
    new Gauge({
      name: 'linkdoctor_api_probes_waiting',
      help: `Scrapes of GET /probe waiting for a probe slot now, first come first served (at most ${MAX_PROBES_WAITING}; the next gets 429)`,
      registers: [own],
      collect() {
        this.set(slots.probesWaiting.size);
      },
    });
    const options = ctx.watcher?.options ?? new ModuleOptions();
    const modules = ctx.inventory?.modules ?? new Map<string, Module>();
    // The targets a module with credentials may probe, compared as the probe reads them (targetKey).
    const listed = new Set(
      (ctx.inventory?.targets ?? []).map((t) => `${t.module.name}\n${targetKey(t.requestUrl)}`),
    );

    app.get('/probe', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const bad = (sentence: string) =>
        reply.code(400).type('text/plain; charset=utf-8').send(`${sentence}\n`);
      const target = typeof q.target === 'string' ? q.target : undefined;
      if (!target) return bad('Target parameter is missing (/probe?target=URL&module=NAME)');
      const name = typeof q.module === 'string' && q.module ? q.module : 'default';
      const module = modules.get(name) ?? (name === 'default' ? { name } : undefined);
      if (!module)
        return bad(
          `Unknown module "${name}" (${modules.size ? `modules: ${[...modules.keys()].join(', ')}` : 'serve has no --inventory'})`,
        );
      const key = targetKey(target);
      if (carriesSecrets(module) && (key === undefined || !listed.has(`${name}\n${key}`)))
        return bad(
          `module "${name}" carries credentials: it probes only the targets the inventory lists for it`,
        );
      const job: ProbeJob = { module, target };
      const names = req.checkedNames;
      if (names) {
        // Connect to exactly the addresses the target check saw. The module's token URL is the
        // operator's own (inventory), so it is resolved once here and pinned too. A redirect could
        // lead to an address nobody checked: a guarded server follows none.
        const tokenHost = module.oauth_token_url ? hostOf(module.oauth_token_url) : undefined;
        if (tokenHost) await names.resolve(tokenHost).catch(() => undefined);
        job.guarded = {
          pinned: await names.answered(),
          noRedirects: `this server follows no redirects: it is ${app.linkdoctor.exposed ? 'exposed beyond loopback' : 'limited by --allow-targets'}; probe that address itself`,
        };
      }
      const budget = scrapeBudgetMs(req.headers['x-prometheus-scrape-timeout-seconds']);
      // In one of the server's probe slots. When all are taken the scrape waits in line, as long as
      // its probe could run (the scrape budget, else the module's timeout), and then gets 503: the
      // exporter could not probe, which Prometheus shows as a failed scrape (up 0), not as a
      // target that failed (probe_success 0, a timeout the target never caused). A scraper that
      // hangs up (its scrape timeout passed) leaves the line, or stops its probe.
      const waitMs = budget ?? module.timeout ?? DEFAULT_TIMEOUT_S * 1000;
      const late = `this server's ${MAX_PROBES_IN_FLIGHT} probe slots stayed taken for ${seconds(waitMs)}, ${budget === undefined ? "the module's timeout" : 'the scrape timeout less its margin'}; the target was not probed`;
      return inProbeSlot(
        slots,
        reply,
        async (signal, _handOver, waitedMs) => {
          // The time spent in line counts against the scrape timeout.
          if (budget !== undefined) job.budgetMs = Math.max(1, budget - waitedMs);
          const answer =
            ctx.pool?.usable === true
              ? await ctx.pool.run(job, signal)
              : await runProbeJob(ctx.kb, options, job, signal);
          if (answer.bad !== undefined) return bad(answer.bad);
          probes.inc({ module: name, result: answer.ok ? 'success' : 'failure' });
          return reply.type(CONTENT_TYPE).send(answer.text);
        },
        { ms: waitMs, late },
      );
    });

    app.get('/metrics', async (_req, reply) => {
      const latest = ctx.watcher ? [...ctx.watcher.latest.values()] : [];
      const text = (await own.metrics()) + (await latestMetrics(latest, ctx.inventory));
      return reply.type(CONTENT_TYPE).send(text);
    });
  };
}

/** The latest outcome of each inventory target as gauges, labelled with its name, URL, module and labels. */
async function latestMetrics(outcomes: CheckOutcome[], inventory?: Inventory): Promise<string> {
  const registry = new Registry();
  const own = [...new Set((inventory?.targets ?? []).flatMap((t) => Object.keys(t.labels)))];
  const nameOf = (k: string) => (RESERVED.has(k) || k.startsWith('__') ? `label_${k.replace(/^_+/, '')}` : k);
  const labelNames = ['target', 'url', 'module', ...own.map(nameOf)];
  const gauge = (name: string, help: string, extra: string[] = []) =>
    new Gauge({ name, help, labelNames: [...labelNames, ...extra], registers: [registry] });
  const success = gauge('linkdoctor_target_success', 'Whether the latest check of the target succeeded');
  const at = gauge(
    'linkdoctor_target_last_check_timestamp_seconds',
    'When the latest check of the target started',
  );
  const seconds = gauge('linkdoctor_target_duration_seconds', 'How long the latest check of the target took');
  const expiry = gauge(
    'linkdoctor_target_cert_expiry_timestamp_seconds',
    'The earliest notAfter of the chain the target sent, in unixtime',
  );
  const status = gauge('linkdoctor_target_http_status_code', 'The HTTP status of the latest check');
  const diagnosis = gauge(
    'linkdoctor_target_diagnosis',
    'Why the latest check failed: entry, cause and failing step',
    ['id', 'cause', 'step'],
  );
  for (const o of outcomes) {
    const labels: Record<string, string> = {
      target: o.target.name,
      url: o.target.url,
      module: o.target.module.name,
    };
    for (const k of own) labels[nameOf(k)] = o.target.labels[k] ?? '';
    success.set(labels, o.ok ? 1 : 0);
    at.set(labels, Date.parse(o.at) / 1000);
    seconds.set(labels, o.ms / 1000);
    const s = o.summary;
    if (s.certExpiry) expiry.set(labels, Date.parse(s.certExpiry) / 1000);
    if (s.status !== undefined) status.set(labels, s.status);
    if (!o.ok)
      diagnosis.set(
        { ...labels, id: s.diagnosis?.id ?? '', cause: s.diagnosis?.cause ?? '', step: s.failedStep ?? '' },
        1,
      );
  }
  return registry.metrics();
}
