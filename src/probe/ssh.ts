// The steps of an sftp/ssh probe after dns and tcp: ssh (identification, algorithms, host key against
// known_hosts), auth (the methods offered, the login), sftp (the path, and --write-test). One ssh2
// connection runs through the steps; the login waits for its step so that each step times its own part.
import { randomBytes } from 'node:crypto';
import type { AuthHandlerMiddleware, Client, SFTPWrapper } from 'ssh2';
import {
  ALGORITHM_KINDS,
  type AlgorithmsFinding,
  judgeAlgorithm,
  jschHostKeyOrder,
  jschSentence,
} from '../ssh/algorithms.js';
import { md5Fingerprint, sha256Fingerprint } from '../ssh/host-key.js';
import {
  certAuthorityNote,
  judgeHostKeys,
  knownHostsLine,
  knownKeyTypes,
  parseKnownHosts,
  type HostKeysJudgement,
  type KnownHostsCheck,
} from '../ssh/known-hosts.js';
import { openTransport, ssh2HostKeyAlgorithms, type TransportFailure } from '../ssh/transport.js';
import type { SshFinding } from '../types.js';
import type { PlannedStep, ProbeContext } from './run.js';
import { describeError, errorSignals, type StepOutcome } from './step.js';
import { plural } from '../report/width.js';
import { hostPort } from '../errors.js';

/** Options of the ssh probe; secrets come from environment variables or a prompt, never printed. */
export interface SshOptions {
  /** An OpenSSH known_hosts file, already read. */
  knownHosts?: { file: string; text: string };
  user?: string;
  password?: string;
  /** A private key to log in with. */
  identity?: { label: string; key: Buffer; passphrase?: string };
  writeTest?: boolean;
}

/** The user the method list is asked for when none is given: asking logs in as no one. */
const NO_USER = 'linkdoctor';

function transportOutcome(f: TransportFailure, where: string): StepOutcome {
  switch (f.kind) {
    case 'silent':
    case 'garbage':
    case 'closed':
    case 'timeout':
      return {
        ok: false,
        detail: f.message,
        signals: [{ type: 'net.error', value: f.kind }],
        text: f.message,
      };
    case 'stalled':
      // Began to answer (the banner), then stalled: `slow`, not a connection that never opened.
      return {
        ok: false,
        detail: f.message,
        signals: [{ type: 'net.error', value: 'slow' }],
        text: f.message,
      };
    case 'socket':
      return {
        ok: false,
        detail: describeError(f.error!, where),
        signals: errorSignals(f.error!),
        text: f.error!.message,
      };
    case 'algorithms': {
      const detail = `no algorithm in common with the server: ${f.message}`;
      return { ok: false, detail, signals: [{ type: 'ssh.algorithms', value: 'no-common' }], text: detail };
    }
    default:
      return { ok: false, detail: `the SSH handshake failed: ${f.message}`, text: f.message };
  }
}

function hostKeyOutcome(c: KnownHostsCheck, file: string, type: string, sha256: string): StepOutcome {
  if (c.verdict === 'revoked') {
    const detail = `the host key is revoked: ${file} line ${c.revokedLine} marks the server's ${type} key ${sha256} @revoked (JSch: "revoked HostKey"; ssh: "REVOKED HOST KEY DETECTED"): it must never be accepted, whatever other line holds it; ask the server's administrator why the server still shows it`;
    return { ok: false, detail, signals: [{ type: 'ssh.hostkey', value: 'revoked' }], text: detail };
  }
  const notes: string[] = [];
  if (c.otherTypes.length) notes.push(`it holds ${c.otherTypes.join(', ')} keys for this host`);
  const ca = certAuthorityNote(c, file);
  if (ca) notes.push(ca);
  if (c.sameKeyElsewhere.length)
    notes.push(
      `this very key is stored for ${c.sameKeyElsewhere.map((e) => `${e.hosts} (line ${e.line})`).join(', ')}: the line must name the host as the channel writes it`,
    );
  const more = notes.length ? `; ${notes.join('; ')}` : '';
  if (c.verdict === 'changed') {
    const stored = c.stored.map((s) => `${s.sha256} (line ${s.line})`).join(', ');
    const detail = `the host key changed: ${file} holds ${type} ${stored}, the server now shows ${sha256} (the platform: "HostKey has been changed")${more}`;
    return { ok: false, detail, signals: [{ type: 'ssh.hostkey', value: 'changed' }], text: detail };
  }
  const detail = `the host key is unknown: ${file} has no ${type} key for ${c.lineToAdd.split(' ')[0]} (the platform: "reject HostKey")${more}; confirm ${sha256} with the server's administrator, then add its line`;
  return { ok: false, detail, signals: [{ type: 'ssh.hostkey', value: 'unknown' }], text: detail };
}

/** An SFTP error (ssh2 puts the SFTP status in `code`) as a detail the knowledge base recognises. */
function sftpFailure(what: string, path: string, e: Error & { code?: unknown }): StepOutcome {
  const status = typeof e.code === 'number' ? ` (SFTP status ${e.code})` : '';
  const detail = `sftp: ${what} ${path}: ${e.message}${status}`;
  return { ok: false, detail, text: detail };
}

const call = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

/** sftp://host/dir is /dir; sftp://host and sftp://host/~/dir are relative to the login directory. */
function sftpPath(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  if (!path || path === '/~' || path === '/~/') return '.';
  return path.startsWith('/~/') ? path.slice(3) : path;
}

/**
 * When an absolute path (sftp://host/outbox is /outbox, as curl reads it) cannot be opened: whether
 * the login directory holds it as a directory, which is what the user meant when they copied the
 * adapter's Directory field (`outbox`, relative to the home directory).
 */
async function homeHolds(
  sftp: SFTPWrapper,
  path: string,
): Promise<{ dir: string; relative: string } | undefined> {
  if (!path.startsWith('/') || path === '/') return undefined;
  const relative = path.replace(/^\/+/, '');
  try {
    const dir = await call<string>((cb) => sftp.realpath('.', cb));
    if (dir === '/') return undefined;
    const stats = await call<{ isDirectory(): boolean }>((cb) =>
      sftp.stat(`${dir.replace(/\/$/, '')}/${relative}`, cb),
    );
    return stats.isDirectory() ? { dir, relative } : undefined;
  } catch {
    return undefined;
  }
}

export function sshPlan(ctx: ProbeContext): PlannedStep[] {
  const { target, opts } = ctx;
  const o = opts.ssh ?? {};
  const user = o.user ?? target.user;
  const where = hostPort(target.host, target.port);
  const finding: SshFinding = {};
  const hasCredentials = !!(o.password || o.identity);
  let client: Client | undefined;
  /** The server ended the connection between two steps. */
  let closedEarly = false;
  let releaseLogin: () => void = () => undefined;
  const loginMayStart = new Promise<void>((resolve) => (releaseLogin = resolve));
  const login = { tried: [] as string[], refused: [] as string[] };

  const close = () => {
    if (!client) return;
    const c = client;
    client = undefined;
    c.end();
    // A server that does not answer the disconnect must not keep the process alive.
    setTimeout(() => c.destroy(), 1000).unref();
  };

  /** The next login method: the key before the password, as JSch tries them. */
  const authHandler: AuthHandlerMiddleware = (left, partial, next) => {
    const username = user ?? NO_USER;
    if (left === null) return void loginMayStart.then(() => next({ type: 'none', username }));
    finding.authMethods ??= [...left];
    const last = login.tried.at(-1);
    // A partial success (a key accepted, a password still wanted) is not a refusal.
    if (last && last !== 'none' && !partial) login.refused.push(last);
    const untried = (m: string) => left.includes(m as never) && !login.tried.includes(m);
    const password = o.password;
    if (user && o.identity && untried('publickey')) {
      login.tried.push('publickey');
      return next({
        type: 'publickey',
        username,
        key: o.identity.key,
        passphrase: o.identity.passphrase,
      });
    }
    if (user && password !== undefined && untried('password')) {
      login.tried.push('password');
      return next({ type: 'password', username, password });
    }
    // Servers that check passwords through PAM often offer them only as keyboard-interactive.
    if (
      user &&
      password !== undefined &&
      !login.tried.includes('password') &&
      untried('keyboard-interactive')
    ) {
      login.tried.push('keyboard-interactive');
      return next({
        type: 'keyboard-interactive',
        username,
        prompt: (_name, _instructions, _lang, prompts, finish) =>
          finish(prompts.map((p) => (/password|passcode/i.test(p.prompt) ? password : ''))),
      });
    }
    // false: no more methods (ssh2 takes it; its types omit it).
    next(false as never);
  };

  /** Each step ends the connection when it fails or is stopped; the last one ends it anyway. */
  const guard =
    (run: (signal: AbortSignal) => Promise<StepOutcome>, last: boolean) =>
    async (signal: AbortSignal): Promise<StepOutcome> => {
      let settled = false;
      signal.addEventListener('abort', () => settled || close(), { once: true });
      try {
        const out = await run(signal);
        if (!out.ok || last) close();
        return out;
      } catch (e) {
        close();
        throw e;
      } finally {
        settled = true;
        ctx.result.ssh = finding;
      }
    };

  const sshStep = async (signal: AbortSignal): Promise<StepOutcome> => {
    const known = o.knownHosts ? parseKnownHosts(o.knownHosts.text) : undefined;
    const knownTypes = known ? knownKeyTypes(known, target.host, target.port) : [];
    // Ask in JSch's order, reordered for the key types known_hosts holds (jschHostKeyOrder): the
    // server then shows the key the platform's client would get, and that key is judged.
    const jschOrder = jschHostKeyOrder(knownTypes);
    const prefer = known ? ssh2HostKeyAlgorithms([...jschOrder.current, ...jschOrder.deprecated]) : [];
    let judged: HostKeysJudgement | undefined;
    const t = await openTransport({
      address: ctx.addresses[0]!,
      port: target.port,
      timeoutMs: opts.timeoutMs,
      signal,
      ...(prefer.length ? { hostKeyAlgorithms: { prefer } } : {}),
      acceptHostKey: (key, offered) => {
        if (!known) return true;
        judged = judgeHostKeys(known, target.host, target.port, [key], offered);
        return judged.check.verdict === 'match';
      },
      authHandler,
    });
    const check = judged?.check;
    client = t.client;
    client?.once('close', () => (closedEarly = true));
    if (t.banner) finding.banner = t.banner;
    if (ALGORITHM_KINDS.every((k) => t.offered[k]))
      finding.algorithms = Object.fromEntries(
        ALGORITHM_KINDS.map((k) => [k, judgeAlgorithm(k, t.offered[k]!, t.agreed?.[k], knownTypes)]),
      ) as AlgorithmsFinding;
    if (t.hostKey) {
      const { type, blob } = t.hostKey;
      finding.hostKey = {
        type,
        sha256: sha256Fingerprint(blob),
        md5: md5Fingerprint(blob),
        line: knownHostsLine(target.host, target.port, t.hostKey),
      };
    }
    if (check && o.knownHosts) {
      finding.knownHosts = check.verdict;
      finding.knownHostsFile = o.knownHosts.file;
      if (check.stored.length) finding.storedKeys = check.stored;
      if (check.revokedLine) finding.revokedLine = check.revokedLine;
      if (check.certAuthorities.length) finding.certAuthorities = check.certAuthorities;
      if (check.otherTypes.length) finding.otherKeyTypes = check.otherTypes;
      if (check.sameKeyElsewhere.length) finding.sameKeyElsewhere = check.sameKeyElsewhere;
    }

    // The platform's client negotiates before it looks at the host key: algorithms come first.
    const jsch = finding.algorithms && jschSentence(finding.algorithms);
    if (finding.algorithms && ALGORITHM_KINDS.some((k) => finding.algorithms![k].jsch === 'none'))
      return {
        ok: false,
        detail: jsch!,
        signals: [{ type: 'ssh.algorithms', value: 'no-common' }],
        text: jsch!,
      };
    if (t.failure?.kind === 'rejected' && check && finding.hostKey)
      return hostKeyOutcome(check, o.knownHosts!.file, finding.hostKey.type, finding.hostKey.sha256);
    if (t.failure) return transportOutcome(t.failure, where);

    const key = finding.hostKey!;
    const verdict = check
      ? `known_hosts: match (line ${check.stored.find((s) => s.sha256 === key.sha256)?.line})`
      : 'known_hosts not checked (give --known-hosts FILE)';
    const parts = [t.banner, `${key.type} ${key.sha256}`, verdict, jsch].filter(Boolean);
    // Passed, but not judged (no known_hosts) or only with the channel's deprecated-algorithms box.
    const warnings = [
      jsch &&
        `Cloud Integration's SFTP adapter fails with "Algorithm negotiation fail" unless the channel's "Enable Support for Deprecated Algorithms" is selected (linkdoctor kb show out-sftp)`,
      !check &&
        `the host key was not checked against a known_hosts file: the platform rejects a key its Known Hosts (SSH) artifact does not hold ("reject HostKey")`,
    ].filter(Boolean);
    return {
      ok: true,
      detail: parts.join('; '),
      ...(warnings.length ? { warning: warnings.join('; ') } : {}),
    };
  };

  const authStep = (): Promise<StepOutcome> =>
    new Promise((resolve) => {
      const c = client!;
      const username = user ?? NO_USER;
      const offers = () => `the server offers ${finding.authMethods?.join(', ') || 'no method'}`;
      const done = (out: StepOutcome) => {
        c.removeListener('ready', onReady).removeListener('error', onError).removeListener('close', onClose);
        resolve(out);
      };
      const onReady = () => {
        const method = login.tried.at(-1) ?? 'none';
        finding.authMethods ??= ['none'];
        finding.login = { user: username, ok: true, method, refused: login.refused };
        done({ ok: true, detail: `logged in as ${username} with ${method}; ${offers()}` });
      };
      const onError = (e: Error & { level?: string }) => {
        if (e.level !== 'client-authentication')
          return done({
            ok: false,
            detail: `the connection failed during the login: ${e.message}`,
            text: e.message,
          });
        if (!user || !hasCredentials)
          return done({
            ok: true,
            detail: `${offers()}; login not tested (${user ? 'give --identity FILE or --password-env VAR' : 'no user: give sftp://user@host or -u USER'})`,
            warning: `the login was not tested (${user ? 'no key or password given' : 'no user given'})`,
          });
        const last = login.tried.at(-1);
        if (last && !login.refused.includes(last)) login.refused.push(last);
        finding.login = { user: username, ok: false, refused: login.refused };
        const given = [o.identity && 'publickey', o.password !== undefined && 'password'].filter(Boolean);
        const what = login.refused.length
          ? `the server refused ${login.refused.map((m) => (m === 'publickey' ? `publickey (${o.identity!.label})` : m)).join(' and ')}`
          : `the server does not offer ${given.join(' or ')}`;
        const detail = `login as ${username} failed: ${what}; ${offers()}`;
        done({ ok: false, detail, signals: [{ type: 'ssh.auth', value: 'refused' }], text: detail });
      };
      const onClose = () =>
        done({
          ok: false,
          detail: `${where} closed the connection during the login`,
          signals: [{ type: 'net.error', value: 'closed' }],
        });
      if (closedEarly) return onClose();
      c.on('ready', onReady).on('error', onError).on('close', onClose);
      releaseLogin();
    });

  const sftpStep = async (): Promise<StepOutcome> => {
    const c = client!;
    const path = sftpPath(target.url);
    finding.sftp = { path };
    let sftp: SFTPWrapper;
    try {
      sftp = await call<SFTPWrapper>((cb) => c.sftp(cb));
    } catch (e) {
      const detail = `sftp: the server has no SFTP subsystem for this user (${(e as Error).message})`;
      return { ok: false, detail, text: detail };
    }
    let real: string;
    try {
      real = await call<string>((cb) => sftp.realpath(path, cb));
      finding.sftp.realPath = real;
      const stats = await call<{ isDirectory(): boolean }>((cb) => sftp.stat(real, cb));
      if (!stats.isDirectory()) {
        const detail = `sftp: ${real} is a file, not a directory`;
        return { ok: false, detail, text: detail };
      }
    } catch (e) {
      const failure = sftpFailure('cannot open', path, e as Error);
      const home = await homeHolds(sftp, path);
      if (home) {
        const url = new URL(target.url.href);
        url.pathname = `/~/${home.relative}`;
        // The form to copy: with the user it logged in as (the target's URL carries none).
        if (user) url.username = encodeURIComponent(user);
        failure.detail += `; the home directory ${home.dir} holds ${home.relative}: ${url.href} opens it (the platform's SFTP adapter reads a directory without a leading slash, ${home.relative}, relative to the home directory)`;
      }
      return failure;
    }
    try {
      finding.sftp.entries = (await call<unknown[]>((cb) => sftp.readdir(real, cb))).length;
    } catch (e) {
      return sftpFailure('cannot list', real, e as Error);
    }
    const listed = `${real}: ${plural(finding.sftp.entries, 'entry', 'entries')}`;
    if (!o.writeTest) return { ok: true, detail: listed };
    const file = `${real.replace(/\/$/, '')}/linkdoctor-write-test-${randomBytes(4).toString('hex')}.tmp`;
    finding.sftp.writeTest = { file, ok: false };
    try {
      await call<void>((cb) => sftp.writeFile(file, 'linkdoctor write test\n', (err) => cb(err, undefined)));
    } catch (e) {
      return sftpFailure('cannot create a file in', real, e as Error);
    }
    try {
      await call<void>((cb) => sftp.unlink(file, (err) => cb(err, undefined)));
    } catch (e) {
      return sftpFailure('created but cannot remove', file, e as Error);
    }
    finding.sftp.writeTest.ok = true;
    return { ok: true, detail: `${listed}; a temporary file was created and removed` };
  };

  const steps: PlannedStep[] = [
    // The identification, then the key exchange: each gets the timeout.
    { name: 'ssh', boundMs: opts.timeoutMs * 2, run: guard(sshStep, false) },
    // A key and a password may both be tried.
    { name: 'auth', boundMs: opts.timeoutMs * 2, run: guard(authStep, !(user && hasCredentials)) },
  ];
  if (user && hasCredentials)
    steps.push({ name: 'sftp', boundMs: opts.timeoutMs * (o.writeTest ? 4 : 2), run: guard(sftpStep, true) });
  return steps;
}
