// `linkdoctor lab`: start the lab's servers, say what each reproduces, and keep them up until stopped.
import { startLab, stopOnSignals, type Lab } from '../lab/index.js';
import { jsonText, printableDeep } from '../report/printable.js';
import { colorsFor, type Colors, wrap } from '../report/text.js';
import { fitText, textWidth, wrapCommand } from '../report/width.js';

function labJson(lab: Lab): object {
  const { scenarios, trustFile, knownHostsFile, clientCert, basicAuth, dir } = lab;
  const { url, tokenUrl, runtimeUrl, keyFile, certKeyFile, sender, viewer } = lab.tenant;
  const tenant = { url, tokenUrl, runtimeUrl, keyFile, certKeyFile, sender, viewer };
  return { scenarios, trustFile, knownHostsFile, clientCert, basicAuth, tenant, dir };
}

/**
 * The lab as a table that fits the text output's width (100 columns, or the terminal's): per server
 * its name and what a probe should report, the probe's command (cut at spaces with " \\" where it is
 * too long for a line: it stays runnable when copied), and what it reproduces. Paths are the lab folder's file names: the commands are
 * meant to run in that folder (it is printed first), each as printed (test/cli-readme.test.ts runs them).
 */
export function renderLab(started: Lab, c: Colors): string {
  // Paths come from TMPDIR: printable, like everything a report shows.
  const lab = printableDeep(
    labJson(started) as Pick<
      Lab,
      'scenarios' | 'trustFile' | 'knownHostsFile' | 'clientCert' | 'basicAuth' | 'dir'
    > & { tenant: Omit<Lab['tenant'], 'keyJson' | 'secret'> },
  );
  const local = (arg: string) => (arg.startsWith(`${lab.dir}/`) ? arg.slice(lab.dir.length + 1) : arg);
  // A scenario's variables go before the command, as a shell reads them.
  const probeCommand = (s: Lab['scenarios'][number]) =>
    [
      ...Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v}`),
      'linkdoctor probe',
      s.url,
      // Every scheme but SSH may talk TLS (https, STARTTLS, AUTH TLS): the lab's root is its trust anchor.
      ...(/^(?:sftp|ssh):/.test(s.url) ? [] : ['--trust', local(lab.trustFile)]),
      ...s.probeArgs.map(local),
    ].join(' ');
  const width = textWidth();
  /** A command under a label of 16 columns ("  try           "), its continuations under the command. */
  const labelled = (label: string, command: string) =>
    wrapCommand(`${' '.repeat(16)}${command}`, width).map((l, i) =>
      i ? l : `${label.padEnd(16)}${l.slice(16)}`,
    );
  const nameWidth = Math.max(...lab.scenarios.map((s) => s.name.length));
  const n = lab.scenarios.length;
  // The runtime host serves several scenarios; the fake tenant's API host serves none.
  const servers = new Set(lab.scenarios.map((s) => s.port)).size + 1;
  const out = [
    c.bold(`linkdoctor lab: ${n} scenarios on ${servers} servers on 127.0.0.1 (Ctrl-C stops them)`),
    '',
    `${c.bold('folder')}        ${lab.dir}   (run the probes below in it)`,
    `${c.bold('trust file')}    ${local(lab.trustFile)}   (the lab's root CA, given to the probes below with --trust)`,
    `${c.bold('known_hosts')}   ${local(lab.knownHostsFile)}`,
    '',
    c.dim(`  ${'name'.padEnd(nameWidth)}  a probe should report`),
  ];
  for (const s of lab.scenarios) {
    const expect = s.expect ? c.yellow(s.expect) : c.green('(no problem)');
    out.push(`  ${c.bold(s.name.padEnd(nameWidth))}  ${expect}`);
    out.push(...wrapCommand(`    ${probeCommand(s)}`, width));
    out.push(c.dim(wrap(s.reproduces, '    ')));
  }
  const { good, wrongCa, expired, password } = lab.clientCert;
  const clientCert = lab.scenarios.find((s) => s.name === 'client-cert');
  out.push(
    '',
    `${c.bold('client certificates')} (PKCS#12; password ${password}, a throwaway lab fixture)`,
    `  accepted      ${local(good)}`,
    `  another CA    ${local(wrongCa)}`,
    `  expired       ${local(expired)}`,
  );
  if (clientCert)
    out.push(
      ...labelled(
        '  try',
        `LAB_PASSWORD=${password} linkdoctor probe ${clientCert.url} --trust ${local(lab.trustFile)} --client-cert ${local(good)} --client-cert-password-env LAB_PASSWORD`,
      ),
    );
  const basic = lab.scenarios.find((s) => s.name === 'basic-auth');
  if (basic)
    out.push(
      '',
      `${c.bold('basic auth')}    user ${lab.basicAuth.user}, the same password`,
      ...labelled(
        '  try',
        `LAB_PASSWORD=${password} linkdoctor probe ${basic.url} --trust ${local(lab.trustFile)} -u ${lab.basicAuth.user} --password-env LAB_PASSWORD`,
      ),
    );
  const t = lab.tenant;
  const key = printableDeep(started.tenant.keyJson);
  const ca = `NODE_EXTRA_CA_CERTS=${local(lab.trustFile)}`;
  out.push(
    '',
    `${c.bold('fake tenant')}   API ${t.url} (token URL ${new URL(t.tokenUrl).pathname}), runtime host ${t.runtimeUrl}`,
    `  service key   ${local(t.keyFile)}   (a throwaway lab fixture; ${local(t.certKeyFile)}: the Certificate key type)`,
    `    ${key}`,
    `  runtime users ${t.sender} (role ESBMessaging.send) and ${t.viewer} (without it), the same password`,
    ...labelled('  try', `${ca} linkdoctor tenant failures --since 24h --service-key ${local(t.keyFile)}`),
    ...labelled('', `${ca} linkdoctor tenant keystore --service-key ${local(t.keyFile)}`),
    ...labelled('', `${ca} linkdoctor tenant endpoints --service-key ${local(t.keyFile)}`),
    ...labelled(
      '',
      `${ca} linkdoctor probe ${t.runtimeUrl}/http/Orders --direction inbound --tenant --service-key ${local(t.keyFile)}`,
    ),
    '',
  );
  // Prose wraps under its own indentation; a word too long for a line (the service key's JSON) is cut.
  // A labelled line ("trust file    ...") goes on under its text, any other under its indentation.
  const hang = (line: string) =>
    (/^ {0,2}[a-z_]+(?: [a-z]+)? {2,}|^ {2}runtime users /i.exec(line) ?? /^ */.exec(line)!)[0].length;
  return fitText(out.join('\n'), width, hang);
}

export async function labCommand(opts: { port?: number; json?: boolean }): Promise<void> {
  // Listening before the start, so that a signal during it still stops the lab and removes its
  // folder; the handler ends the process (128 + the signal's number) once the files are gone.
  stopOnSignals(() => process.stderr.write('linkdoctor lab: stopped, files removed\n'));
  const lab = await startLab({ port: opts.port });
  process.stdout.write(
    opts.json ? `${jsonText(labJson(lab), 2)}\n` : renderLab(lab, colorsFor(process.stdout)),
  );
  // The servers keep the process alive until a signal stops them.
}
