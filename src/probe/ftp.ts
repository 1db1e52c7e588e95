// The steps of an ftp probe after dns and tcp, with basic-ftp: ftp (greeting, FEAT), tls (AUTH TLS
// when the server offers it, or the implicit TLS of ftps://), login, list (a passive-mode data
// connection and the listing of the path), and with --write-test, write (a temporary file uploaded
// and removed). The platform's FTP adapter works in passive mode, and so does basic-ftp.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { Client, FTPError, FileType } from 'basic-ftp';
import type { FtpFinding, TlsFinding } from '../types.js';
import { Dialogue } from './dialogue.js';
import type { PlannedStep, ProbeContext } from './run.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';
import { tlsStep } from './tls.js';
import { handshakeFailed, judgeSocket, upgradeOptions } from './tls-upgrade.js';
import { plural } from '../report/width.js';
import { hostPort } from '../errors.js';

export interface FtpOptions {
  /** The login user (-u, or the URL's user; anonymous when none) and its password; never printed. */
  user?: string;
  password?: string;
  /** --write-test: upload and remove a temporary file in the path. */
  writeTest?: boolean;
  /**
   * Why the password is not sent on a connection without TLS (the server offers no AUTH TLS), when
   * it must not be: `serve` without --plain-http-credentials. Undefined: it is sent, as the CLI's
   * user asked by naming ftp://.
   */
  noClearTextPassword?: string;
}

/** basic-ftp's deadline sits a little inside the step's bound, so the step can say what it waited for. */
const inside = (ms: number) => Math.max(50, Math.round(ms * 0.9));
/** How many entries of the listing the result shows. */
const SHOWN = 20;
/**
 * What the control connection may carry in one session: a real server's replies take a few KB. A
 * peer that streams bytes without a reply basic-ftp can parse would otherwise fill the memory.
 */
const CONTROL_MAX = 256 * 1024;
/** A listing larger than this is not read to its end (basic-ftp's own default is 40 MB). */
const LISTING_MAX = 1024 * 1024;

const TYPES: Record<number, NonNullable<FtpFinding['listing']>[number]['type']> = {
  [FileType.File]: 'file',
  [FileType.Directory]: 'directory',
  [FileType.SymbolicLink]: 'link',
};

export function ftpPlan(ctx: ProbeContext): PlannedStep[] {
  const { target, opts } = ctx;
  const o = opts.ftp ?? {};
  const implicit = target.scheme === 'ftps';
  const where = hostPort(target.host, target.port);
  const ms = opts.timeoutMs;
  const tls = { ...upgradeOptions(target.host, opts.tls.servername), host: target.host };
  const path = decodeURIComponent(target.url.pathname) || '/';
  const user = o.user ?? target.user ?? 'anonymous';
  const dialogue = new Dialogue();
  const finding: FtpFinding = { features: [], path, dialogue: dialogue.lines };
  const client = new Client(inside(ms), { allowSeparateTransferHost: false, maxListingBytes: LISTING_MAX });
  // The raw server text, for what basic-ftp drops: a greeting that is no FTP reply at all.
  const received: string[] = [];
  // Kept whole: CONTROL_MAX bounds it.
  let controlBytes = 0;
  let flooded = false;
  client.ftp.verbose = true;
  client.ftp.log = (m: string) => {
    if (m.startsWith('> ')) dialogue.add('>', m.slice(2));
    if (!m.startsWith('< ')) return;
    const text = m.slice(2);
    dialogue.add('<', text);
    controlBytes += text.length;
    received.push(text);
    if (controlBytes > CONTROL_MAX && !flooded) {
      flooded = true;
      client.ftp.closeWithError(new Error('flood'));
    }
  };
  const close = () => client.close();
  const fail = (outcome: StepOutcome) => {
    close();
    return outcome;
  };
  /** Every step closes the client when its bound fires (the signal also fires once the step is done). */
  const bounded =
    (fn: () => Promise<StepOutcome>) =>
    (signal: AbortSignal): Promise<StepOutcome> => {
      signal.addEventListener('abort', close, { once: true });
      return fn()
        .catch((e: Error) => fail(failure(e)))
        .finally(() => signal.removeEventListener('abort', close));
    };

  /** basic-ftp's errors in the probe's terms: silent, garbage, a server reply, a socket error. */
  const failure = (e: Error & { code?: unknown }): StepOutcome => {
    if (flooded) {
      const detail = `${where} sent more than ${CONTROL_MAX / 1024} KB on the control connection without the reply it was asked for: it is not a working FTP server`;
      return { ok: false, detail, signals: [{ type: 'net.error', value: 'garbage' }], text: detail };
    }
    if (e instanceof FTPError)
      return { ok: false, detail: `${where} answered ${e.message}`, text: e.message };
    const first = received.join('').trimStart();
    if (first && !/^\d{3}[ -]/.test(first)) {
      const detail = `${where} answered something that is not FTP: "${first.split(/\r?\n/)[0]!.slice(0, 60)}"`;
      return { ok: false, detail, signals: [{ type: 'net.error', value: 'garbage' }], text: detail };
    }
    if (/^Timeout/.test(e.message) && !received.length) {
      const detail = `${where} accepted the connection but sent no FTP greeting within ${inside(ms) / 1000} s`;
      // The matcher's text leaves out "FTP": a server that never speaks is a network matter.
      const text = `${where} accepted the connection but sent no greeting: timed out`;
      return { ok: false, detail, signals: [{ type: 'net.error', value: 'silent' }], text };
    }
    if (/^Timeout/.test(e.message)) {
      const detail = `${where} stopped answering: ${e.message}`;
      return { ok: false, detail, signals: [{ type: 'net.error', value: 'timeout' }], text: detail };
    }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && err.code.startsWith('E'))
      return { ok: false, detail: describeError(err, where), signals: errorSignals(err), text: err.message };
    return { ok: false, detail: `${where}: ${e.message}`, text: e.message };
  };

  const tlsOut: { finding?: TlsFinding } = {};
  const implicitTls: PlannedStep = {
    name: 'tls',
    run: (signal) =>
      tlsStep(target, ctx.addresses[0]!, { ...opts.tls, timeoutMs: ms }, tlsOut, signal).finally(() => {
        if (tlsOut.finding) ctx.result.tls = tlsOut.finding;
      }),
  };

  const ftpStep: PlannedStep = {
    name: 'ftp',
    run: bounded(async () => {
      ctx.result.ftp = finding;
      const welcome = implicit
        ? await client.connectImplicitTLS(ctx.addresses[0], target.port, {
            ...tls,
            rejectUnauthorized: false,
          })
        : await client.connect(ctx.addresses[0], target.port);
      finding.banner = welcome.message;
      if (implicit) finding.tls = 'implicit';
      const feat = await client.sendIgnoringError('FEAT');
      finding.features =
        feat.code === 211
          ? feat.message
              .split(/\r?\n/)
              .slice(1, -1)
              .map((l) => l.trim())
          : [];
      const listed = finding.features.length ? `FEAT: ${finding.features.join(', ')}` : 'no FEAT answer';
      return { ok: true, detail: `${finding.banner.split('\n')[0]}; ${listed}` };
    }),
  };

  const authTls: PlannedStep = {
    name: 'tls',
    run: bounded(async () => {
      if (!finding.features.some((f) => /^AUTH\b.*\bTLS\b/i.test(f))) {
        finding.tls = 'none';
        return {
          ok: true,
          detail: 'AUTH TLS not offered: plain FTP, the login and the data go unencrypted',
          warning: 'plain FTP: the server offers no AUTH TLS, so the login and the data go unencrypted',
        };
      }
      try {
        await client.useTLS({ ...tls, rejectUnauthorized: false });
      } catch (e) {
        // Listed in FEAT but refused: Plain FTP still works on this connection, Explicit FTPS would not.
        if (e instanceof FTPError) {
          finding.tls = 'none';
          return {
            ok: true,
            detail: `FEAT lists AUTH TLS but the server refused it (${e.message}): plain FTP only`,
            warning: 'plain FTP: the server refused AUTH TLS, so the login and the data go unencrypted',
          };
        }
        return fail(handshakeFailed(e as NodeJS.ErrnoException, where, 'AUTH TLS'));
      }
      finding.tls = 'explicit';
      const outcome = judgeSocket(
        client.ftp.socket as TLSSocket,
        target.host,
        opts.tls.store,
        'AUTH TLS',
        tlsOut,
      );
      ctx.result.tls = tlsOut.finding!;
      return outcome.ok ? outcome : fail(outcome);
    }),
  };

  const loginStep: PlannedStep = {
    name: 'login',
    run: bounded(async () => {
      finding.user = user;
      if (finding.tls === 'none' && o.password && o.noClearTextPassword)
        return fail({
          ok: false,
          detail: `the login of ${user} was not sent: the server offers no AUTH TLS, so its password would go in clear text (${o.noClearTextPassword})`,
        });
      try {
        await client.login(user, o.password ?? (user === 'anonymous' ? 'guest' : ''));
      } catch (e) {
        if (!(e instanceof FTPError)) throw e;
        finding.login = 'refused';
        return fail({
          ok: false,
          detail: `the server refused the login of ${user}: ${e.message}`,
          text: `FTP login failed: ${e.message}`,
        });
      }
      finding.login = 'accepted';
      // Binary mode, UTF-8, and on TLS the protected data channel (PBSZ/PROT), as for a transfer. A
      // refusal here is the transfer settings', not the login's.
      try {
        await client.useDefaultSettings();
      } catch (e) {
        if (!(e instanceof FTPError)) throw e;
        return fail({
          ok: false,
          detail: `login of ${user} accepted, but the server refused the transfer settings (TYPE I, OPTS UTF8, PBSZ/PROT on TLS): ${e.message}`,
          text: `FTP transfer settings refused after login: ${e.message}`,
        });
      }
      return {
        ok: true,
        detail: `login of ${user} accepted${finding.tls === 'none' ? ' (in clear text)' : ''}`,
      };
    }),
  };

  const listStep: PlannedStep = {
    name: 'list',
    run: bounded(async () => {
      const before = received.length;
      try {
        const entries = await client.list(path).catch((e: Error) => {
          // basic-ftp stops reading a listing at maxListingBytes: what came is enough to say it works.
          if (/Maximum bytes exceeded/.test(e.message)) return undefined;
          throw e;
        });
        if (!entries)
          return {
            ok: true,
            detail: `${path}: a listing of more than ${LISTING_MAX / 1024 / 1024} MB over a passive data connection (not read to its end)`,
          };
        finding.entries = entries.length;
        finding.listing = entries
          .slice(0, SHOWN)
          .map((e) => ({ name: e.name, type: TYPES[e.type] ?? 'unknown', size: e.size }));
      } finally {
        // The passive reply says which address and port the server announced for the data connection.
        const reply = received.slice(before).find((r) => /^22[79] /.test(r));
        if (reply) finding.passive = reply.trim();
      }
      return {
        ok: true,
        detail: `${path}: ${plural(finding.entries, 'entry', 'entries')} over a passive data connection${finding.passive ? ` (${finding.passive})` : ''}`,
      };
    }),
  };

  const writeStep: PlannedStep = {
    name: 'write',
    run: bounded(async () => {
      const file = `${path.replace(/\/?$/, '/')}linkdoctor-write-test-${randomBytes(4).toString('hex')}.tmp`;
      const test: NonNullable<FtpFinding['writeTest']> = { file, ok: false, detail: '' };
      finding.writeTest = test;
      try {
        await client.uploadFrom(Readable.from(['linkdoctor write test\n']), file);
      } catch (e) {
        if (!(e instanceof FTPError)) throw e;
        test.detail = `upload refused: ${e.message}`;
        return fail({ ok: false, detail: `could not create ${file}: ${e.message}`, text: e.message });
      }
      try {
        await client.remove(file);
      } catch (e) {
        if (!(e instanceof FTPError)) throw e;
        test.detail = `created, but not removed: ${e.message}`;
        return fail({
          ok: false,
          detail: `created ${file} but could not remove it: ${e.message}`,
          text: e.message,
        });
      }
      test.ok = true;
      test.detail = 'created and removed';
      return { ok: true, detail: `created and removed ${file}` };
    }),
  };

  const steps = implicit
    ? [implicitTls, ftpStep, loginStep, listStep]
    : [ftpStep, authTls, loginStep, listStep];
  if (o.writeTest) steps.push(writeStep);
  dialogue.follow(steps);
  const last = steps[steps.length - 1]!;
  const run = last.run;
  last.run = (signal) => run(signal).finally(close);
  return steps;
}

/**
 * The TLS socket of an FTP control connection after AUTH TLS with `host:port` (as `openssl s_client
 * -starttls ftp` does), for `trust add-from-site ftp://`: basic-ftp as in the probe, `tls` verifying
 * nothing (upgradeOptions). Rejects with basic-ftp's error (an FTPError when the server refuses AUTH
 * TLS); the caller closes the client with `close()`.
 */
export async function authTlsSocket(
  host: string,
  port: number,
  tls: ConnectionOptions,
  ms: number,
  signal: AbortSignal,
): Promise<{ socket: TLSSocket; close: () => void }> {
  const client = new Client(inside(ms), { allowSeparateTransferHost: false, maxListingBytes: LISTING_MAX });
  const close = () => client.close();
  signal.addEventListener('abort', close, { once: true });
  try {
    await client.connect(host, port);
    await client.useTLS({ ...tls, host, rejectUnauthorized: false });
    return { socket: client.ftp.socket as TLSSocket, close };
  } catch (e) {
    close();
    // Out of time, by basic-ftp's bound ("Timeout (control socket)") or the caller's ("User closed
    // client during task"): the socket error a silent SMTP server gives STARTTLS, so that
    // add-from-site says both alike ("did not answer in time").
    if (signal.aborted || /^Timeout \(/.test((e as Error).message))
      throw Object.assign(new Error((e as Error).message), { code: 'ETIMEDOUT' });
    throw e;
  } finally {
    signal.removeEventListener('abort', close);
  }
}
