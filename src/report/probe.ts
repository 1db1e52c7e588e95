// The human and JSON forms of a probe: the steps as a checklist, the chain as a small tree, then
// the diagnosis in the same form as `diagnose` prints it.
import { factsOf } from '../diagnose/signals.js';
import type { CertInfo, ProbeResult } from '../types.js';
import { diagnoseJson } from './json.js';
import { printableDeep } from './printable.js';
import { type Colors, renderDiagnose, wrap } from './text.js';
import { cutLine, textWidth } from './width.js';

export function probeJson(r: ProbeResult): object {
  const { diagnoses } = diagnoseJson({
    diagnoses: r.diagnoses,
    signals: [],
    facts: {},
    direction: { inferred: r.direction, evidence: [] },
  }) as {
    diagnoses: unknown[];
  };
  return {
    target: r.target,
    direction: r.direction,
    ok: r.ok,
    steps: r.steps,
    ...(r.tls ? { tls: r.tls } : {}),
    ...(r.http ? { http: r.http } : {}),
    ...(r.smtp ? { smtp: r.smtp } : {}),
    ...(r.ftp ? { ftp: r.ftp } : {}),
    ...(r.ssh ? { ssh: r.ssh } : {}),
    ...(r.oauth ? { oauth: r.oauth } : {}),
    diagnoses,
    signals: r.signals,
  };
}

function certLine(c: CertInfo, col: Colors): string {
  const key = `${c.keyType.toUpperCase()}${c.keyBits ? ` ${c.keyBits}` : ''}${c.curve ? ` ${c.curve}` : ''}`;
  const days =
    c.daysLeft < 0
      ? col.red(`expired ${-c.daysLeft} days ago`)
      : c.daysLeft < 30
        ? col.yellow(`${c.daysLeft} days left`)
        : `${c.daysLeft} days left`;
  return `${col.bold(c.subject)}  ${col.dim(`${key}, ${c.signatureAlgorithm}, until ${c.notAfter.slice(0, 10)}`)} (${days})`;
}

/** The probe's checklist, then the diagnosis of what failed (compact unless `full`; `entryOf` as for renderDiagnose). */
export function renderProbe(
  probed: ProbeResult,
  c: Colors,
  opts: Pick<Parameters<typeof renderDiagnose>[2] & object, 'full' | 'entryOf'> & { verbose?: boolean } = {},
): string {
  // Banners, replies, reason phrases, headers, certificate names and file names are the peer's
  // words: printable from here on (renderDiagnose takes care of the diagnosis).
  const r = printableDeep(probed);
  const out: string[] = [`${c.bold('linkdoctor probe')} ${r.target}  ${c.dim(`[${r.direction}]`)}`];
  const width = Math.max(...r.steps.map((s) => s.name.length));
  for (const s of r.steps) {
    const mark = s.ok === null ? c.dim('·') : !s.ok ? c.red('✖') : s.warning ? c.yellow('!') : c.green('✔');
    const ms = s.ok === null ? '' : c.dim(`${String(s.ms).padStart(5)} ms  `);
    out.push(`  ${mark} ${s.name.padEnd(width)} ${ms}${s.ok === null ? c.dim(s.detail) : s.detail}`);
    if (s.name === 'tls' && r.tls && s.ok !== null) out.push(...tlsTree(r, c, s.ok === false));
    if (s.name === 'http' && r.http && s.ok !== null) out.push(...httpLines(r, c, !!opts.verbose));
    if (s.name === 'ssh' && r.ssh && s.ok !== null) out.push(...sshLines(r, c));
    if (s.name === 'tls' && r.smtp?.ehloAfterTls && s.ok !== null)
      out.push(`      ${c.dim(`EHLO after STARTTLS: ${r.smtp.ehloAfterTls.join(' · ')}`)}`);
    if (s.name === 'tcp' && r.smtp?.alternatives)
      for (const a of r.smtp.alternatives)
        out.push(
          `      ${a.answered ? c.green('✔') : c.red('✖')} ${a.port} (${a.protection}) ${c.dim(a.detail)}`,
        );
    if (s.name === 'list' && r.ftp?.listing && s.ok !== null) out.push(...ftpListing(r, c));
    if (opts.verbose && s.ok !== null) out.push(...dialogueLines(r, s.name, c));
  }
  if (r.ok) {
    out.push('', ...passedLines(r, c));
    return out.join('\n') + '\n';
  }
  out.push('');
  out.push(
    renderDiagnose(
      {
        diagnoses: r.diagnoses,
        signals: r.signals,
        // With no diagnosis, the facts are still what the probe saw (a status, the host).
        facts: r.diagnoses[0]?.facts ?? factsOf(r.signals),
        direction: { inferred: r.direction, evidence: [] },
      },
      c,
      { ...opts, lineNumbers: false, source: 'probe' },
    ).trimEnd(),
  );
  return out.join('\n') + '\n';
}

/**
 * The end of a probe whose steps all passed (`r.ok`), as lines at `indent`: "✔ All steps passed.", or,
 * when a step passed only with a warning (ProbeStep.warning), "! No step failed, but one passed with a
 * warning:" and a line for each, since what was not checked must not read as a pass. The probe's
 * text and the demo end with it.
 */
export function passedLines(r: Pick<ProbeResult, 'steps'>, c: Colors, indent = ''): string[] {
  const warned = r.steps.filter((s) => s.ok && s.warning);
  if (!warned.length) return [`${indent}${c.green('✔')} ${c.bold('All steps passed.')}`];
  return [
    `${indent}${c.yellow('!')} ${c.bold(`No step failed, but ${warned.length === 1 ? 'one' : warned.length} passed with a warning:`)}`,
    ...warned.map((s) => wrap(`${s.name}: ${s.warning}`, `${indent}  `)),
  ];
}

function tlsTree(r: ProbeResult, c: Colors, failed: boolean): string[] {
  const t = r.tls!;
  const lines: string[] = [];
  // The step's line tells the first problem; every other one on a line of its own.
  if (failed) for (const s of (t.sentences ?? []).slice(1)) lines.push(wrap(`also: ${s}`, '      '));
  lines.push(`      ${c.dim(`trust store: ${t.store}`)}`);
  t.chain.forEach((cert, i) => lines.push(`      ${' '.repeat(i * 3)}${i ? '└─ ' : ''}${certLine(cert, c)}`));
  if (t.missing) {
    const depth = t.chain.length;
    lines.push(
      `      ${' '.repeat(depth * 3)}└─ ${c.red('missing:')} ${c.bold(t.missing.subject)}${t.missing.url ? c.dim(` (get it from ${t.missing.url})`) : ''}${t.missing.sha256 ? c.dim(` SHA-256 ${t.missing.sha256}`) : ''}`,
    );
  }
  for (const cert of t.offPath ?? [])
    lines.push(
      wrap(`${c.dim('also sent, on no path from the server certificate:')} ${cert.subject}`, '      '),
    );
  if (t.clientCertRequested !== undefined)
    lines.push(
      `      ${c.dim('client certificate:')} ${t.clientCertRequested ? 'requested' : 'not requested'}${
        t.clientCertAccepted !== undefined
          ? `, ${t.clientCertAccepted ? c.green('accepted') : c.red('refused')}`
          : ''
      }`,
    );
  if (t.clientCert) {
    const k = t.clientCert;
    const left = k.daysLeft < 0 ? c.red(`expired ${-k.daysLeft} days ago`) : `${k.daysLeft} days left`;
    lines.push(
      wrap(
        `${c.dim('presented:')} ${k.subject}, issued by ${k.issuer}, until ${k.notAfter.slice(0, 10)} (${left})`,
        '      ',
      ),
    );
    if (t.clientCertProblems && !failed)
      for (const p of t.clientCertProblems) lines.push(wrap(`also: ${p}`, '      '));
  }
  if (t.acceptableCAs.length) {
    lines.push(`      ${c.dim('acceptable client certificate CA names:')}`);
    for (const n of t.acceptableCAs) lines.push(`        ${n}`);
  }
  return lines;
}

/** `-v`: the SMTP or FTP commands and replies of one step, as curl -v shows them (credentials masked). */
function dialogueLines(r: ProbeResult, step: string, c: Colors): string[] {
  const lines = r.smtp?.dialogue ?? r.ftp?.dialogue ?? [];
  return lines
    .filter((l) => l.step === step)
    .map((l) => `        ${c.dim(cutLine(`${l.dir} ${l.text}`, textWidth() - 8))}`);
}

function ftpListing(r: ProbeResult, c: Colors): string[] {
  const f = r.ftp!;
  const lines = f.listing!.map(
    (e) =>
      `      ${c.dim(`${e.type === 'directory' ? 'd' : e.type === 'link' ? 'l' : '-'} ${String(e.size).padStart(10)} ${e.name}`)}`,
  );
  if ((f.entries ?? 0) > lines.length) lines.push(`      ${c.dim(`… ${f.entries! - lines.length} more`)}`);
  return lines;
}

const ALGORITHM_NAMES = { kex: 'key exchange', serverHostKey: 'host key', cipher: 'cipher', mac: 'MAC' };

/** The algorithms (agreed here, and what JSch would pick), then the known_hosts verdict's particulars. */
function sshLines(r: ProbeResult, c: Colors): string[] {
  const ssh = r.ssh!;
  const lines: string[] = [];
  for (const [kind, name] of Object.entries(ALGORITHM_NAMES)) {
    const a = ssh.algorithms?.[kind as keyof typeof ALGORITHM_NAMES];
    if (!a) continue;
    const jsch =
      a.jsch === 'ok'
        ? `JSch: ${a.jschPicks}`
        : a.jsch === 'deprecated'
          ? c.yellow(`JSch: only the deprecated ${a.jschPicks}`)
          : c.red(`JSch: none of ${a.offered.join(', ')}`);
    lines.push(
      `      ${c.dim(`${name.padEnd(12)} ${a.agreed ? `${a.agreed}  ` : ''}(`)}${jsch}${c.dim(')')}`,
    );
  }
  if (ssh.knownHosts === 'changed' && ssh.hostKey) {
    for (const k of ssh.storedKeys ?? [])
      lines.push(`      ${c.dim(`stored   ${k.type} ${k.sha256} (${ssh.knownHostsFile} line ${k.line})`)}`);
    lines.push(`      ${c.dim('server')}   ${c.red(`${ssh.hostKey.type} ${ssh.hostKey.sha256}`)}`);
  }
  if (ssh.knownHosts === 'unknown' && ssh.hostKey)
    lines.push(
      `      ${c.dim('line to add (through the Cloud Connector, with its virtual host name):')}`,
      `        ${ssh.hostKey.line}`,
    );
  return lines;
}

/** The HTTP exchanges; `verbose`: every header recorded (secrets masked), not only the telling ones. */
function httpLines(r: ProbeResult, c: Colors, verbose: boolean): string[] {
  const h = r.http as {
    exchanges: {
      method: string;
      url: string;
      status: number;
      reason: string;
      ms: { total: number };
      headers: Record<string, string>;
    }[];
    notes: string[];
  };
  const lines: string[] = [];
  for (const x of h.exchanges) {
    lines.push(`      ${c.dim(`${x.method} ${x.url} → ${x.status} ${x.reason} (${x.ms.total} ms)`)}`);
    for (const k of verbose
      ? Object.keys(x.headers)
      : ['www-authenticate', 'x-csrf-token', 'location', 'retry-after'])
      if (x.headers[k]) lines.push(`        ${c.dim(`${k}: ${x.headers[k]}`)}`);
  }
  for (const n of h.notes) lines.push(wrap(n, '      '));
  return lines;
}
