// Webhooks: each change goes to every webhook once, as generic JSON or in the format of Slack or
// Microsoft Teams incoming webhooks, with retries. Deliveries are queued in the history database in the
// same transaction as the change, and marked sent when the receiver answered 2xx; each request carries
// an Idempotency-Key, so that a receiver can drop the one resend a kill between the answer and the mark
// could cause. A webhook's URL is a secret (Slack's and Teams' are tokens): it is never printed or stored.
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import { andList } from '../report/width.js';
import type { Change, History } from './history.js';

export type WebhookFormat = 'json' | 'slack' | 'teams';

export interface Webhook {
  url: URL;
  format: WebhookFormat;
  /** What the history stores: a hash of the URL, never the URL. */
  key: string;
  /** How messages name it: its format and host ("slack webhook hooks.slack.com"), never its path (a token). */
  label: string;
}

const FORMATS: readonly WebhookFormat[] = ['json', 'slack', 'teams'];

/**
 * The format a `[json|slack|teams=]REST` spec names (json when none) and the rest. A URL cannot
 * begin with `word=` (its scheme ends with ":"), so such a prefix is a format's name: one that is
 * none of the formats is refused in one sentence naming it and the formats, never the rest (a
 * webhook's URL is a secret). `from` names the option in that sentence. Throws UserError.
 */
function splitFormat(spec: string, from: string): { format: WebhookFormat; rest: string; named: boolean } {
  const m = /^([A-Za-z][\w.+-]*)=(.*)$/s.exec(spec);
  if (!m) return { format: 'json', rest: spec, named: false };
  const name = m[1]!;
  if (!(FORMATS as readonly string[]).includes(name))
    throw new UserError(
      `${from}: unknown webhook format '${name.slice(0, 40)}' (the formats are ${andList(FORMATS)})`,
    );
  return { format: name as WebhookFormat, rest: m[2]!, named: true };
}

/**
 * A webhook from `[json|slack|teams=]URL` (http or https). `from` names where `raw` came from in the
 * errors ("--webhook", "--webhook-env VAR"). Throws UserError, without echoing the URL.
 */
export function parseWebhook(raw: string, from = '--webhook'): Webhook {
  const { format, rest } = splitFormat(raw, from);
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new UserError(`${from} takes [json|slack|teams=]URL, and that is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UserError(`${from} takes an http or https URL, not ${url.protocol}`);
  const key = createHash('sha256').update(url.href).digest('hex').slice(0, 16);
  return { url, format, key, label: `${format} webhook ${url.host}` };
}

/**
 * `--webhook-env [json|slack|teams=]VAR`: the webhook whose URL the environment variable VAR holds,
 * so that the URL (a token, for Slack and Teams) stays out of the process list and the shell's
 * history. Returns the `[format=]URL` that --webhook would take. Throws UserError naming VAR, never
 * its value.
 */
export function webhookFromEnv(spec: string, env: NodeJS.ProcessEnv = process.env): string {
  const { format, rest: name, named } = splitFormat(spec, '--webhook-env');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new UserError(
      `--webhook-env takes [json|slack|teams=]VAR, the name of an environment variable holding the URL, not "${name.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')}"`,
    );
  const value = env[name];
  if (!value) throw new UserError(`--webhook-env ${name}: the environment variable ${name} is not set`);
  const raw = named ? `${format}=${value.trim()}` : value.trim();
  parseWebhook(raw, `--webhook-env ${name} (the variable's value)`);
  return raw;
}

/** The warning for a webhook URL on the command line: the process list and the shell's history show it. */
export const WEBHOOK_ARGV_WARNING =
  "warning: --webhook puts the webhook's URL, a secret for Slack and Teams, in the process list and the shell's history: give it with --webhook-env VAR";

const ICON: Record<Change['kind'], string> = {
  failure: '🔴',
  recovery: '🟢',
  'cert-rotated': '🔄',
  'cert-alternating': '🔁',
  'new-issuer': '🏷️',
  'host-key-changed': '🔑',
  expiry: '⏳',
};

/** The change in one line: target, what happened. */
export function changeLine(c: Change): string {
  return `${c.target}: ${c.text}`;
}

/**
 * Text for Slack's `text` field: Slack's own escaping, `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;`
 * and nothing else (api.slack.com/reference/surfaces/formatting#escaping), so that text from a
 * server (a certificate's subject) cannot be a link (`<url|label>`) or a mention (`<!channel>`).
 */
export function slackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Text for a Teams MessageCard's `title` and `text`, which Teams reads as Markdown with some HTML:
 * `&`, `<`, `>` as HTML entities, and the Markdown marks that make links, images, emphasis, code
 * and headings (backslash, ` * _ [ ] ~ # |) behind a backslash, so that foreign text shows as written and
 * cannot be a link (`[label](url)`) or an HTML tag.
 */
export function teamsText(text: string): string {
  return text
    .replace(/[\\`*_[\]~#|]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** The request body of a change in a webhook's format (Slack's and Teams' text escaped by their rules). */
export function webhookBody(c: Change, format: WebhookFormat): unknown {
  const line = `${ICON[c.kind]} linkdoctor: ${changeLine(c)}`;
  switch (format) {
    case 'slack':
      return { text: slackText(`${line}\n${c.url}`) };
    case 'teams':
      return {
        '@type': 'MessageCard',
        '@context': 'https://schema.org/extensions',
        // The notification's plain text: shown as is.
        summary: line,
        title: teamsText(`linkdoctor: ${c.target}`),
        text: `${teamsText(c.text)}\n\n${teamsText(c.url)}`,
      };
    default:
      return { event: 'linkdoctor.change', change: c };
  }
}

export interface DeliveryOptions {
  /** Attempts before a delivery is given up. */
  attempts: number;
  /** The wait after the first failed attempt; doubled after each further one. */
  backoffMs: number;
  /** Bound of one request. */
  timeoutMs: number;
  /**
   * Set by a one-shot run (check --db without --every), which ends before any retry: when a failed
   * delivery is tried again, said instead of "again in N s" ("at the next run of check --db h.db").
   */
  nextRun?: string;
}

export const DEFAULT_DELIVERY: DeliveryOptions = { attempts: 8, backoffMs: 2000, timeoutMs: 10_000 };

/** "20 ms", "2 s", "4 min": a wait as a person reads it. */
function waitText(ms: number): string {
  return ms < 1000
    ? `${ms} ms`
    : ms < 120_000
      ? `${Math.round(ms / 1000)} s`
      : `${Math.round(ms / 60_000)} min`;
}

/** Sends the due deliveries of a history, one at a time (so that none is sent twice at once). */
export class Deliverer {
  private readonly byKey: Map<string, Webhook>;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<number> | undefined;

  constructor(
    private readonly history: History,
    webhooks: Webhook[],
    private readonly opts: DeliveryOptions = DEFAULT_DELIVERY,
    /**
     * Told of each failed attempt and of each delivery given up, in one sentence that names the
     * webhook by its format and host only ("slack webhook hooks.slack.com: HTTP 500 ...").
     */
    private readonly tell: (sentence: string) => void = () => undefined,
  ) {
    this.byKey = new Map(webhooks.map((w) => [w.key, w]));
  }

  /** Sends every delivery due now; resolves to how many were sent. Never runs twice at once. */
  deliverDue(): Promise<number> {
    this.busy ??= this.send().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async send(): Promise<number> {
    let sent = 0;
    for (const d of this.history.due(Date.now())) {
      const hook = this.byKey.get(d.webhook);
      // A webhook no longer configured: its deliveries wait for it.
      if (!hook) continue;
      let error: string | undefined;
      try {
        const r = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'linkdoctor-webhook',
            'idempotency-key': `linkdoctor-change-${d.change.id}`,
          },
          body: JSON.stringify(webhookBody(d.change, hook.format)),
          redirect: 'manual',
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
        await r.body?.cancel();
        if (r.status < 200 || r.status > 299) error = `HTTP ${r.status}`;
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause?.code;
        error = (e as Error).name === 'TimeoutError' ? 'no answer in time' : (cause ?? 'the request failed');
      }
      if (!error) {
        this.history.delivered(d.change.id, d.webhook, { ok: true });
        sent++;
        continue;
      }
      const attempts = d.attempts + 1;
      const giveUp = attempts >= this.opts.attempts;
      const waitMs = this.opts.backoffMs * 2 ** (attempts - 1);
      this.history.delivered(d.change.id, d.webhook, {
        ok: false,
        error,
        ...(giveUp ? {} : { nextAt: Date.now() + waitMs }),
      });
      this.tell(
        giveUp
          ? `${hook.label}: ${error}, ${attempts} attempts: change ${d.change.id} (${d.change.target}) not delivered, given up`
          : `${hook.label}: ${error} (attempt ${attempts} of ${this.opts.attempts}; ${this.opts.nextRun ? `it waits in the database and is tried again ${this.opts.nextRun}` : `again in ${waitText(waitMs)}`})`,
      );
    }
    return sent;
  }

  /** Sends due deliveries every `everyMs` until stop(). */
  start(everyMs = 1000): void {
    const tick = () => {
      void this.deliverDue().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops, after the sending under way. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.busy;
  }
}
