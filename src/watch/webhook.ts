// Webhooks: each change goes to every webhook once, as generic JSON or in the format of Slack or
// Microsoft Teams incoming webhooks, with retries. Deliveries are queued in the history database in the
// same transaction as the change, and marked sent when the receiver answered 2xx; each request carries
// an Idempotency-Key, so that a receiver can drop the one resend a kill between the answer and the mark
// could cause. A webhook's URL is a secret (Slack's and Teams' are tokens): it is never printed or stored.
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';
import type { Change, History } from './history.js';

export type WebhookFormat = 'json' | 'slack' | 'teams';

export interface Webhook {
  url: URL;
  format: WebhookFormat;
  /** What the history stores: a hash of the URL, never the URL. */
  key: string;
  /** How messages name it: its format and host, never its path (it may hold a token). */
  label: string;
}

/** A webhook from `[json|slack|teams=]URL` (http or https). Throws UserError, without echoing the URL. */
export function parseWebhook(raw: string): Webhook {
  const m = /^(json|slack|teams)=(.*)$/s.exec(raw);
  const format = (m?.[1] ?? 'json') as WebhookFormat;
  let url: URL;
  try {
    url = new URL(m ? m[2]! : raw);
  } catch {
    throw new UserError('--webhook takes [json|slack|teams=]URL, and that is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new UserError(`--webhook takes an http or https URL, not ${url.protocol}`);
  const key = createHash('sha256').update(url.href).digest('hex').slice(0, 16);
  return { url, format, key, label: `${format} webhook to ${url.host}` };
}

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
}

export const DEFAULT_DELIVERY: DeliveryOptions = { attempts: 8, backoffMs: 2000, timeoutMs: 10_000 };

/** Sends the due deliveries of a history, one at a time (so that none is sent twice at once). */
export class Deliverer {
  private readonly byKey: Map<string, Webhook>;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<number> | undefined;

  constructor(
    private readonly history: History,
    webhooks: Webhook[],
    private readonly opts: DeliveryOptions = DEFAULT_DELIVERY,
    /** Told of each delivery given up, in one sentence. */
    private readonly onGiveUp: (sentence: string) => void = () => undefined,
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
        if (r.status < 200 || r.status > 299) error = `answered ${r.status}`;
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
      this.history.delivered(d.change.id, d.webhook, {
        ok: false,
        error,
        ...(giveUp ? {} : { nextAt: Date.now() + this.opts.backoffMs * 2 ** (attempts - 1) }),
      });
      if (giveUp)
        this.onGiveUp(
          `the ${hook.label} ${error} ${attempts} times: change ${d.change.id} (${d.change.target}) not delivered`,
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
