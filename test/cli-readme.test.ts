// The README's examples, run against the lab: every `$ linkdoctor ...` line of the Usage section is
// run in the lab's folder (where lab-root-ca.pem and known_hosts lie), with the README's lab ports
// (19100 + the server's place) mapped to the lab started here, and the output shown under it must
// appear in what the command prints, in order. What changes between runs is masked on both sides:
// times, dates, days left, fingerprints, keys, ports, the lab's folder and password. A line that
// ends in "…" is compared up to it; a line that is only "…" stands for lines left out.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { renderLab } from '../src/cli/lab.js';
import { colorsFor } from '../src/report/text.js';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startLab, type Lab } from '../src/lab/index.js';
import { CLI, ROOT, unwrap } from './helpers.js';

interface Example {
  command: string;
  expected: string[];
  line: number;
}

/** The `$ ` commands of the README's code blocks, each with the output lines shown under it. */
function examples(readme: string): Example[] {
  const out: Example[] = [];
  let inBlock = false;
  let current: Example | undefined;
  readme.split('\n').forEach((text, i) => {
    if (text.startsWith('```')) {
      inBlock = !inBlock;
      current = undefined;
      return;
    }
    if (!inBlock) return;
    if (text.startsWith('$ ')) {
      current = { command: text.slice(2), expected: [], line: i + 1 };
      out.push(current);
    } else if (current && text.trim()) current.expected.push(text);
  });
  return out;
}

let lab: Lab;
let bin = '';
let home = '';
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const STOREPW = 'readme-store-pw';

before(async () => {
  lab = await startLab();
  bin = mkdtempSync(join(tmpdir(), 'ld-readme-bin-'));
  home = mkdtempSync(join(tmpdir(), 'ld-readme-home-'));
  // The bare command, as `npm install -g .` or `npm link` makes it.
  writeFileSync(join(bin, 'linkdoctor'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(bin, 'linkdoctor'), 0o755);
  copyFileSync(join(ROOT, 'examples', 'app.log'), join(lab.dir, 'app.log'));
  // The inventories of the check examples, their README lab ports (191NN) mapped to this lab's.
  for (const f of ['inventory.yaml', 'bad.yaml'])
    writeFileSync(join(lab.dir, f), mapPorts(readFileSync(join(ROOT, 'examples', f), 'utf8')));
});
after(async () => {
  await lab.stop();
  for (const d of [bin, home]) rmSync(d, { recursive: true, force: true });
});

/** The README's lab port 191NN is the NN-th server of the lab started here. */
function mapPorts(command: string): string {
  const alt = lab.scenarios.find((s) => s.env?.LINKDOCTOR_SMTP_ALT_PORTS)?.env?.LINKDOCTOR_SMTP_ALT_PORTS;
  return command.replace(/\b191(\d\d)\b/g, (all, nn: string) => {
    const s = lab.scenarios[Number(nn)];
    if (!s) return all;
    return s.url.startsWith('smtp') && s.env && alt ? alt.split(',')[0]! : new URL(s.url).port;
  });
}

/** Runs one command line in the lab's folder through sh; `stopWhen`: kill it once stdout (unwrapped) matches. */
function run(command: string, stopWhen?: RegExp): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('sh', ['-c', command], {
      cwd: lab.dir,
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: home,
        NO_COLOR: '1',
        STOREPW,
        LAB_PASSWORD: lab.clientCert.password,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: the stop reaches the CLI under sh too.
      detached: true,
    });
    // A hang is ended with its whole process group (spawn's own timeout would stop only sh).
    const hang = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), 90_000);
    let out = '';
    const take = (d: Buffer) => {
      out += d;
      if (stopWhen?.test(unwrap(out))) process.kill(-p.pid!, 'SIGTERM');
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.once('error', reject);
    p.once('close', (status) => {
      clearTimeout(hang);
      resolve({ status, out });
    });
  });
}

/** What does not change between runs: the rest masked, blanks collapsed. */
function normalize(line: string): string {
  return line
    .replaceAll(lab.dir, 'LABDIR')
    .replaceAll(lab.clientCert.password, 'LABPW')
    .replace(/\/tmp\/linkdoctor-lab-\w+/g, 'LABDIR')
    .replace(/password [\w-]+,/g, 'password LABPW,')
    .replace(/\b\d+ ms\b/g, 'N ms')
    .replace(/\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d)?/g, 'DATE')
    .replace(/\(\d+ days left\)/g, '(N days left)')
    .replace(/\b\d+d\b/g, 'Nd')
    .replace(/SHA256:[A-Za-z0-9+/]{43}/g, 'SHA256:FP')
    .replace(/\b(?:[0-9A-F]{2}:){15,}[0-9A-F]{2}\b/g, 'HEX')
    .replace(/AAAA[\w+/=]{20,}/g, 'KEY')
    .replace(/\b(127\.0\.0\.1\]?):\d+/g, '$1:PORT')
    .replace(/LINKDOCTOR_SMTP_ALT_PORTS=\d+,\d+/g, 'LINKDOCTOR_SMTP_ALT_PORTS=PORTS')
    .replace(/\d+(\.\d+)? MB in \d+(\.\d+)? s \((?:< )?[\d.]+ MB\/s\)/g, 'SIZE in TIME')
    .replace(/(\(| in )\d+\.\d s\b/g, '$1N s')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The expected lines missing from the output (in order); a line ending in "…" is a prefix. */
function missing(expected: string[], actual: string): string[] {
  const lines = actual.split('\n').map(normalize);
  const gaps: string[] = [];
  let at = 0;
  for (const raw of expected) {
    const cut = raw.indexOf('…');
    const want = normalize(cut === -1 ? raw : raw.slice(0, cut));
    if (!want) continue;
    const found = lines.findIndex((l, i) => i >= at && (cut === -1 ? l === want : l.startsWith(want)));
    if (found === -1) gaps.push(raw);
    else at = found + 1;
  }
  return gaps;
}

/**
 * The commands whose examples are checked here (the tenant's against the lab's fake tenant). Other
 * commands' sections (a server) are checked by their own tests: their examples are listed as not run.
 */
const CHECKED = ['diagnose', 'probe', 'known-hosts', 'scan', 'trust', 'lab', 'demo', 'kb', 'tenant', 'check'];

/** Examples that are not run, each with its reason (printed). */
const NOT_RUN: [RegExp, string][] = [
  [/^linkdoctor diagnose --json/, 'the README shows the JSON condensed to its shape, not as printed'],
  [/^linkdoctor kb lint my-kb\//, "my-kb/ is the reader's own folder of entries"],
  [/^linkdoctor check .*--webhook/, 'it would send the changes to a Slack webhook'],
  [
    /^linkdoctor trust add-from-site localhost:19752/,
    'a TLS 1.2 server that wants a client certificate is no lab server: test/probe-tls12-alert.test.ts starts one (openssl s_server) and checks this output',
  ],
];

// First: the README examples below change the lab folder (known_hosts gets keys added).
test("every probe the lab prints runs as printed, in the lab's folder, and reports what the lab says", async () => {
  const text = renderLab(lab, colorsFor({ isTTY: false }));
  // A command goes on after a line ending in " \\"; the scenario's name and expectation precede it.
  const lines = text.replace(/ \\\n\s*/g, ' ').split('\n');
  const failures: string[] = [];
  for (const s of lab.scenarios) {
    const at = lines.findIndex((l) => l.trim().split(/\s+/)[0] === s.name);
    const command = lines[at + 1]?.trim() ?? '';
    assert.match(command, /linkdoctor probe /, `${s.name}: its command follows its name`);
    const { status, out } = await run(command);
    const ok = s.expect ? status === 1 && out.includes(`✖ ${s.expect} `) : status === 0;
    if (!ok)
      failures.push(
        `${s.name}: $ ${command}\n  exit ${status}, expected ${s.expect ?? 'no problem'}\n${out}`,
      );
  }
  assert.equal(failures.length, 0, failures.join('\n\n'));
});

test('every example of the README prints what the README shows (against the lab)', async (t) => {
  const all = examples(README);
  assert.ok(all.length >= 15, `the README has its examples (${all.length})`);
  const failures: string[] = [];
  for (const ex of all) {
    const verb = /(?:^|\| *)(?:\w+=\S+ )*linkdoctor (\S+)/.exec(ex.command)?.[1];
    if (!verb || !CHECKED.includes(verb)) {
      t.diagnostic(`not run: $ ${ex.command} (not a command this test checks: ${CHECKED.join(', ')})`);
      continue;
    }
    const skip = NOT_RUN.find(([re]) => re.test(ex.command));
    if (skip) {
      t.diagnostic(`not run: $ ${ex.command} (${skip[1]})`);
      continue;
    }
    let command = mapPorts(ex.command);
    let stopWhen: RegExp | undefined;
    // The lab runs until stopped: its own free ports, stopped once it printed everything.
    if (/^linkdoctor lab\b/.test(ex.command)) {
      command = 'linkdoctor lab';
      stopWhen = /--tenant --service-key tenant-service-key\.json\n/;
    }
    const { out } = await run(command, stopWhen);
    if (process.env.LD_README_DEBUG) console.error(`ran ${command}`);
    const gaps = missing(ex.expected, out);
    if (gaps.length)
      failures.push(
        `README line ${ex.line}: $ ${ex.command}\n  missing:\n    ${gaps.join('\n    ')}\n  printed:\n${out}`,
      );
  }
  assert.equal(failures.length, 0, failures.join('\n\n'));
});
