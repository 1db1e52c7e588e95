// The offline demo: start the lab, probe every server the way the platform would call it, print
// each verdict and diagnosis, stop the lab; then diagnose a few error texts as users paste them.
import { diagnose } from '../diagnose/match.js';
import { loadKb } from '../kb/load.js';
import { Command } from 'commander';
import { type Lab, type LabScenario, startLab, stopOnSignals } from '../lab/index.js';
import { probe, type ProbeOptions } from '../probe/run.js';
import { printableDeep } from '../report/printable.js';
import { passedLines } from '../report/probe.js';
import { colorsFor, wrap } from '../report/text.js';
import { readFile } from 'node:fs/promises';
import type { Kb } from '../kb/load.js';
import type { ProbeResult } from '../types.js';
import type { Colors } from '../report/text.js';
import { scanJson } from '../report/scan.js';
import { TenantClient } from '../tenant/client.js';
import { DEFAULT_STATUSES, tenantFailures } from '../tenant/failures.js';
import { loadServiceKey } from '../tenant/service-key.js';
import { TENANT_ERRORS } from '../lab/tenant.js';
import { probeOptions, type ProbeFlags } from './probe.js';
import { withProbeFlags } from './probe-flags.js';
import { fitText } from '../report/width.js';

export const SAMPLES: { what: string; text: string }[] = [
  {
    what: 'an SFTP receiver, from the message processing log',
    text: '[CAMEL][IFLOW][EXCEPTION] : com.jcraft.jsch.JSchException: HostKey has been changed: [sftp.example.com]:22',
  },
  {
    what: 'a SOAP receiver',
    text: "org.apache.cxf.transport.http.HTTPException: HTTP response '401: Unauthorized' when communicating with https://erp.example.com:44300/sap/bc/srt/rfc/sap/zorders",
  },
  {
    what: 'an ABAP sender calling the tenant (SM59 connection test)',
    text: 'SSL handshake with mytenant.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com:443 failed: SSSLERR_PEER_CERT_UNTRUSTED (-102)',
  },
];

/**
 * The probe options of one lab scenario: its flags parsed as `linkdoctor probe` parses them, with
 * the lab's trust store, its throwaway password and its environment (the SMTP stand-in ports).
 */
export async function scenarioOptions(lab: Lab, s: Lab['scenarios'][number]): Promise<ProbeOptions> {
  const cmd = withProbeFlags(new Command('probe')).exitOverride();
  cmd.parse([s.url, '--trust', lab.trustFile, '--timeout', '2', ...s.probeArgs], { from: 'user' });
  const env = { LAB_PASSWORD: lab.clientCert.password, ...s.env };
  const saved = Object.keys(env).map((k) => [k, process.env[k]] as const);
  Object.assign(process.env, env);
  try {
    return await probeOptions(s.url, cmd.opts<ProbeFlags>());
  } finally {
    for (const [k, v] of saved)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

/**
 * `tenant failures --since 24h` against the lab's fake tenant, in short: one line per diagnosis and
 * integration flow (scan's grouping, from scanJson). True when every lab wording was diagnosed as the
 * lab expects.
 */
async function tenantPart(kb: Kb, lab: Lab, c: Colors, out: (s?: string) => void): Promise<boolean> {
  out();
  out(
    c.bold(
      "And the fake tenant's failed messages of the last 24 hours (linkdoctor tenant failures, the lab's service key):",
    ),
  );
  const key = loadServiceKey(lab.tenant.keyFile);
  // The lab's root, as NODE_EXTRA_CA_CERTS gives it to the CLI.
  const client = new TenantClient(key, { timeoutMs: 30_000, ca: [await readFile(lab.trustFile, 'utf8')] });
  try {
    const r = await tenantFailures(kb, client, {
      since: Date.now() - 86_400_000,
      statuses: DEFAULT_STATUSES,
      maxMessages: 100_000,
    });
    const j = printableDeep(scanJson(r.scan, kb)) as {
      groups: { id: string; iflow?: string; count: number; cause?: { title: string } }[];
      unknown: { message: string; count: number }[];
    };
    out(
      c.dim(
        `   ${r.messages} failed messages of ${client.host}, ${r.texts} error texts (${r.distinct} distinct) in ${r.scan.seconds.toFixed(1)} s`,
      ),
    );
    for (const g of j.groups)
      out(
        `   ${c.red('✖')} ${String(g.count).padStart(4)}  ${c.bold(g.id)}${g.cause ? ` · ${g.cause.title}` : ''}${g.iflow ? c.dim(`  (integration flow ${g.iflow})`) : ''}`,
      );
    for (const u of j.unknown)
      out(
        `   ${c.yellow('?')} ${String(u.count).padStart(4)}  ${u.message.length > 80 ? `${u.message.slice(0, 79)}…` : u.message}`,
      );
    const found = new Set(j.groups.map((g) => g.id));
    const missed = TENANT_ERRORS.filter((e) => e.expect && !found.has(e.expect)).map((e) => e.expect);
    if (missed.length) out(`   ${c.yellow('!')} the lab expected also ${missed.join(', ')}`);
    return missed.length === 0;
  } finally {
    await client.close();
  }
}

/** Whether the probe's top diagnosis (and its cause, where the lab names one) is what the scenario expects. */
function asExpected(s: Pick<LabScenario, 'expect' | 'cause'>, r: ProbeResult): boolean {
  const top = r.diagnoses[0];
  return (s.expect || '') === (top?.id ?? '') && (!s.cause || top?.cause?.id === s.cause);
}

/**
 * One lab scenario's lines in the demo: its name and command, what it reproduces, the verdict (the
 * failed step, or the probe's own end sentence: "✔ All steps passed." or the steps that passed only
 * with a warning), the top diagnosis with its first fix, and a line when the lab expected another.
 */
export function scenarioLines(
  s: Pick<LabScenario, 'name' | 'url' | 'probeArgs' | 'reproduces' | 'expect' | 'cause'>,
  r: ProbeResult,
  c: Colors,
): string[] {
  const lines = [
    `${c.bold(s.name)}  ${c.dim(`${[s.url, ...s.probeArgs].join(' ')}`)}`,
    c.dim(wrap(s.reproduces, '   ')),
  ];
  const failed = r.steps.find((x) => x.ok === false);
  if (!failed) lines.push(...passedLines(r, c, '   '));
  else lines.push(`   ${c.red('✖')} ${failed.name}: ${failed.detail}`);
  const top = r.diagnoses[0];
  if (top)
    lines.push(
      `   ${c.green('→')} ${c.bold(top.id)} (${top.confidence.toFixed(2)}) ${top.cause ? `${c.bold(top.cause.title)} · ` : ''}${top.title}`,
      wrap(`fix: ${top.fixes[0]}`, '     '),
    );
  if (!asExpected(s, r))
    lines.push(
      `   ${c.yellow('!')} the lab expected ${s.expect || 'no problem'}${s.cause ? ` (${s.cause})` : ''}`,
    );
  return lines;
}

export async function demoCommand(): Promise<void> {
  const c = colorsFor(process.stdout);
  const kb = await loadKb();
  const out = (s = '') => process.stdout.write(`${fitText(s)}\n`);
  out(
    c.bold(
      'linkdoctor demo, offline: the lab reproduces known failures on 127.0.0.1, and the probe diagnoses each',
    ),
  );
  // Ctrl-C, kill or a closed terminal during the probes still removes the lab's folder (client keys).
  const release = stopOnSignals();
  const lab = await startLab();
  let right = 0;
  let tenantRight: boolean;
  try {
    out(c.dim(`(lab trust store: ${lab.trustFile})`));
    for (const s of lab.scenarios) {
      // The lab's servers are ours, but what a probe reports is printed as the peer's words.
      const r = printableDeep(await probe(kb, await scenarioOptions(lab, s)));
      if (asExpected(s, r)) right++;
      out();
      for (const line of scenarioLines(s, r, c)) out(line);
    }
    tenantRight = await tenantPart(kb, lab, c, out);
  } finally {
    await lab.stop();
    release();
  }
  out();
  out(c.bold('And from error texts, as users paste them (linkdoctor diagnose):'));
  for (const s of SAMPLES) {
    const top = diagnose(kb, { text: s.text }).diagnoses[0];
    out();
    out(`${c.bold(s.what)}`);
    out(c.dim(wrap(s.text, '   ')));
    out(
      top
        ? `   ${c.green('→')} ${c.bold(top.id)} (${top.confidence.toFixed(2)}) ${top.title}`
        : `   ${c.yellow('?')} no known issue matched`,
    );
  }
  out();
  out(
    `${right} of ${lab.scenarios.length} lab scenarios diagnosed as expected${tenantRight ? ', and every failure of the fake tenant' : ''}. Run \`linkdoctor lab\` to keep them up and probe them yourself.`,
  );
  process.exitCode = right === lab.scenarios.length && tenantRight ? 0 : 1;
}
