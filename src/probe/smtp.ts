// The steps of an smtp probe after dns and tcp, with nodemailer's SMTP client: smtp (greeting, EHLO,
// STARTTLS offered or required), tls (STARTTLS, or the implicit TLS of smtps://), auth (the
// mechanisms, a login), mail (MAIL FROM and RCPT TO, never a message); and, when the port does not
// answer at all, whether the submission ports 587 (STARTTLS) and 465 (SMTPS) of the same host do.
import { connect, type Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmtpFinding, Signal, TlsFinding } from '../types.js';
import type { PlannedStep, ProbeContext } from './run.js';
import { Dialogue } from './dialogue.js';
import { errorSignals, watchSocket, type StepOutcome, type StepRecord } from './step.js';
import { tlsStep } from './tls.js';
import { handshakeFailed, judgeSocket, upgradeOptions } from './tls-upgrade.js';
import { hostPort } from '../errors.js';

export interface SmtpOptions {
  /** The login user (-u, or the URL's user) and its password; never printed. */
  user?: string;
  password?: string;
  /** Envelope addresses to test (--from, --to). */
  from?: string;
  to?: string;
  /**
   * The ports tried instead of 587 (STARTTLS) and 465 (SMTPS) when the port does not answer. Only the
   * tests and the lab set them (LINKDOCTOR_SMTP_ALT_PORTS): they cannot bind the real ports.
   */
  altPorts?: { starttls: number; implicit: number };
}

/** The test-only alternative ports from LINKDOCTOR_SMTP_ALT_PORTS="starttls,implicit". */
export function altPortsFromEnv(env: Record<string, string | undefined>): SmtpOptions['altPorts'] {
  const m = /^(\d+),(\d+)$/.exec(env.LINKDOCTOR_SMTP_ALT_PORTS ?? '');
  return m ? { starttls: Number(m[1]), implicit: Number(m[2]) } : undefined;
}

/** nodemailer's own deadlines sit a little inside the step's bound, so the step can say what it waited for. */
const inside = (ms: number) => Math.max(50, Math.round(ms * 0.9));

/** The longest reply accepted (nodemailer's default is 1 MB): a real server's EHLO takes under 1 KB. */
const REPLY_MAX = 64 * 1024;

/** The custom "mechanism" that hands out nodemailer's sendCommand, for MAIL FROM, RCPT TO and RSET. */
const COMMANDS = 'X-LINKDOCTOR-COMMANDS';

interface Reply {
  status: number;
  text: string;
}

/**
 * One SMTP connection, with every reply of the server in order (nodemailer's transaction log). The
 * socket is the probe's own (nodemailer's `connection` option), so that a greeting that stalls can
 * say how many bytes came before it did (watchSocket).
 */
class Session {
  readonly replies: string[] = [];
  conn!: SMTPConnection;
  /** The raw socket under the session (under TLS too): its `bytesRead` counts what the server sent. */
  private socket?: Socket;
  /** Our own commands are being sent (nodemailer logs them masked). */
  private scripting = false;
  private script?: (send: (cmd: string) => Promise<Reply>) => Promise<void>;

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly o: { secure: boolean; starttls: boolean; tls: ConnectionOptions; ms: number },
    private readonly dialogue?: Dialogue,
  ) {}

  /** The connection's client, over `socket`. */
  private client(socket: Socket): SMTPConnection {
    const { o, dialogue } = this;
    const record = (entry: { tnx?: string } | undefined, message: unknown) => {
      if (entry?.tnx === 'server') this.replies.push(String(message));
      // Our own commands go through the custom-auth hook, which logs them masked: they are recorded
      // as sent (see commands()).
      if (entry?.tnx === 'server' || (entry?.tnx === 'client' && !this.scripting))
        dialogue?.add(entry.tnx === 'server' ? '<' : '>', String(message));
    };
    const quiet = () => undefined;
    const conn = new SMTPConnection({
      host: this.address,
      port: this.port,
      connection: socket,
      secure: o.secure,
      ...(o.starttls ? { requireTLS: true } : { ignoreTLS: true }),
      // The probe judges the chain itself, against the chosen trust store.
      tls: { ...o.tls, rejectUnauthorized: false },
      connectionTimeout: inside(o.ms),
      greetingTimeout: inside(o.ms),
      socketTimeout: inside(o.ms),
      socketCloseTimeout: 0,
      maxResponseSize: REPLY_MAX,
      transactionLog: true,
      logger: { debug: record, trace: quiet, info: quiet, warn: quiet, error: quiet, fatal: quiet },
      // nodemailer has no public call for a command of one's own; its custom-authentication hook
      // hands out sendCommand, with the server's parsed reply.
      customAuth: {
        [COMMANDS]: async (c) => {
          await this.script?.(async (cmd) => {
            this.dialogue?.add('>', cmd);
            const r = await c.sendCommand(cmd);
            return { status: r.status, text: r.response };
          });
        },
      },
    });
    // Errors also arrive through the callbacks; an unheard 'error' event would end the process.
    conn.on('error', () => undefined);
    return conn;
  }

  /**
   * Connects, then greeting, EHLO (and STARTTLS with its second EHLO when asked for), bounded by
   * `signal`. A socket error before the session rejects with the socket's own error (its errno).
   */
  open(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.address, port: this.port });
      this.socket = socket;
      watchSocket(signal, socket);
      socket.on('error', () => undefined);
      const early = (e: Error) => reject(e);
      socket.once('error', early);
      this.conn = this.client(socket);
      const abort = () => {
        this.close();
        socket.destroy();
      };
      signal.addEventListener('abort', abort, { once: true });
      this.conn.once('error', (e) => {
        signal.removeEventListener('abort', abort);
        reject(e);
      });
      socket.once('connect', () => {
        socket.removeListener('error', early);
        this.conn.connect(() => {
          signal.removeEventListener('abort', abort);
          resolve();
        });
      });
    });
  }

  login(user: string, pass: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.conn.login({ user, pass }, (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Sends commands of our own and returns their replies. */
  commands(script: (send: (cmd: string) => Promise<Reply>) => Promise<void>): Promise<void> {
    this.script = script;
    this.scripting = true;
    return new Promise<void>((resolve, reject) =>
      this.conn.login({ method: COMMANDS }, (e) => (e ? reject(e) : resolve())),
    ).finally(() => (this.scripting = false));
  }

  get tlsSocket(): TLSSocket | undefined {
    return this.conn.secure ? (this.conn._socket as TLSSocket) : undefined;
  }

  /** Bytes the server sent on this connection, TLS records included. */
  get bytesRead(): number {
    return this.socket?.bytesRead ?? 0;
  }

  close(): void {
    this.conn?.close();
  }
}

/** The lines of an EHLO answer after the first (the server's name), as listed. */
function ehloLines(reply: string | undefined): string[] {
  if (!reply?.startsWith('250')) return [];
  return reply
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.replace(/^\d{3}[ -]/, '').trim())
    .filter(Boolean);
}

const authOf = (ehlo: string[]) =>
  ehlo.flatMap((l) =>
    /^AUTH[ =]/i.test(l)
      ? l
          .slice(5)
          .trim()
          .split(/[\s=]+/)
          .filter(Boolean)
      : [],
  );
const offersStarttls = (ehlo: string[]) => ehlo.some((l) => /^STARTTLS\b/i.test(l));
/** A refusal that asks for TLS ("530 5.7.0 Must issue a STARTTLS command first"). */
const demandsTls = (r: Reply) => r.status >= 500 && /STARTTLS|\bTLS\b|encrypt/i.test(r.text);

interface SmtpError extends NodeJS.ErrnoException {
  response?: string;
  responseCode?: number;
  command?: string;
}

/** A failure of nodemailer's connection in the probe's terms: silent, garbage, closed, refused by the server. */
function sessionFailure(e: SmtpError, where: string, s: Session, ms: number): StepOutcome {
  const response = e.response?.trim();
  if (e.code === 'ETIMEDOUT' && !s.replies.length && s.bytesRead > 0) {
    // Part of a greeting came (nodemailer waits for its last line): the server trickles or stalls.
    const seconds = inside(ms) / 1000;
    const detail = `${where}: the server sent ${s.bytesRead} bytes, then nothing more within ${seconds} s (a server that trickles or stalls; no complete SMTP greeting)`;
    const text = `${where}: the server sent ${s.bytesRead} bytes and stalled: read timed out after ${inside(ms)} ms`;
    return { ok: false, detail, signals: [{ type: 'net.error', value: 'slow' }], text };
  }
  if (e.code === 'ETIMEDOUT' && !s.replies.length) {
    const detail = `${where} accepted the connection but sent no SMTP greeting within ${inside(ms) / 1000} s`;
    // The matcher's text leaves out "SMTP": a server that never speaks is a network matter, not a mail one.
    const text = `${where} accepted the connection but sent no greeting: timed out`;
    return { ok: false, detail, signals: [{ type: 'net.error', value: 'silent' }], text };
  }
  if (e.code === 'EPROTOCOL' && /exceeds maximum allowed size/.test(e.message)) {
    const detail = `${where} sent more than ${REPLY_MAX / 1024} KB without ending its reply: it is not a working SMTP server`;
    return { ok: false, detail, signals: [{ type: 'net.error', value: 'garbage' }], text: detail };
  }
  if (e.code === 'EPROTOCOL' && response && !/^\d{3}(?:[ -]|$)/.test(response)) {
    const detail = `${where} answered something that is not SMTP: "${response.slice(0, 60)}"`;
    return { ok: false, detail, signals: [{ type: 'net.error', value: 'garbage' }], text: detail };
  }
  if (response) {
    const detail = `${where} refused: ${response.split('\n')[0]}`;
    return { ok: false, detail, text: `${e.command ?? 'SMTP'}: ${response}` };
  }
  const errno = /\b(E[A-Z]+)\b/.exec(e.message)?.[1];
  if (e.code === 'ECONNECTION' || errno === 'ECONNRESET') {
    const detail = `${where} closed the connection before the SMTP session was set up`;
    return {
      ok: false,
      detail,
      signals: [{ type: 'net.error', value: 'closed' }],
      text: `${detail}\n${e.message}`,
    };
  }
  const signals = errno ? errorSignals({ ...e, code: errno }) : [];
  return { ok: false, detail: `${where}: ${e.message}`, signals, text: e.message };
}

export function smtpPlan(ctx: ProbeContext): PlannedStep[] {
  const { target, opts } = ctx;
  const o = opts.smtp ?? {};
  const user = o.user ?? target.user;
  const implicit = target.scheme === 'smtps';
  const where = hostPort(target.host, target.port);
  const ms = opts.timeoutMs;
  const tls = upgradeOptions(target.host, opts.tls.servername);
  const dialogue = new Dialogue();
  const finding: SmtpFinding = { ehlo: [], authMechanisms: [], dialogue: dialogue.lines };
  const publish = () => (ctx.result.smtp = finding);
  let session: Session | undefined;
  const start = (starttls: boolean) =>
    new Session(ctx.addresses[0]!, target.port, { secure: implicit, starttls, tls, ms }, dialogue);
  const fail = (outcome: StepOutcome) => {
    session?.close();
    return outcome;
  };

  const smtpStep: PlannedStep = {
    name: 'smtp',
    run: async (signal) => {
      publish();
      session = start(false);
      try {
        await session.open(signal);
      } catch (e) {
        return fail(sessionFailure(e as SmtpError, where, session, ms));
      }
      finding.banner = session.replies[0];
      finding.ehlo = ehloLines(session.replies[1]);
      finding.authMechanisms = authOf(finding.ehlo);
      finding.starttls = implicit ? 'implicit' : offersStarttls(finding.ehlo) ? 'offered' : 'not-offered';
      const listed = `EHLO: ${finding.ehlo.join(', ') || '(no extensions: HELO only)'}`;
      if (implicit) return { ok: true, detail: `${finding.banner}; ${listed}` };
      // Would the server go on without TLS? A null sender (MAIL FROM:<>) tells, and RSET undoes it.
      let before: Reply | undefined;
      await session.commands(async (send) => {
        before = await send('MAIL FROM:<>');
        await send('RSET');
      });
      finding.starttlsRequired = !!before && demandsTls(before);
      if (finding.starttls === 'not-offered' && finding.starttlsRequired)
        return fail({
          ok: false,
          detail: `the server demands STARTTLS (${before!.text}) but does not offer it in its EHLO answer (a firewall's SMTP inspection may strip it)`,
          signals: [{ type: 'smtp.starttls', value: 'required' }],
          text: `${before!.text}\nSTARTTLS is required but host does not support STARTTLS`,
        });
      const tlsNote =
        finding.starttls === 'offered'
          ? `STARTTLS offered${finding.starttlsRequired ? ' and required (MAIL FROM before it was refused)' : ''}`
          : 'STARTTLS not offered';
      return { ok: true, detail: `${finding.banner}; ${listed}; ${tlsNote}` };
    },
  };

  const tlsOut: { finding?: TlsFinding } = {};
  const tlsPlanStep: PlannedStep = {
    name: 'tls',
    run: async (signal) => {
      if (implicit)
        return tlsStep(target, ctx.addresses[0]!, { ...opts.tls, timeoutMs: ms }, tlsOut, signal).finally(
          () => {
            if (tlsOut.finding) ctx.result.tls = tlsOut.finding;
          },
        );
      if (finding.starttls === 'not-offered')
        return {
          ok: true,
          detail: 'STARTTLS not offered: the session stays unencrypted (only Protection Off works)',
          warning:
            'the server offers no STARTTLS, so the session stays unencrypted (only Protection Off works)',
        };
      // A second session that upgrades: the first one has shown what the server says in plain text.
      session!.close();
      session = start(true);
      try {
        await session.open(signal);
      } catch (e) {
        const err = e as SmtpError;
        if (err.code === 'ETLS' && !err.response) return fail(handshakeFailed(err, where, 'STARTTLS'));
        const outcome = sessionFailure(err, where, session, ms);
        // STARTTLS offered, then answered 454 (RFC 3207: "TLS not available"): the server's own TLS is broken.
        if (err.code === 'ETLS' && /^454\b/.test(err.response!.trim()))
          outcome.signals = [...(outcome.signals ?? []), { type: 'smtp.starttls', value: 'broken' }];
        return fail(outcome);
      }
      // The reply after the handshake is the second EHLO: replies are greeting, EHLO, 220 to STARTTLS, EHLO.
      finding.ehloAfterTls = ehloLines(session.replies[3]);
      finding.authMechanisms = authOf(finding.ehloAfterTls);
      const outcome = judgeSocket(session.tlsSocket!, target.host, opts.tls.store, 'STARTTLS', tlsOut);
      ctx.result.tls = tlsOut.finding!;
      return outcome.ok ? outcome : fail(outcome);
    },
  };

  const authStep: PlannedStep = {
    name: 'auth',
    run: async () => {
      const s = session!;
      const offered = finding.authMechanisms.length
        ? `AUTH ${finding.authMechanisms.join(' ')}`
        : 'no AUTH offered';
      if (!user)
        return { ok: true, detail: `${offered}; no login tested (give -u USER and --password-env VAR)` };
      if (!s.tlsSocket)
        return fail({
          ok: false,
          detail: `${offered}; the login was not sent: the connection is not encrypted (STARTTLS not offered), and the probe sends no password in clear text`,
          signals: [{ type: 'smtp.starttls', value: 'missing' }],
          text: 'STARTTLS is required but host does not support STARTTLS',
        });
      try {
        await s.login(user, o.password ?? '');
      } catch (e) {
        const err = e as SmtpError;
        if (err.code !== 'EAUTH' || !err.response) return fail(sessionFailure(err, where, s, ms));
        finding.login = 'refused';
        return fail({
          ok: false,
          detail: `${offered}; the server refused the login of ${user}: ${err.response}`,
          signals: [{ type: 'smtp.auth', value: 'refused' }],
          text: `Invalid login: ${err.response}`,
        });
      }
      finding.login = 'accepted';
      return { ok: true, detail: `${offered}; login of ${user} accepted` };
    },
  };

  const mailStep: PlannedStep = {
    name: 'mail',
    run: async () => {
      const s = session!;
      const replies: Reply[] = [];
      try {
        await s.commands(async (send) => {
          const from = await send(`MAIL FROM:<${o.from ?? ''}>`);
          replies.push(from);
          if (from.status === 250 && o.to) replies.push(await send(`RCPT TO:<${o.to}>`));
          await send('RSET');
        });
      } catch (e) {
        return fail(sessionFailure(e as SmtpError, where, s, ms));
      }
      s.conn.quit();
      finding.envelope = replies.map((r) => r.text);
      const refused = replies.find((r) => r.status >= 400);
      if (refused)
        return { ok: false, detail: `the server refused the envelope: ${refused.text}`, text: refused.text };
      return { ok: true, detail: `${finding.envelope.join('; ')} (no message sent)` };
    },
  };

  const steps = implicit ? [tlsPlanStep, smtpStep, authStep] : [smtpStep, tlsPlanStep, authStep];
  if (o.from || o.to) steps.push(mailStep);
  dialogue.follow(steps);
  // Whichever step is last ends the session (the others end it when they fail).
  const last = steps[steps.length - 1]!;
  const run = last.run;
  last.run = (signal) => run(signal).finally(() => session?.close());
  steps.push(portAdvice(ctx, finding, publish));
  return steps;
}

/** When the port does not answer: do the submission ports of the same host? */
function portAdvice(ctx: ProbeContext, finding: SmtpFinding, publish: () => void): PlannedStep {
  const { target, opts } = ctx;
  const alt = opts.smtp?.altPorts ?? { starttls: 587, implicit: 465 };
  const tries = [
    { port: alt.starttls, protection: 'STARTTLS' as const },
    { port: alt.implicit, protection: 'SMTPS' as const },
  ].filter((t) => t.port !== target.port);
  const unanswered = (failed: StepRecord) =>
    failed.name === 'tcp' &&
    failed.signals.some((s) => s.type === 'net.error' && /^(?:refused|timeout|unreachable)$/.test(s.value));
  return {
    name: 'ports',
    afterFailure: unanswered,
    run: async (signal) => {
      publish();
      const tls = upgradeOptions(target.host, opts.tls.servername);
      finding.alternatives = await Promise.all(
        tries.map(async (t) => {
          const s = new Session(ctx.addresses[0]!, t.port, {
            secure: t.protection === 'SMTPS',
            starttls: false,
            tls,
            ms: opts.timeoutMs,
          });
          try {
            await s.open(signal);
            const starttls = offersStarttls(ehloLines(s.replies[1]));
            const detail =
              t.protection === 'SMTPS'
                ? `${s.replies[0]} (implicit TLS)`
                : `${s.replies[0]}${starttls ? ' (STARTTLS offered)' : ''}`;
            return { ...t, answered: true, detail };
          } catch (e) {
            return { ...t, answered: false, detail: (e as Error).message };
          } finally {
            s.close();
          }
        }),
      );
      const best = finding.alternatives.find((a) => a.answered);
      if (!best)
        return {
          ok: false,
          detail: `${tries.map((t) => t.port).join(' and ')} do not answer either: the host is not reachable for mail from here`,
        };
      const signals: Signal[] = [
        { type: 'smtp.port', value: 'blocked', detail: `use port ${best.port}` },
        { type: 'port', value: String(best.port) },
      ];
      const setting = best.protection === 'SMTPS' ? 'Protection SMTPS' : 'Protection STARTTLS Mandatory';
      return {
        ok: true,
        detail: `port ${target.port} does not answer, but ${best.port} does: ${best.detail}; use Address ${hostPort(target.host, best.port)} with ${setting}`,
        signals,
      };
    },
  };
}

/**
 * The TLS socket of an SMTP STARTTLS session with `host:port` (greeting, EHLO, STARTTLS, as `openssl
 * s_client -starttls smtp` does), for `trust add-from-site smtp://`: the same nodemailer session as the
 * probe's. `tls` should verify nothing (upgradeOptions). Rejects with nodemailer's error (code ETLS
 * when STARTTLS is not offered); the caller closes the session with `close()`.
 */
export async function starttlsSocket(
  host: string,
  port: number,
  tls: ConnectionOptions,
  ms: number,
  signal: AbortSignal,
): Promise<{ socket: TLSSocket; close: () => void }> {
  const session = new Session(host, port, { secure: false, starttls: true, tls, ms });
  try {
    await session.open(signal);
  } catch (e) {
    session.close();
    throw e;
  }
  const socket = session.tlsSocket;
  if (!socket) {
    session.close();
    throw Object.assign(new Error('the server did not start TLS'), { code: 'ETLS' });
  }
  return { socket, close: () => session.close() };
}
