// The offline demo: start the lab, probe every server the way the platform would call it, print
// each verdict and diagnosis, stop the lab; then diagnose a few error texts as users paste them.
import { diagnose } from '../diagnose/match.js';
import { loadKb } from '../kb/load.js';
import { Command } from 'commander';
import { type Lab, startLab, stopOnSignals } from '../lab/index.js';
import { probe, type ProbeOptions } from '../probe/run.js';
import { printableDeep } from '../report/printable.js';
import { colorsFor, wrap } from '../report/text.js';
import { probeOptions, type ProbeFlags } from './probe.js';
import { withProbeFlags } from './probe-flags.js';

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

export async function demoCommand(): Promise<void> {
  const c = colorsFor(process.stdout);
  const kb = await loadKb();
  const out = (s = '') => process.stdout.write(`${s}\n`);
  out(
    c.bold(
      'linkdoctor demo, offline: the lab reproduces known failures on 127.0.0.1, and the probe diagnoses each',
    ),
  );
  // Ctrl-C, kill or a closed terminal during the probes still removes the lab's folder (client keys).
  const release = stopOnSignals();
  const lab = await startLab();
  let right = 0;
  try {
    out(c.dim(`(lab trust store: ${lab.trustFile})`));
    for (const s of lab.scenarios) {
      // The lab's servers are ours, but what a probe reports is printed as the peer's words.
      const r = printableDeep(await probe(kb, await scenarioOptions(lab, s)));
      const failed = r.steps.find((x) => x.ok === false);
      const top = r.diagnoses[0];
      const as = (s.expect || '') === (top?.id ?? '') && (!s.cause || top?.cause?.id === s.cause);
      if (as) right++;
      out();
      out(`${c.bold(s.name)}  ${c.dim(`${[s.url, ...s.probeArgs].join(' ')}`)}`);
      out(c.dim(wrap(s.reproduces, '   ')));
      if (!failed) out(`   ${c.green('✔')} all steps passed`);
      else out(`   ${c.red('✖')} ${failed.name}: ${failed.detail}`);
      if (top) {
        out(
          `   ${c.green('→')} ${c.bold(top.id)} (${top.confidence.toFixed(2)}) ${top.cause ? `${c.bold(top.cause.title)} · ` : ''}${top.title}`,
        );
        out(wrap(`fix: ${top.fixes[0]}`, '     '));
      }
      if (!as)
        out(
          `   ${c.yellow('!')} the lab expected ${s.expect || 'no problem'}${s.cause ? ` (${s.cause})` : ''}`,
        );
    }
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
    `${right} of ${lab.scenarios.length} lab servers diagnosed as expected. Run \`linkdoctor lab\` to keep them up and probe them yourself.`,
  );
  process.exitCode = right === lab.scenarios.length ? 0 : 1;
}
