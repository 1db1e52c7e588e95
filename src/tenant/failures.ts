// `tenant failures`: the failed messages of a window, their error texts, each diagnosed by the same
// matcher as `scan` and grouped by the same Grouper, so that the reports are scan's own. The MPLs
// come page by page (tenant-api.md §4, §8.1); the error texts (`ErrorInformation/$value`, text/plain,
// §8.1) are fetched concurrently with a bound, and identical texts are diagnosed once.
import type { Kb } from '../kb/load.js';
import { Grouper } from '../scan/group.js';
import type { Candidate, Incident, Place, Problem } from '../scan/incident.js';
import { mplCandidate } from '../scan/mpl.js';
import { buildPrefilter } from '../scan/prefilter.js';
import { classify, LOG_MIN_CONFIDENCE, type ScanResult } from '../scan/run.js';
import { UserError } from '../errors.js';
import { closestName } from '../cli/usage-error.js';
import { printable } from '../report/printable.js';
import { deployedArtifacts } from './endpoints.js';
import type { TenantClient } from './client.js';
import { errorTextPath, type Mpl, mplOf, mplQuery } from './entities.js';

/** The statuses read by default: the failed ones, final and not yet final (tenant-api.md §8.1). */
export const DEFAULT_STATUSES = ['FAILED', 'RETRY', 'ESCALATED'];
/** Error texts fetched at once: well under the MPL rate limit of 100 req/s per user (§4). */
export const TEXT_CONCURRENCY = 8;
/** An error text is a stack trace at most; beyond this it is cut. */
const TEXT_MAX_BYTES = 1024 * 1024;
const MPL_ID_LINE = /\s*The MPL ID for the failed message is\s*:\s*\S+\s*$/;

export interface FailuresOptions {
  /** The window, epoch ms. */
  since: number;
  until?: number;
  statuses: string[];
  iflow?: string;
  /** Messages read at most (newest first); the rest is left and said so. */
  maxMessages: number;
  concurrency?: number;
  onProgress?: (p: FailuresProgress) => void;
  /** Called for each incident once all are known, in the tenant's order (newest first). */
  onIncident?: (inc: Incident) => void | Promise<void>;
  /** Called for each message whose error text could not be read, with why (scan's problems). */
  onProblem?: (p: Problem) => void;
}

export interface FailuresProgress {
  phase: 'messages' | 'texts';
  done: number;
  total?: number;
}

export interface FailuresResult {
  /** The same shape as a scan's result, for scan's renderers. */
  scan: ScanResult;
  messages: number;
  /** Messages the tenant counted in the window (`__count`), when it said. */
  counted?: number;
  /** Messages with an error text, distinct texts among them, and texts that could not be read. */
  texts: number;
  distinct: number;
  unread: number;
  truncated: boolean;
}

/** Runs `jobs` with at most `n` at once, in order of their index. */
async function pool<T>(items: T[], n: number, job: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await job(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/**
 * Throws UserError when no deployed integration flow (IntegrationRuntimeArtifacts, by Id or Name) is
 * called `iflow`, naming the closest (the same name in another case first); returns when one is, or
 * when the tenant does not list its artifacts (a missing role: the empty window stands).
 */
async function checkDeployedFlow(client: TenantClient, iflow: string): Promise<void> {
  let names: string[];
  try {
    names = (await deployedArtifacts(client)).flatMap((a) => [a.id, a.name]);
  } catch (e) {
    if (e instanceof UserError) return;
    throw e;
  }
  if (names.includes(iflow)) return;
  const near = names.find((n) => n.toLowerCase() === iflow.toLowerCase()) ?? closestName(iflow, names);
  throw new UserError(
    `no deployed integration flow of the tenant is called ${printable(iflow)}` +
      (near
        ? `; did you mean ${printable(near)}? (--iflow takes the exact name, case included)`
        : ' (--iflow takes the exact name, case included; linkdoctor tenant endpoints lists the flows)'),
  );
}

/** Reads, diagnoses and groups the failed messages of the window. Throws UserError as the client does. */
/** Where a message is, as scan's places say it: the monitor's link to it (AlternateWebLink, §8.1), else its entity. */
const placeOf = (m: Mpl): Place => ({ file: m.link ?? `MessageProcessingLogs('${m.messageGuid}')` });

export async function tenantFailures(
  kb: Kb,
  client: TenantClient,
  o: FailuresOptions,
): Promise<FailuresResult> {
  const started = performance.now();
  const mpls: Mpl[] = [];
  let counted: number | undefined;
  let truncated = false;
  for await (const page of client.pages(mplQuery(o), {
    maxRows: o.maxMessages,
    onPage: (rows, count) => {
      counted ??= count;
      o.onProgress?.({ phase: 'messages', done: rows, ...(count !== undefined ? { total: count } : {}) });
    },
  })) {
    for (const r of page) {
      const m = mplOf(r);
      if (m) mpls.push(m);
    }
    if (mpls.length >= o.maxMessages) {
      truncated = mpls.length > o.maxMessages || (counted !== undefined && counted > o.maxMessages);
      mpls.length = Math.min(mpls.length, o.maxMessages);
      break;
    }
  }

  // No message of a named flow: a flow of another name (or case: OData's eq is exact) reads as healthy.
  if (o.iflow !== undefined && mpls.length === 0) await checkDeployedFlow(client, o.iflow);

  // The error texts; DISCARDED MPLs have none, and a 204 means none yet (tenant-api.md §5 quirks).
  const texts: (string | undefined)[] = new Array(mpls.length);
  let done = 0;
  let unread = 0;
  const unreadAt = new Set<number>();
  /** Messages whose ErrorInformation answered an empty (or blank) text: read, and nothing in it. */
  const emptyAt = new Set<number>();
  let firstError: unknown;
  await pool(mpls, o.concurrency ?? TEXT_CONCURRENCY, async (m, i) => {
    try {
      const a = await client.get(errorTextPath(m.messageGuid), { accept: 'text', maxBytes: TEXT_MAX_BYTES });
      const body = a.status === 204 ? undefined : a.body.toString('utf8');
      if (body !== undefined && !body.trim()) emptyAt.add(i);
      else texts[i] = body;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      unread++;
      unreadAt.add(i);
      firstError ??= e;
      o.onProblem?.({
        place: placeOf(m),
        message: `its error text could not be read: ${e.message}`,
      });
      // A missing role or a refused token fails every text alike: stop at the first.
      if (/\((401|403)\)/.test(e.message)) throw e;
    }
    o.onProgress?.({ phase: 'texts', done: ++done, total: mpls.length });
  });
  if (unread && unread === mpls.length) throw firstError;

  // Diagnose each distinct text once; every message gets its own place, time and iFlow.
  const pf = buildPrefilter(kb, LOG_MIN_CONFIDENCE);
  const grouper = new Grouper();
  const byText = new Map<string, Incident | null>();
  /** The distinct error texts read (a message without one is not a text). */
  const distinct = new Set<string>();
  let bytes = 0;
  for (let i = 0; i < mpls.length; i++) {
    const m = mpls[i]!;
    const text = texts[i];
    const rec = { ...m.raw, ...(text ? { ErrorText: text } : {}) };
    // The monitor's link is where a user opens the message (AlternateWebLink, §8.1).
    // Why a failed message has no text: it could not be read, it is empty (a flow that failed without
    // one: an Error End event, a script's exception without a message), or 204 from
    // ErrorInformation/$value: the tenant has no error text for it (yet), §5 quirks.
    const noText = unreadAt.has(i)
      ? 'its error text could not be read from the tenant'
      : emptyAt.has(i)
        ? 'the tenant gave no error text (its ErrorInformation is empty)'
        : 'the tenant has no error text for this message (yet): its ErrorInformation answered No Content';
    const c: Candidate | null = mplCandidate(rec, placeOf(m), noText);
    if (!c) continue;
    bytes += Buffer.byteLength(c.text);
    // Identical texts but for the platform's closing "The MPL ID for the failed message is : <id>"
    // line (tenant-api.md §8.1, real example) are one text to the matcher.
    // Messages without a text are grouped by why they have none, each under its own sentence.
    const key = `${c.failing ?? ''}\0${text === undefined ? noText : ''}\0${c.text.replace(MPL_ID_LINE, '')}`;
    if (text !== undefined) distinct.add(key);
    let known = byText.get(key);
    if (known === undefined) byText.set(key, (known = classify(c, pf)));
    if (!known) continue;
    const { place: _p, time: _t, at: _a, iflow: _i, messageGuid: _g, ...shared } = known;
    const inc: Incident = {
      ...shared,
      place: c.place,
      ...(c.time !== undefined ? { time: c.time } : {}),
      ...(c.at !== undefined ? { at: c.at } : {}),
      ...(c.iflow !== undefined ? { iflow: c.iflow } : {}),
      ...(c.messageGuid !== undefined ? { messageGuid: c.messageGuid } : {}),
    };
    grouper.add(inc);
    await o.onIncident?.(inc);
  }
  const withText = texts.filter((t) => t !== undefined).length;
  return {
    scan: {
      files: 1,
      bytes,
      grouper,
      problems: unread,
      unreadable: 0,
      seconds: (performance.now() - started) / 1000,
      prefilter: { entries: pf.entries, literals: pf.literals, notes: pf.notes },
    },
    messages: mpls.length,
    ...(counted !== undefined ? { counted } : {}),
    texts: withText,
    distinct: distinct.size,
    unread,
    truncated,
  };
}
