// `linkdoctor lab`: start the lab's servers, say what each reproduces, and keep them up until stopped.
import { startLab, stopOnSignals, type Lab } from '../lab/index.js';
import { jsonText, printableDeep } from '../report/printable.js';
import { colorsFor, type Colors, wrap } from '../report/text.js';

function labJson(lab: Lab): object {
  const { scenarios, trustFile, knownHostsFile, clientCert, basicAuth, dir } = lab;
  const { url, tokenUrl, runtimeUrl, keyFile, certKeyFile, sender, viewer } = lab.tenant;
  const tenant = { url, tokenUrl, runtimeUrl, keyFile, certKeyFile, sender, viewer };
  return { scenarios, trustFile, knownHostsFile, clientCert, basicAuth, tenant, dir };
}

/** Options with their values as one word each ("--direction inbound"), so a line never parts them. */
const options = (args: string[]): string[] =>
  args.reduce<string[]>((out, a) => {
    const last = out[out.length - 1];
    if (last?.startsWith('-') && !last.includes(' ') && !a.startsWith('-'))
      out[out.length - 1] = `${last} ${a}`;
    else out.push(a);
    return out;
  }, []);

/** Words of a shell command on lines of at most 100 columns, continued with " \\" as people paste them. */
function shellLines(words: string[], indent: string, width = 100): string {
  const lines: string[] = [];
  let line = indent;
  for (const w of words) {
    const room = lines.length ? width : width - 2; // the " \\" of a line that goes on
    if (line.trim() && line.length + 1 + w.length > room) {
      lines.push(`${line} \\`);
      line = `${indent}  ${w}`;
    } else line = line.trim() ? `${line} ${w}` : `${indent}${w}`;
  }
  return [...lines, line].join('\n');
}

/**
 * The lab as a table that fits 100 columns: per server its name and what a probe should report, the
 * probe's arguments, and what it reproduces. Paths are the lab folder's file names: the commands are
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
  /** The scenario's probe as it runs when pasted: variables first, the lab's root as trust store but for SSH. */
  const probeWith = (s: Lab['scenarios'][number]) => {
    // Every scheme but SSH may talk TLS (https, STARTTLS, AUTH TLS): the lab's root is its trust anchor.
    const trust = /^(?:sftp|ssh):/.test(s.url) ? [] : ['--trust', local(lab.trustFile)];
    const words = [
      ...Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v}`),
      'linkdoctor probe',
      s.url,
      ...options([...trust, ...s.probeArgs.map(local)]),
    ];
    return shellLines(words, '    ');
  };
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
    out.push(probeWith(s));
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
      `  try           LAB_PASSWORD=${password} linkdoctor probe ${clientCert.url} \\`,
      `                  --trust ${local(lab.trustFile)} --client-cert ${local(good)} \\`,
      `                  --client-cert-password-env LAB_PASSWORD`,
    );
  const basic = lab.scenarios.find((s) => s.name === 'basic-auth');
  if (basic)
    out.push(
      '',
      `${c.bold('basic auth')}    user ${lab.basicAuth.user}, the same password`,
      `  try           LAB_PASSWORD=${password} linkdoctor probe ${basic.url} \\`,
      `                  --trust ${local(lab.trustFile)} -u ${lab.basicAuth.user} --password-env LAB_PASSWORD`,
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
    `  try           ${ca} linkdoctor tenant failures --since 24h --service-key ${local(t.keyFile)}`,
    `                ${ca} linkdoctor tenant keystore --service-key ${local(t.keyFile)}`,
    `                ${ca} linkdoctor tenant endpoints --service-key ${local(t.keyFile)}`,
    `                ${ca} linkdoctor probe ${t.runtimeUrl}/http/Orders --direction inbound \\`,
    `                  --tenant --service-key ${local(t.keyFile)}`,
    '',
  );
  return out.join('\n');
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
