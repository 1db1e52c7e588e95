// `linkdoctor lab`: start the lab's servers, say what each reproduces, and keep them up until stopped.
import { startLab, stopOnSignals, type Lab } from '../lab/index.js';
import { jsonText, printableDeep } from '../report/printable.js';
import { colorsFor, type Colors } from '../report/text.js';

function labJson(lab: Lab): object {
  const { scenarios, trustFile, clientCert, basicAuth, dir } = lab;
  return { scenarios, trustFile, clientCert, basicAuth, dir };
}

function renderLab(started: Lab, c: Colors): string {
  // Paths come from TMPDIR: printable, like everything a report shows.
  const lab = printableDeep(
    labJson(started) as Pick<Lab, 'scenarios' | 'trustFile' | 'clientCert' | 'basicAuth'>,
  );
  const probeWith = (s: Lab['scenarios'][number]) =>
    [...Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${v}`), s.url, ...s.probeArgs].join(' ');
  const nameWidth = Math.max(...lab.scenarios.map((s) => s.name.length));
  const urlWidth = Math.max(...lab.scenarios.map((s) => probeWith(s).length));
  const pad = (s: string, n: number) => s.padEnd(n);
  const out = [
    c.bold(`linkdoctor lab: ${lab.scenarios.length} servers on 127.0.0.1 (Ctrl-C stops them)`),
    '',
    c.dim(`  ${pad('name', nameWidth)}  ${pad('probe', urlWidth)}  a probe should report`),
  ];
  for (const s of lab.scenarios) {
    const expect = s.expect ? c.yellow(s.expect) : c.green('(no problem)');
    out.push(`  ${c.bold(pad(s.name, nameWidth))}  ${pad(probeWith(s), urlWidth)}  ${expect}`);
    out.push(c.dim(`  ${' '.repeat(nameWidth)}  ${s.reproduces}`));
  }
  const { good, wrongCa, password } = lab.clientCert;
  const clientCert = lab.scenarios.find((s) => s.name === 'client-cert');
  out.push(
    '',
    `${c.bold('trust file')}    ${lab.trustFile}`,
    `${c.bold('try')}           linkdoctor probe URL --trust ${lab.trustFile}`,
    '',
    `${c.bold('client certificates')} (PKCS#12; password ${password}, a throwaway lab fixture)`,
    `  accepted      ${good}`,
    `  another CA    ${wrongCa}`,
  );
  if (clientCert)
    out.push(
      `  try           LAB_PASSWORD=${password} linkdoctor probe ${clientCert.url} --trust ${lab.trustFile} \\`,
      `                  --client-cert ${good} --client-cert-password-env LAB_PASSWORD`,
    );
  const basic = lab.scenarios.find((s) => s.name === 'basic-auth');
  if (basic)
    out.push(
      '',
      `${c.bold('basic auth')}    user ${lab.basicAuth.user}, the same password`,
      `  try           LAB_PASSWORD=${password} linkdoctor probe ${basic.url} --trust ${lab.trustFile} \\`,
      `                  -u ${lab.basicAuth.user} --password-env LAB_PASSWORD`,
    );
  out.push('');
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
