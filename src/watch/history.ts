// The history store: every check outcome, the changes it showed (a certificate rotated, a new issuer,
// a host key changed, a new failure, a recovery, an expiry threshold crossed) and the webhook
// deliveries of each change, in one SQLite database (better-sqlite3, WAL mode). An outcome, its changes
// and their deliveries are written in one transaction: what is committed survives a killed process,
// and no change is recorded or delivered twice. Only src/watch writes here.
import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { UserError } from '../errors.js';
import { FileReadError, notRegularFile } from '../fs-read.js';
import type { CheckOutcome, TargetSummary } from './check.js';

/** The expiry thresholds, in days, whose crossing is a change. */
export const EXPIRY_THRESHOLDS = [30, 14, 7, 1];

export type ChangeKind =
  'cert-rotated' | 'cert-alternating' | 'new-issuer' | 'host-key-changed' | 'failure' | 'recovery' | 'expiry';

/**
 * How long a target's certificates are remembered as "seen" (days): a swap to one seen within it
 * (another node behind a load balancer, a renewal rolling out) is no rotation and no new issuer.
 */
export const CERT_MEMORY_DAYS = 30;

/**
 * What the history remembers of a target's certificates, for `changesBetween`: each leaf certificate
 * it showed (by SHA-256 fingerprint) with its issuer, the fewest days left it was seen with (the
 * expiry thresholds already told for it), and whether it was seen within CERT_MEMORY_DAYS.
 */
export interface CertMemory {
  /** The certificates by fingerprint; `recent`: seen within CERT_MEMORY_DAYS. */
  certs: Map<string, { issuer?: string; daysLeft?: number; recent: boolean }>;
  /** How many certificates the last cert-alternating change of the target counted (within the memory). */
  alternatingSaid?: number;
}

/** One change, as stored and as sent to webhooks. */
export interface Change {
  id: number;
  target: string;
  url: string;
  at: string;
  kind: ChangeKind;
  /** One sentence for people. */
  text: string;
  from?: string;
  to?: string;
  labels: Record<string, string>;
  /** The diagnosis of a failure. */
  diagnosis?: { id: string; title: string; cause?: string };
}

/** One stored result (the summary of an outcome). */
export interface StoredResult {
  id: number;
  target: string;
  url: string;
  module: string;
  at: string;
  ok: boolean;
  ms: number;
  error?: string;
  summary: TargetSummary;
}

/** The default database: $XDG_DATA_HOME/linkdoctor/history.db, else ~/.local/share/linkdoctor/history.db. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'linkdoctor', 'history.db');
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS results (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  url TEXT NOT NULL,
  module TEXT NOT NULL,
  at TEXT NOT NULL,
  ok INTEGER NOT NULL,
  ms INTEGER NOT NULL,
  error TEXT,
  summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_target_at ON results (target, at);
CREATE INDEX IF NOT EXISTS results_at ON results (at);
CREATE TABLE IF NOT EXISTS changes (
  id INTEGER PRIMARY KEY,
  result_id INTEGER NOT NULL REFERENCES results (id),
  target TEXT NOT NULL,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_target_at ON changes (target, at);
CREATE TABLE IF NOT EXISTS certs (
  target TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  issuer TEXT,
  days_left INTEGER,
  last_at TEXT NOT NULL,
  PRIMARY KEY (target, sha256)
);
CREATE TABLE IF NOT EXISTS deliveries (
  change_id INTEGER NOT NULL REFERENCES changes (id),
  webhook TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  PRIMARY KEY (change_id, webhook)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
`;

/**
 * The changes from the previous result of a target to this outcome (none for the first but a failure
 * or an expiry). With `memory` (the target's certificates so far), a certificate seen recently is no
 * rotation and its issuer no new issuer: the first swap back to one says once that the server
 * alternates between N certificates; and each expiry threshold is told once per certificate, however
 * often it comes and goes.
 */
export function changesBetween(
  prev: { ok: boolean; summary: TargetSummary } | undefined,
  o: CheckOutcome,
  memory: CertMemory = { certs: new Map() },
): Omit<Change, 'id' | 'target' | 'url' | 'at' | 'labels'>[] {
  const s = o.summary;
  const p = prev?.summary;
  const out: Omit<Change, 'id' | 'target' | 'url' | 'at' | 'labels'>[] = [];
  const swapped = !!(p?.certSha256 && s.certSha256 && p.certSha256 !== s.certSha256);
  const known = s.certSha256 ? memory.certs.get(s.certSha256) : undefined;
  const recent = [...memory.certs].filter(([sha, c]) => c.recent && sha !== s.certSha256);
  if (swapped && !known?.recent)
    out.push({
      kind: 'cert-rotated',
      text: `the server's certificate changed (SHA-256 ${p.certSha256!.slice(0, 23)}… → ${s.certSha256!.slice(0, 23)}…)`,
      from: p.certSha256!,
      to: s.certSha256!,
    });
  else if (swapped && recent.length + 1 !== memory.alternatingSaid) {
    const n = recent.length + 1;
    out.push({
      kind: 'cert-alternating',
      text: `the server alternates between ${n} certificates it showed in the last ${CERT_MEMORY_DAYS} days (nodes behind a load balancer, or a renewal under way): now SHA-256 ${s.certSha256!.slice(0, 23)}… again (was ${p.certSha256!.slice(0, 23)}…); further swaps among them are not told`,
      from: p.certSha256!,
      to: String(n),
    });
  }
  const issuerSeen = (issuer: string) =>
    [...memory.certs.values()].some((c) => c.recent && c.issuer === issuer);
  if (p?.certIssuer && s.certIssuer && p.certIssuer !== s.certIssuer && !issuerSeen(s.certIssuer))
    out.push({
      kind: 'new-issuer',
      text: `the certificate has a new issuer: ${s.certIssuer} (was ${p.certIssuer}); is it in the tenant's keystore?`,
      from: p.certIssuer,
      to: s.certIssuer,
    });
  if (p?.hostKey && s.hostKey && p.hostKey !== s.hostKey)
    out.push({
      kind: 'host-key-changed',
      text: `the SSH host key changed: ${s.hostKeyType ?? ''} ${s.hostKey} (was ${p.hostKey})`.replace(
        '  ',
        ' ',
      ),
      from: p.hostKey,
      to: s.hostKey,
    });
  if (!o.ok && (!prev || prev.ok || prev.summary.diagnosis?.id !== s.diagnosis?.id)) {
    const what = s.diagnosis
      ? `${s.diagnosis.id}${s.diagnosis.cause ? ` (${s.diagnosis.cause})` : ''}: ${s.diagnosis.title}`
      : (o.error ?? `${s.failedStep ?? 'a step'} failed`);
    out.push({
      kind: 'failure',
      text: `fails${s.failedStep ? ` at ${s.failedStep}` : ''}: ${what}`,
      ...(prev && !prev.ok && prev.summary.diagnosis ? { from: prev.summary.diagnosis.id } : {}),
      ...(s.diagnosis ? { to: s.diagnosis.id, diagnosis: s.diagnosis } : {}),
    });
  }
  if (o.ok && prev && !prev.ok)
    out.push({
      kind: 'recovery',
      text: 'works again',
      ...(prev.summary.diagnosis ? { from: prev.summary.diagnosis.id } : {}),
    });
  if (s.certDaysLeft !== undefined) {
    // The smallest threshold now reached that no earlier result of the same certificate had reached.
    const before = known?.daysLeft ?? (p?.certDaysLeft !== undefined && !swapped ? p.certDaysLeft : Infinity);
    const crossed = EXPIRY_THRESHOLDS.filter((t) => s.certDaysLeft! <= t && before > t);
    const t = crossed.at(-1);
    if (t !== undefined)
      out.push({
        kind: 'expiry',
        text:
          s.certDaysLeft < 0
            ? `the certificate expired ${-s.certDaysLeft} days ago (${s.certExpiry})`
            : `the certificate expires in ${s.certDaysLeft} days (${s.certExpiry}): ${t}-day threshold`,
        to: String(t),
      });
  }
  return out;
}

/** The history database. Open it with `openHistory`; close it when done. */
export class History {
  private readonly insertResult: BetterSqlite3.Statement;
  private readonly insertChange: BetterSqlite3.Statement;
  private readonly insertDelivery: BetterSqlite3.Statement;
  private readonly lastOf: BetterSqlite3.Statement;
  private readonly certsOf: BetterSqlite3.Statement;
  private readonly lastAlternating: BetterSqlite3.Statement;
  private readonly upsertCert: BetterSqlite3.Statement;

  constructor(
    readonly db: BetterSqlite3.Database,
    /** The keys of the webhooks every new change is queued for. */
    private readonly webhooks: string[] = [],
  ) {
    this.insertResult = db.prepare(
      'INSERT INTO results (target, url, module, at, ok, ms, error, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertChange = db.prepare(
      'INSERT INTO changes (result_id, target, at, kind, body) VALUES (?, ?, ?, ?, ?)',
    );
    this.insertDelivery = db.prepare(
      'INSERT OR IGNORE INTO deliveries (change_id, webhook, next_at) VALUES (?, ?, ?)',
    );
    this.lastOf = db.prepare('SELECT ok, summary FROM results WHERE target = ? ORDER BY id DESC LIMIT 1');
    this.certsOf = db.prepare('SELECT sha256, issuer, days_left, last_at FROM certs WHERE target = ?');
    this.lastAlternating = db.prepare(
      "SELECT body FROM changes WHERE target = ? AND kind = 'cert-alternating' AND at >= ? ORDER BY id DESC LIMIT 1",
    );
    // The fewest days left a certificate was seen with: the thresholds already told for it.
    this.upsertCert = db.prepare(
      `INSERT INTO certs (target, sha256, issuer, days_left, last_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target, sha256) DO UPDATE SET issuer = excluded.issuer, last_at = excluded.last_at,
         days_left = min(coalesce(days_left, excluded.days_left), coalesce(excluded.days_left, days_left))`,
    );
  }

  /**
   * Records an outcome with the changes it shows against the target's previous result, and queues
   * each change for every webhook, in one transaction. Returns the changes.
   */
  record(o: CheckOutcome): Change[] {
    return this.db.transaction(() => {
      const last = this.lastOf.get(o.target.name) as { ok: number; summary: string } | undefined;
      const prev = last ? { ok: !!last.ok, summary: JSON.parse(last.summary) as TargetSummary } : undefined;
      const memory = this.certMemory(o.target.name, o.at);
      const s = o.summary;
      if (s.certSha256)
        this.upsertCert.run(o.target.name, s.certSha256, s.certIssuer ?? null, s.certDaysLeft ?? null, o.at);
      const { lastInsertRowid } = this.insertResult.run(
        o.target.name,
        o.target.url,
        o.target.module.name,
        o.at,
        o.ok ? 1 : 0,
        o.ms,
        o.error ?? null,
        JSON.stringify(o.summary),
      );
      const changes: Change[] = [];
      for (const c of changesBetween(prev, o, memory)) {
        const change = { target: o.target.name, url: o.target.url, at: o.at, labels: o.target.labels, ...c };
        const { lastInsertRowid: id } = this.insertChange.run(
          lastInsertRowid,
          o.target.name,
          o.at,
          c.kind,
          JSON.stringify(change),
        );
        for (const w of this.webhooks) this.insertDelivery.run(id, w, Date.now());
        changes.push({ id: Number(id), ...change });
      }
      return changes;
    })();
  }

  /** What the history remembers of a target's certificates at `atIso` (see CertMemory). */
  private certMemory(target: string, atIso: string): CertMemory {
    const since = new Date(Date.parse(atIso) - CERT_MEMORY_DAYS * 86_400_000).toISOString();
    const rows = this.certsOf.all(target) as {
      sha256: string;
      issuer: string | null;
      days_left: number | null;
      last_at: string;
    }[];
    const certs: CertMemory['certs'] = new Map(
      rows.map((r) => [
        r.sha256,
        {
          ...(r.issuer !== null ? { issuer: r.issuer } : {}),
          ...(r.days_left !== null ? { daysLeft: r.days_left } : {}),
          recent: r.last_at >= since,
        },
      ]),
    );
    const said = this.lastAlternating.get(target, since) as { body: string } | undefined;
    const n = said ? Number((JSON.parse(said.body) as Change).to) : undefined;
    return { certs, ...(n ? { alternatingSaid: n } : {}) };
  }

  /** Results and changes since `sinceIso` (of one target when given), oldest first. */
  read(opts: { target?: string; sinceIso: string; limit?: number }): {
    results: StoredResult[];
    changes: Change[];
  } {
    const where = `at >= ?${opts.target ? ' AND target = ?' : ''}`;
    const args = opts.target ? [opts.sinceIso, opts.target] : [opts.sinceIso];
    const limit = opts.limit ?? 100_000;
    const results = (
      this.db
        .prepare(
          `SELECT * FROM (SELECT * FROM results WHERE ${where} ORDER BY id DESC LIMIT ${limit}) ORDER BY id`,
        )
        .all(...args) as {
        id: number;
        target: string;
        url: string;
        module: string;
        at: string;
        ok: number;
        ms: number;
        error: string | null;
        summary: string;
      }[]
    ).map((r) => ({
      id: r.id,
      target: r.target,
      url: r.url,
      module: r.module,
      at: r.at,
      ok: !!r.ok,
      ms: r.ms,
      ...(r.error ? { error: r.error } : {}),
      summary: JSON.parse(r.summary) as TargetSummary,
    }));
    const changes = (
      this.db
        .prepare(
          `SELECT * FROM (SELECT id, body FROM changes WHERE ${where} ORDER BY id DESC LIMIT ${limit}) ORDER BY id`,
        )
        .all(...args) as { id: number; body: string }[]
    ).map((r) => ({ id: r.id, ...(JSON.parse(r.body) as Omit<Change, 'id'>) }));
    return { results, changes };
  }

  /** Deliveries due at `now` (ms since the epoch), oldest change first. */
  due(now: number, limit = 100): { change: Change; webhook: string; attempts: number }[] {
    return (
      this.db
        .prepare(
          `SELECT d.change_id, d.webhook, d.attempts, c.body FROM deliveries d JOIN changes c ON c.id = d.change_id
           WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.change_id LIMIT ?`,
        )
        .all(now, limit) as { change_id: number; webhook: string; attempts: number; body: string }[]
    ).map((r) => ({
      change: { id: r.change_id, ...(JSON.parse(r.body) as Omit<Change, 'id'>) },
      webhook: r.webhook,
      attempts: r.attempts,
    }));
  }

  /** Marks a delivery sent, or schedules its next attempt (or gives up: `nextAt` undefined). */
  delivered(
    changeId: number,
    webhook: string,
    outcome: { ok: true } | { ok: false; error: string; nextAt?: number },
  ): void {
    if (outcome.ok)
      this.db
        .prepare(
          "UPDATE deliveries SET state = 'sent', attempts = attempts + 1 WHERE change_id = ? AND webhook = ?",
        )
        .run(changeId, webhook);
    else
      this.db
        .prepare(
          'UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at = ?, last_error = ? WHERE change_id = ? AND webhook = ?',
        )
        .run(
          outcome.nextAt === undefined ? 'failed' : 'pending',
          outcome.nextAt ?? 0,
          outcome.error,
          changeId,
          webhook,
        );
  }

  /** The state of every delivery of a change, for tests and `history --json`. */
  deliveries(changeId: number): { webhook: string; state: string; attempts: number }[] {
    return this.db
      .prepare('SELECT webhook, state, attempts FROM deliveries WHERE change_id = ? ORDER BY webhook')
      .all(changeId) as { webhook: string; state: string; attempts: number }[];
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Opens (and creates) the history database at `file` in WAL mode with synchronous=NORMAL: a commit
 * is in the write-ahead log before it returns, so a killed process loses nothing committed (a power
 * cut may lose the last commits). Throws UserError when the file cannot be opened or is no database.
 */
export async function openHistory(file: string, webhooks: string[] = []): Promise<History> {
  const { default: Database } = await import('better-sqlite3');
  // SQLite opens what it is given itself: a folder, a FIFO or a device is named here, in the words
  // of the one reader (src/fs-read.ts), rather than as SQLite's "disk I/O error".
  const odd = notRegularFile(file, { what: 'history database' });
  if (odd) throw new FileReadError(file, odd);
  // /dev/null reads as an empty file, but a database must be written: SQLite says only "disk I/O error".
  if (statSync(file, { throwIfNoEntry: false })?.isCharacterDevice())
    throw new FileReadError(
      file,
      'is a character device (the null device), not a history database: give a file',
    );
  try {
    mkdirSync(dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    return new History(db, webhooks);
  } catch (e) {
    throw new UserError(`cannot open the history database ${file}: ${(e as Error).message}`);
  }
}
