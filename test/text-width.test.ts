// Text output fits the terminal: at COLUMNS=80 and 100 no line of probe (steps, certificate rows,
// -v dialogues, the diagnosis), kb list/show/lint, diagnose, scan, trust, known-hosts or the lab's
// table runs past the width (long URLs, DNs and titles wrap or are cut with "…"), and counts are
// written with the right plural ("1 entry").
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { renderLab } from '../src/cli/lab.js';
import { type Lab, startLab } from '../src/lab/index.js';
import { colorsFor } from '../src/report/text.js';
import { fitText, visibleLength, wrapCommand } from '../src/report/width.js';
import { runCliAsync, tempDirs, unwrap, widgetEntry } from './helpers.js';

const tempDir = tempDirs();
let lab: Lab;
before(async () => {
  lab = await startLab();
});
after(() => lab?.stop());

const WIDTHS = [80, 100];
/** Every text this test saw, for the plural check at the end. */
const seen: string[] = [];

/** Asserts that no line of `text` is wider than `cols` columns. */
function fits(text: string, cols: number, what: string): void {
  seen.push(text);
  for (const line of text.split('\n'))
    assert.ok(
      visibleLength(line) <= cols,
      `${what} at ${cols} columns, ${visibleLength(line)} wide:\n${line}`,
    );
}

const scenario = (name: string) => lab.scenarios.find((s) => s.name === name)!;

async function cli(cols: number, args: string[], env: Record<string, string> = {}) {
  const r = await runCliAsync(args, {
    env: { COLUMNS: String(cols), LAB_PASSWORD: lab.clientCert.password, ...env },
    cwd: lab.dir,
  });
  assert.ok(r.stdout.length > 0, `${args.join(' ')}: no output; ${r.stderr}`);
  return r.stdout;
}

test('probe: step lines, certificate rows, -v dialogues and the diagnosis fit 80 and 100 columns', async () => {
  const runs: [string, string[]][] = [
    // No --trust: the tls step's sentence names the store and the whole chain (333 columns once).
    ['healthy', []],
    ['healthy', ['--trust', 'lab-root-ca.pem', '-v']],
    ['csrf', ['--trust', 'lab-root-ca.pem', '-v']],
    ['ssh-host-key-changed', ['-v']],
    ['smtp-port-25-blocked', ['-v']],
    ['ftp-login-refused', ['-v']],
    ['tenant-cert-expired', ['--trust', 'lab-root-ca.pem']],
  ];
  for (const cols of WIDTHS)
    for (const [name, extra] of runs) {
      const s = scenario(name);
      const out = await cli(cols, ['probe', s.url, ...s.probeArgs, '--timeout', '3', ...extra], s.env);
      fits(out, cols, `probe ${name} ${extra.join(' ')}`);
    }
});

test('kb list, kb show, kb lint, diagnose and scan fit 80 and 100 columns', async () => {
  const url = `https://my-very-long-tenant-name.it-cpi018-rt.cfapps.eu10-003.hana.ondemand.com/http/${'orders/'.repeat(12)}create`;
  const text = `Post "${url}": x509: certificate signed by unknown authority (subject CN=${'a'.repeat(90)}, O=Example Corporation with a very long name, L=Walldorf, C=DE)`;
  const log = join(tempDir('ld-width-'), 'app.log');
  writeFileSync(
    log,
    `2024-05-01 10:00:01,000 ERROR [exec-1] x - ${text}\n2024-05-01 10:00:02,000 ERROR [exec-2] x - ${text}\n`,
  );
  for (const cols of WIDTHS) {
    fits(await cli(cols, ['kb', 'list']), cols, 'kb list');
    fits(await cli(cols, ['kb', 'show', 'in-cert-validity']), cols, 'kb show');
    fits(await cli(cols, ['kb', 'lint']), cols, 'kb lint');
    fits(await cli(cols, ['diagnose', text]), cols, 'diagnose');
    fits(await cli(cols, ['scan', log]), cols, 'scan');
    fits(await cli(cols, ['trust', 'show', 'lab-root-ca.pem']), cols, 'trust show');
    fits(
      await cli(cols, [
        'known-hosts',
        'check',
        new URL(scenario('ssh-host-key-changed').url).host,
        '--known-hosts',
        'known_hosts',
      ]),
      cols,
      'known-hosts check',
    );
  }
});

test("the lab's table fits 80 and 100 columns; its commands go on with ' \\' and name their variables first", () => {
  const before = process.env.COLUMNS;
  try {
    for (const cols of WIDTHS) {
      process.env.COLUMNS = String(cols);
      const out = renderLab(lab, colorsFor({ isTTY: false }));
      fits(out, cols, 'lab');
      assert.match(out, /^ {4}LINKDOCTOR_SMTP_ALT_PORTS=\d+,\d+ linkdoctor probe /m);
      // A command cut over lines ends each but its last with " \" and goes on indented.
      assert.match(out, / \\\n {6}--/);
    }
  } finally {
    if (before === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = before;
  }
});

test('a wrapped sentence reads whole again through unwrap(); a command keeps an option with its value', () => {
  const step = `  ✖ tls    207 ms  ${'Your tenant would not trust this chain: add CN=Example Corp Private Root CA, O=Example Corp '.repeat(3).trim()}`;
  const prose = `  cause ${'The root CA of the receiver certificate chain is not in the tenant keystore. '.repeat(3).trim()}`;
  const text = [step, '      trust store: the keystore (4 certificates)', prose, '  Evidence'].join('\n');
  for (const cols of WIDTHS) {
    const wrapped = fitText(text, cols);
    assert.ok(wrapped.split('\n').length > 6, wrapped);
    assert.equal(unwrap(wrapped, cols), text, `at ${cols} columns`);
  }
  const command = `    LAB_PASSWORD=x linkdoctor probe https://127.0.0.1:19105/ --trust lab-root-ca.pem --client-cert client-good.p12 --client-cert-password-env LAB_PASSWORD`;
  const lines = wrapCommand(command, 80);
  assert.deepEqual(
    lines.slice(1).map((l) => l.trim().split(' ')[0]),
    ['--trust', '--client-cert-password-env'],
  );
  for (const l of lines) assert.doesNotMatch(l, /--[\w-]+ \\$/, 'an option parted from its value');
  assert.equal(unwrap(lines.join('\n')), command);
});

test('counts take the right plural: "1 entry", "1 example", "1 problem"', async () => {
  const dir = tempDir('ld-width-kb-');
  // One example that fails: "1 problem".
  writeFileSync(
    join(dir, 'widget-gw-refused.yaml'),
    widgetEntry('widget-gw-refused').replace("'error WIDGET-GW-0042 from gateway'", "'all fine'"),
  );
  const r = await runCliAsync(['kb', 'lint', dir]);
  assert.match(r.stdout, /^1 entry, 5 examples checked, 1 problem, \d+ warnings$/m, r.stdout);
  seen.push(r.stdout);
  const wrong =
    /(?<![\d.,])\b1 (entries|examples|problems|warnings|results|changes|certificates|incidents|groups|inputs|scenarios|servers|messages|texts|places|known issues)\b/;
  for (const text of seen) assert.doesNotMatch(text, wrong);
});
