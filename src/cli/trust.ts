// `linkdoctor trust show | expiring | add-from-site`: thin commands over src/trust/.
import type { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostPort, UserError } from '../errors.js';
import { colorsFor, type Colors } from '../report/text.js';
import { jsonText, printable } from '../report/printable.js';
import { siteChain, SITE_SCHEMES, type SiteChain } from '../probe/site-chain.js';
import { aliasFor, certInfo, isSelfSigned, shortName } from '../trust/cert.js';
import { judgeChain } from '../trust/chain.js';
import { loadTrustStore, type TrustEntry } from '../trust/store.js';
import { addTrustedCerts } from '../trust/write.js';
import type { CertInfo, ChainJudgement, TlsVerdict } from '../types.js';
import { secretFromEnv } from './secrets.js';
import { fingerprintLines, fitText, plural, textWidth } from '../report/width.js';

interface StoreFlags {
  passwordEnv?: string;
  json?: boolean;
}

const password = (f: StoreFlags) =>
  f.passwordEnv ? secretFromEnv(f.passwordEnv, 'store password') : undefined;
/** Text output, made to fit the terminal (fitText). */
const print = (s: string): void => void process.stdout.write(`${fitText(s.replace(/\n$/, ''))}\n`);
const printJson = (v: unknown) => void process.stdout.write(`${jsonText(v, 2)}\n`);
const withInfo = (e: TrustEntry): { alias: string } & CertInfo => ({ alias: e.alias, ...certInfo(e.cert) });

/** Days left, or "expired" (VALID UNTIL says since when). */
const daysText = (days: number): string => (days < 0 ? 'expired' : `${days}d`);

/**
 * `text` in lines of at most `width` columns, cut at spaces; a word longer than a line is cut too
 * (a table cell, whose full value --json gives).
 */
function cellLines(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(' ')) {
    while (word.length > width) {
      if (line) lines.push(line);
      lines.push(word.slice(0, width));
      word = word.slice(width);
      line = '';
    }
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}

/**
 * One row per entry (alias, valid until, days left, subject, issuer), its SHA-256 below it. The
 * subject and issuer are their CN (the DN when it has none); when the table is wider than the text
 * output (textWidth), the alias, subject and issuer wrap within their own columns, the table staying
 * a table (--json has them whole).
 */
function table(rows: ({ alias: string } & CertInfo)[], c: Colors): string {
  const cn = (dn: string) => /(?:^|,\s*)CN=((?:\\,|[^,])*)/.exec(dn)?.[1] ?? dn;
  const head = ['ALIAS', 'VALID UNTIL', 'DAYS LEFT', 'SUBJECT', 'ISSUER'];
  // Aliases and names come from the store and from whoever made the certificate: printable.
  const cells = rows.map((r) => [
    printable(r.alias),
    r.notAfter.slice(0, 10),
    daysText(r.daysLeft),
    printable(cn(r.subject)),
    printable(cn(r.issuer)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  // Wider than the text output: the widest of alias, subject and issuer gives a column at a time
  // (each keeps 8), and their cells wrap within their columns.
  const WRAPPED = [0, 3, 4];
  const fixed = 2 * (head.length - 1) + widths[1]! + widths[2]!;
  const sum = () => WRAPPED.reduce((n, i) => n + widths[i]!, 0);
  for (let over = sum() + fixed - textWidth(); over > 0; over--) {
    const widest = WRAPPED.reduce((a, b) => (widths[b]! > widths[a]! ? b : a));
    if (widths[widest]! <= 8) break;
    widths[widest]!--;
  }
  const line = (row: string[], days?: number) =>
    row
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        if (i !== 2 || days === undefined) return padded;
        return days < 0 ? c.red(padded) : days < 30 ? c.yellow(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  /** A row's physical lines: its subject and issuer wrapped within their columns. */
  const rowLines = (row: string[], days: number) => {
    const wrapped = row.map((cell, i) => (WRAPPED.includes(i) ? cellLines(cell, widths[i]!) : [cell]));
    const height = Math.max(...wrapped.map((w) => w.length));
    return Array.from({ length: height }, (_, k) =>
      line(
        wrapped.map((w) => w[k] ?? ''),
        k === 0 ? days : undefined,
      ),
    );
  };
  return [
    c.bold(line(head)),
    ...rows.flatMap((r, i) => [
      ...rowLines(cells[i]!, r.daysLeft),
      ...fingerprintLines('  SHA-256', r.sha256).map(c.dim),
    ]),
  ].join('\n');
}

export async function trustShow(file: string, opts: StoreFlags): Promise<void> {
  const store = await loadTrustStore({ file, password: password(opts) });
  const rows = store.entries.map(withInfo);
  if (opts.json) return printJson(rows);
  const c = colorsFor(process.stdout);
  print(`${c.bold(store.label)}\n${rows.length ? table(rows, c) : '  (no certificates)'}`);
}

/** The days `trust expiring` looks ahead without --days. */
export const DEFAULT_EXPIRING_DAYS = 30;

export async function trustExpiring(file: string, opts: StoreFlags & { days?: number }): Promise<void> {
  const days = opts.days ?? DEFAULT_EXPIRING_DAYS;
  if (!Number.isFinite(days) || days < 0) throw new UserError('--days takes a number of days, 0 or more');
  const store = await loadTrustStore({ file, password: password(opts) });
  const all = store.entries.map(withInfo).sort((a, b) => a.daysLeft - b.daysLeft);
  const expiring = all.filter((r) => r.daysLeft < days);
  if (expiring.length) process.exitCode = 1;
  if (opts.json) return printJson(expiring);
  const c = colorsFor(process.stdout);
  if (!expiring.length) {
    const next = all[0];
    return print(
      `${c.green('✔')} No certificate of ${store.label} expires within ${days} days${next ? ` (the first to expire: ${next.alias}, on ${next.notAfter.slice(0, 10)})` : ''}.`,
    );
  }
  print(
    `${c.red('✖')} ${expiring.length} of ${all.length} certificates of ${store.label} expire within ${days} days:\n${table(expiring, c)}`,
  );
}

/**
 * "host", "host:port", "[::1]:port" or a URL of a scheme add-from-site takes (SITE_SCHEMES: https,
 * smtp, smtps, ftp, ftps); without a scheme, https. The port defaults to the scheme's.
 */
export function parseTarget(target: string): { scheme: string; host: string; port: number } {
  const bad = () => new UserError(`"${target}" is not a host name, HOST:PORT or URL (a port is 1 to 65535)`);
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : `https://${target}`);
  } catch {
    throw bad();
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const known = SITE_SCHEMES[scheme];
  if (!known)
    throw new UserError(
      `add-from-site takes https://, smtp:// (STARTTLS), smtps://, ftp:// (AUTH TLS) or ftps://, not ${printable(scheme)}://`,
    );
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host || (isIP(host) === 0 && !/^[a-z0-9._-]+$/i.test(host))) throw bad();
  return { scheme, host, port: url.port ? Number(url.port) : known.port };
}

/**
 * add-from-site without --to: the chain as the server sent it, every certificate in full (as
 * `openssl s_client -showcerts` shows it, in PEM), and which one --to would add. Nothing is written.
 */
function showChain(where: string, site: SiteChain, top: X509Certificate, json: boolean | undefined): void {
  const index = site.chain.indexOf(top);
  if (json)
    return printJson({
      target: where,
      protocol: site.protocol,
      cipher: site.cipher,
      ...(site.starts ? { starts: site.starts } : {}),
      ...(site.alert ? { alert: site.alert } : {}),
      chain: site.chain.map((cert) => ({ ...certInfo(cert), pem: cert.toString() })),
      toTrust: index,
      written: false,
    });
  const c = colorsFor(process.stdout);
  const out = [...sentLines(where, site, c)];
  site.chain.forEach((cert, i) => {
    const info = certInfo(cert);
    out.push(
      `  ${i}. ${printable(info.subject)}${cert === top ? c.bold('  ← would be added') : ''}`,
      `     issuer ${printable(info.issuer)}`,
      c.dim(`     valid ${info.notBefore.slice(0, 10)} to ${info.notAfter.slice(0, 10)}`),
      ...fingerprintLines('     SHA-256', info.sha256).map(c.dim),
      cert.toString().trimEnd(),
    );
  });
  if (!top.ca && !isSelfSigned(top))
    out.push(
      c.yellow(
        `The server sends no CA certificate, so its own certificate would be added: it must be replaced when the server renews it.`,
      ),
    );
  out.push(
    `Nothing written: give --to FILE (PEM, PKCS#12, JKS or JCEKS) to add certificate ${index} to a trust store.`,
  );
  print(out.join('\n'));
}

/** The head of add-from-site's --json answer when it wrote nothing to the store `to`. */
const unwrittenJson = (where: string, site: SiteChain, to: string) => ({
  target: where,
  protocol: site.protocol,
  cipher: site.cipher,
  chain: site.chain.map(certInfo),
  store: to,
  created: false,
  results: [],
});

/** sentLines, then the chain one short name per line (an answer that wrote nothing). */
const sentChainLines = (where: string, site: SiteChain, c: Colors): string[] => [
  ...sentLines(where, site, c),
  ...site.chain.map((cert, i) => `  ${i}. ${printable(shortName(cert))}`),
];

/**
 * add-from-site on a store that already anchors the site's chain: nothing written; through which
 * entry it is trusted, and what a client would still refuse (exit 1), which adding cannot mend.
 */
function alreadyTrusted(
  where: string,
  site: SiteChain,
  to: string,
  anchor: NonNullable<ChainJudgement['anchor']>,
  check: Awaited<ReturnType<typeof checkAgain>>,
  json: boolean,
): void {
  const { judged, stillFails, note } = check;
  if (stillFails.length) process.exitCode = 1;
  if (json)
    return printJson({
      ...unwrittenJson(where, site, to),
      alreadyTrustedBy: anchor,
      trusted: !stillFails.length,
      ...(stillFails.length ? { stillFails } : {}),
      ...(judged.missing ? { missing: judged.missing } : {}),
      ...(note ? { checkedAgain: note } : {}),
    });
  const c = colorsFor(process.stdout);
  const through = `${c.bold(anchor.alias)} (${printable(anchor.subject)})`;
  print(
    [
      ...sentChainLines(where, site, c),
      ...(note ? [c.yellow(`  ${printable(note)}`)] : []),
      stillFails.length
        ? `${c.red('✖')} ${to} already trusts the chain of ${where} through ${through}, so nothing was written; a client still refuses it: ${printable(stillFails.join(' '))}`
        : `${c.green('✔')} ${to} already trusts the chain of ${where} through ${through}; nothing written.`,
    ].join('\n'),
  );
}

/**
 * add-from-site's answer when adding `top` would anchor the chain but the server's certificate does
 * not cover the host name (`mismatch`: judgeChain's sentence): nothing is written, since no trust
 * store makes a client accept a certificate for another name; the fix is the server's certificate or
 * the address the channel calls. Exit 1, a problem found. --json: `trusted: false`, `stillFails`,
 * `wouldAnchor` (the certificate that would have been added) and no `results`.
 */
function nameNotCovered(
  where: string,
  site: SiteChain,
  to: string,
  top: X509Certificate,
  mismatch: string,
  name: string,
  json: boolean,
): void {
  process.exitCode = 1;
  if (json)
    return printJson({
      ...unwrittenJson(where, site, to),
      wouldAnchor: certInfo(top),
      trusted: false,
      stillFails: [mismatch],
    });
  const c = colorsFor(process.stdout);
  print(
    [
      ...sentChainLines(where, site, c),
      `${c.red('✖')} ${printable(mismatch)} With ${printable(shortName(top))} added, ${to} would trust the chain, but a client would still refuse ${where}: no trust store mends a name the certificate does not cover. The fix is the server's certificate (one that names ${printable(name)}) or the address the channel calls (a name the certificate covers). Nothing written to ${to}.`,
    ].join('\n'),
  );
}

/**
 * The head of add-from-site's answer: how many certificates the server sent and over what, and, when
 * it then ended the handshake with an alert, that alert in one sentence.
 */
function sentLines(where: string, site: SiteChain, c: Colors): string[] {
  const over = [
    site.starts ? `after ${site.starts}` : '',
    site.protocol === 'unknown' ? '' : `${site.protocol}, ${site.cipher}`,
  ].filter(Boolean);
  const n = site.chain.length;
  const wants = site.clientCertRequested ? ': it wants a client certificate' : '';
  return [
    `${c.bold(where)} sent ${plural(n, 'certificate')}${over.length ? ` (${over.join(', ')})` : ''}:`,
    ...(site.alert ? [c.yellow(`  It then ended the handshake with the alert ${site.alert}${wants}.`)] : []),
  ];
}

/** What to add to trust the chain: the top certificate sent, that is the root when the server sends it. */
const toTrust = (chain: X509Certificate[]): X509Certificate => chain[chain.length - 1]!;

export async function trustAddFromSite(
  target: string,
  opts: StoreFlags & { to?: string; servername?: string; timeout: number },
): Promise<void> {
  if (!(opts.timeout > 0)) throw new UserError('--timeout takes a number of seconds greater than 0');
  const { scheme, host, port } = parseTarget(target);
  const pass = password(opts);
  const site = await siteChain(scheme, host, port, {
    ...(opts.servername ? { servername: opts.servername } : {}),
    timeoutMs: opts.timeout * 1000,
  });
  const top = toTrust(site.chain);
  if (opts.to === undefined) return showChain(hostPort(host, port), site, top, opts.json);
  // A store that already anchors the chain gets nothing: a leaf pinned beside its CA would only need
  // replacing at the next renewal, and what still fails (a host name, a date) no certificate mends.
  const name = opts.servername ?? host;
  let entries: TrustEntry[] = [];
  if (existsSync(opts.to)) {
    const store = await loadTrustStore({ file: opts.to, password: pass });
    const judged = judgeChain({ sent: site.chain, store, host: name });
    if (judged.trusted && judged.anchor) {
      // Judged again on a second connection, as after a write: a load balancer may show another chain.
      const check = await checkAgain(scheme, host, port, site, { ...opts, to: opts.to }, pass);
      return alreadyTrusted(hostPort(host, port), site, opts.to, judged.anchor, check, !!opts.json);
    }
    entries = store.entries;
  }
  // The chain would be trusted with `top` added, but its certificate names another host: no store
  // mends that (the fix is the certificate or the address), so nothing is written.
  const would = judgeChain({
    sent: site.chain,
    store: { label: opts.to, kind: 'pem', entries: [...entries, { alias: aliasFor(top), cert: top }] },
    host: name,
  });
  const mismatch = would.verdicts.indexOf('hostname-mismatch');
  if (would.trusted && mismatch >= 0)
    return nameNotCovered(
      hostPort(host, port),
      site,
      opts.to,
      top,
      would.sentences[mismatch]!,
      name,
      !!opts.json,
    );
  const { results, created } = await addTrustedCerts(opts.to, [top], pass);
  const check = await checkAgain(scheme, host, port, site, { ...opts, to: opts.to }, pass);
  const { judged, stillFails } = check;
  // The store was written, but a client would still refuse the site: a problem found.
  if (stillFails.length) process.exitCode = 1;

  if (opts.json)
    return printJson({
      target: hostPort(host, port),
      protocol: site.protocol,
      cipher: site.cipher,
      ...(site.starts ? { starts: site.starts } : {}),
      ...(site.alert ? { alert: site.alert } : {}),
      chain: site.chain.map(certInfo),
      store: opts.to,
      created,
      results: results.map((r) => ({
        alias: r.alias,
        status: r.status,
        ...(r.aliasTaken ? { aliasTaken: r.aliasTaken } : {}),
        ...certInfo(r.cert),
      })),
      trusted: !stillFails.length,
      ...(stillFails.length ? { stillFails } : {}),
      ...(judged.missing ? { missing: judged.missing } : {}),
      ...(check.note ? { checkedAgain: check.note } : {}),
    });

  const c = colorsFor(process.stdout);
  const out = [
    ...sentLines(hostPort(host, port), site, c),
    ...site.chain.map(
      (cert, i) => `  ${i}. ${printable(shortName(cert))}${cert === top ? c.dim('  ← to trust') : ''}`,
    ),
  ];
  if (!top.ca && !isSelfSigned(top))
    out.push(
      c.yellow(
        `  The server sends no CA certificate, so its own certificate is added: replace it when the server renews it.`,
      ),
    );
  for (const r of results) {
    const info = certInfo(r.cert);
    out.push(
      r.status === 'added'
        ? `${c.green('+')} added ${c.bold(r.alias)} to ${opts.to}${created ? ' (new file)' : ''}${r.aliasTaken ? c.dim(` (alias ${r.aliasTaken} was taken by another certificate)`) : ''}`
        : `${c.blue('=')} already present in ${opts.to} as ${c.bold(r.alias)}; nothing written`,
      `    ${printable(info.subject)}`,
      ...fingerprintLines(`    valid until ${info.notAfter.slice(0, 10)} · SHA-256`, info.sha256).map(c.dim),
      ...fingerprintLines('    SHA-1', info.sha1).map(c.dim),
    );
  }
  if (check.note) out.push(c.yellow(`  ${printable(check.note)}`));
  out.push(
    !stillFails.length
      ? `${c.green('✔')} ${opts.to} now trusts the chain of ${hostPort(host, port)}.`
      : judged.trusted
        ? `${c.red('✖')} ${opts.to} now holds the chain's anchor, but a client still refuses ${hostPort(host, port)}: ${printable(stillFails.join(' '))}`
        : `${c.red('✖')} ${opts.to} still does not trust the chain of ${hostPort(host, port)}: ${printable(stillFails.join(' '))}`,
  );
  print(out.join('\n'));
}

/** The verdicts that make a Java client refuse the handshake; the others (weak-key, incomplete-chain) are notes. */
const REFUSED: TlsVerdict[] = ['untrusted', 'expired', 'not-yet-valid', 'hostname-mismatch'];

/**
 * After add-from-site wrote the store: the site's chain fetched again on a new connection and judged
 * against the store read back from the file, as a Java client would judge it (judgeChain). Returns
 * the judgement, what still makes a client refuse the site (one sentence per problem: the issuer
 * still missing with where to get it, an expired certificate, a name it does not cover), and a note
 * when the second connection failed (the first chain is judged) or sent another certificate (a
 * load balancer in front of servers with different certificates).
 */
async function checkAgain(
  scheme: string,
  host: string,
  port: number,
  first: SiteChain,
  opts: { servername?: string; timeout: number; to: string },
  pass: string | undefined,
): Promise<{ judged: ChainJudgement; stillFails: string[]; note?: string }> {
  let sent = first.chain;
  let note: string | undefined;
  try {
    const again = await siteChain(scheme, host, port, {
      ...(opts.servername ? { servername: opts.servername } : {}),
      timeoutMs: opts.timeout * 1000,
    });
    if (again.chain[0]?.fingerprint256 !== first.chain[0]?.fingerprint256)
      note = `On a second connection ${hostPort(host, port)} sent another certificate (${shortName(again.chain[0] ?? first.chain[0]!)}): it has more than one (a load balancer?); judged on the second.`;
    sent = again.chain.length ? again.chain : first.chain;
  } catch (e) {
    note = `Connecting to ${hostPort(host, port)} again failed (${e instanceof Error ? e.message : String(e)}): judged on the chain it sent before.`;
  }
  const store = await loadTrustStore({ file: opts.to, password: pass });
  const judged = judgeChain({ sent, store, host: opts.servername ?? host });
  const stillFails = judged.verdicts
    .map((v, i) => (REFUSED.includes(v) ? judged.sentences[i]! : ''))
    .filter(Boolean);
  return { judged, stillFails, ...(note ? { note } : {}) };
}
