// What a port really speaks, when the URL's scheme did not work: the first words of the server (an
// SSH identification, an SMTP or FTP greeting), or, from a server that waits for the client, its
// answer to a TLS ClientHello (a TLS record, or a plain HTTP server's "400 Bad Request"). A wrong
// scheme (https:// to an SSH port, http:// to a TLS port, sftp:// to a web server, smtp:// to an
// implicit-TLS port) is then said as such, with the URL that would work.
import { randomBytes } from 'node:crypto';
import { connect, isIP } from 'node:net';
import { hostPort } from '../errors.js';
import type { Signal } from '../types.js';
import type { PlannedStep, ProbeContext } from './run.js';
import type { StepRecord } from './step.js';
import type { Target } from './target.js';

/** A protocol a port may speak, and the scheme(s) that test it. */
export type Spoken = 'ssh' | 'smtp' | 'smtp-tls' | 'ftp' | 'ftp-tls' | 'tls' | 'http' | 'pop3' | 'imap';

/** What a port answered: the protocol, and the words that tell it (printable by the report). */
export interface Sniffed {
  protocol: Spoken;
  evidence: string;
}

// A TLS 1.2 ClientHello with broad suites, so that old and new servers answer it.
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);
const ext = (type: number, body: Buffer) => Buffer.concat([u16(type), vec16(body)]);

// TLS 1.2 suites a load balancer or a Java/ABAP server offers; broad so that old servers answer too.
const SUITES = [
  0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009e, 0x009f, 0x009c,
  0x009d, 0x002f, 0x0035, 0xc023, 0xc027, 0xc024, 0xc028, 0x003c, 0x003d,
];
const SIGALGS = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201];
const GROUPS = [0x001d, 0x0017, 0x0018, 0x0019];

function clientHello(servername?: string): Buffer {
  const exts = [
    ext(0x000a, vec16(Buffer.concat(GROUPS.map(u16)))),
    ext(0x000b, Buffer.from([1, 0])),
    ext(0x000d, vec16(Buffer.concat(SIGALGS.map(u16)))),
    ext(0x0017, Buffer.alloc(0)),
    ext(0xff01, Buffer.from([0])),
  ];
  if (servername && !isIP(servername)) {
    const name = Buffer.from(servername, 'ascii');
    exts.unshift(ext(0x0000, vec16(Buffer.concat([Buffer.from([0]), vec16(name)]))));
  }
  const body = Buffer.concat([
    u16(0x0303),
    randomBytes(32),
    Buffer.from([0]),
    vec16(Buffer.concat(SUITES.map(u16))),
    Buffer.from([1, 0]),
    vec16(Buffer.concat(exts)),
  ]);
  const handshake = Buffer.concat([Buffer.from([1]), u24(body.length), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

/** How long the server may take to speak first before the probe speaks TLS to it. */
const FIRST_WORDS_MS = 1500;
/** Bytes read: a greeting's first line is enough. */
const READ_MAX = 512;

/** The protocol of a greeting a server sends first, if it is one this knows. */
export function greetingProtocol(first: Buffer): Sniffed | undefined {
  const text = first.toString('latin1');
  const line = text.split(/\r?\n/)[0]!.slice(0, 80);
  if (/^SSH-\d\.\d+-/.test(text)) return { protocol: 'ssh', evidence: line };
  if (/^220[ -]/.test(text) && /\bE?SMTP\b|\bmail\b|Postfix|Exim|Sendmail|Exchange/i.test(text))
    return { protocol: 'smtp', evidence: line };
  if (/^220[ -]/.test(text) && /\bFTP\b|FileZilla|vsFTPd|ProFTPD|Pure-FTPd/i.test(text))
    return { protocol: 'ftp', evidence: line };
  if (/^\+OK\b/.test(text)) return { protocol: 'pop3', evidence: line };
  if (/^\* OK\b/.test(text)) return { protocol: 'imap', evidence: line };
  if (/^HTTP\/\d/.test(text)) return { protocol: 'http', evidence: line };
  if ((first[0] === 0x15 || first[0] === 0x16) && first[1] === 0x03)
    return { protocol: 'tls', evidence: first[0] === 0x16 ? 'a TLS handshake record' : 'a TLS alert record' };
  return undefined;
}

/** Reads what one connection answers: first what the server says unasked, else its answer to `hello`. */
function exchange(
  address: string,
  port: number,
  boundMs: number,
  signal: AbortSignal,
  hello?: Buffer,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      socket.destroy();
      resolve(size ? Buffer.concat(chunks) : undefined);
    };
    const timer = setTimeout(done, boundMs);
    signal.addEventListener('abort', done, { once: true });
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => hello && socket.write(hello));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      // A line or a TLS record header is enough to tell.
      if (size >= READ_MAX || /\n/.test(d.toString('latin1')) || (chunks[0]![0]! < 0x20 && size >= 5)) done();
    });
  });
}

/**
 * What the port speaks: the server's own first words, or its answer to a TLS ClientHello when it
 * waits for the client. An SMTP or FTP greeting that comes inside TLS (implicit TLS: smtps://,
 * ftps://) is told by the port's usual number. Undefined when the answer tells nothing known.
 */
export async function whatItSpeaks(
  address: string,
  port: number,
  boundMs: number,
  signal: AbortSignal,
  servername?: string,
  waitFirst = true,
): Promise<Sniffed | undefined> {
  const first = waitFirst
    ? await exchange(address, port, Math.min(FIRST_WORDS_MS, boundMs / 2), signal)
    : undefined;
  if (first) return greetingProtocol(first);
  if (signal.aborted) return undefined;
  const answer = await exchange(address, port, boundMs / 2, signal, clientHello(servername));
  const found = answer && greetingProtocol(answer);
  if (found?.protocol === 'tls' && (port === 465 || port === 990))
    return { protocol: port === 465 ? 'smtp-tls' : 'ftp-tls', evidence: found.evidence };
  return found;
}

/** Protocol names as people say them. */
const NAMES: Record<Spoken, string> = {
  ssh: 'SSH',
  smtp: 'SMTP',
  'smtp-tls': 'SMTP over implicit TLS',
  ftp: 'FTP',
  'ftp-tls': 'FTP over implicit TLS',
  tls: 'TLS',
  http: 'plain HTTP',
  pop3: 'POP3',
  imap: 'IMAP',
};

/** The schemes that fit what the port speaks, given the one the user tried (https→smtps, not ftps). */
function schemesFor(spoken: Spoken, tried: string): string[] {
  switch (spoken) {
    case 'ssh':
      return ['sftp'];
    case 'smtp':
      return ['smtp'];
    case 'smtp-tls':
      return ['smtps'];
    case 'ftp':
      return ['ftp'];
    case 'ftp-tls':
      return ['ftps'];
    case 'http':
      return ['http'];
    case 'tls':
      return tried === 'smtp' ? ['smtps'] : tried === 'ftp' ? ['ftps'] : ['https'];
    default:
      return [];
  }
}

/** The target's URL with another scheme (the port kept, the path kept where the scheme has paths). */
function withScheme(t: Target, scheme: string): string {
  const path = /^(?:https?|s?ftps?)$/.test(scheme) && t.url.pathname !== '/' ? t.url.pathname : '/';
  const tail = scheme.startsWith('smtp') ? '' : `${path}${/^https?$/.test(scheme) ? t.url.search : ''}`;
  return `${scheme}://${hostPort(t.host, t.port)}${tail}`;
}

/** What the scheme the user tried expects a port to speak. */
const EXPECTED: Record<string, Spoken[]> = {
  https: ['tls'],
  http: ['http'],
  sftp: ['ssh'],
  ssh: ['ssh'],
  smtp: ['smtp'],
  smtps: ['tls', 'smtp-tls'],
  ftp: ['ftp'],
  ftps: ['tls', 'ftp-tls'],
};

/** One sentence on a wrong scheme, and its signal; undefined when the port speaks what the URL says. */
export function wrongScheme(t: Target, found: Sniffed): { sentence: string; signal: Signal } | undefined {
  if (EXPECTED[t.scheme]?.includes(found.protocol)) return undefined;
  const use = schemesFor(found.protocol, t.scheme).map((s) => withScheme(t, s));
  const evidence =
    found.protocol === 'tls' || found.protocol === 'smtp-tls' || found.protocol === 'ftp-tls'
      ? `it answered a TLS ClientHello with ${found.evidence}`
      : // A plain HTTP server says nothing first: what it said answered the probe's TLS ClientHello.
        found.protocol === 'http'
        ? `it answered a TLS ClientHello with "${found.evidence}"`
        : `it greets with "${found.evidence}"`;
  const sentence = `this port speaks ${NAMES[found.protocol]}, not what ${t.scheme}:// expects (${evidence})${
    use.length ? `: use ${use.join(' or ')}` : ': the probe has no scheme for it'
  }`;
  return {
    sentence,
    signal: { type: 'net.protocol', value: found.protocol, detail: use[0] ?? '' },
  };
}

/** Steps that wait for the server to speak first. */
const GREETING_FIRST = new Set(['ssh', 'smtp', 'ftp']);

/** Signals that show the port spoke the URL's protocol: its failure is of that protocol, not the scheme. */
const SPOKE_IT = /^(?:http\.(?!method$)|smtp\.|ssh\.|tls\.alert$)/;

/**
 * The step that tells a wrong scheme: it runs after the first protocol step (`first`: tls for
 * https, ssh for sftp, smtp, ftp, http) failed without a sign that the port speaks that protocol,
 * and joins that step's detail with one sentence and a `net.protocol` signal. It says nothing when
 * the port speaks what the URL expects.
 */
export function schemeStep(ctx: ProbeContext, first: string | undefined): PlannedStep {
  /** The failed step waited for the server's greeting and got none (it may wait for a ClientHello). */
  let silent = false;
  return {
    name: 'scheme',
    afterFailure: (failed: StepRecord) => {
      // Not after a failed tls step: that step reads what the server said instead from its own
      // handshake's bytes (tls.ts); a second connection beside the tap's socket crashed Node.
      if (failed.name !== first || failed.name === 'tls') return false;
      const net = failed.signals.find((s) => s.type === 'net.error')?.value;
      silent = net === 'silent' || net === 'slow' || net === 'timeout';
      // A silence after a ClientHello or a request tells nothing more: only a greeting-waiter asks on.
      if (silent && !GREETING_FIRST.has(first)) return false;
      return !failed.signals.some(
        (s) =>
          SPOKE_IT.test(s.type) ||
          (s.type === 'tls.verdict' && s.value !== 'handshake-failed') ||
          (s.type === 'net.error' && s.value === 'budget'),
      );
    },
    run: async (signal) => {
      const found = await whatItSpeaks(
        ctx.addresses[0]!,
        ctx.target.port,
        ctx.opts.timeoutMs,
        signal,
        ctx.target.host,
        !silent,
      );
      const wrong = found && wrongScheme(ctx.target, found);
      if (!wrong) return { ok: true, detail: '' };
      return { ok: false, detail: wrong.sentence, signals: [wrong.signal], text: wrong.sentence };
    },
  };
}
