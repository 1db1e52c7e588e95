// linkdoctor scan against what a user would run instead: GNU grep (and ripgrep, when installed)
// with the list of error strings a user knows (../shared/bench/signatures.txt), on one generated
// log: mostly noise, about 1% incidents taken from the knowledge base's own examples, each failure
// recurring with other timestamps, threads, message ids and hosts. Prints, side by side, MB/s and
// peak RSS of grep, ripgrep and `linkdoctor scan --jsonl` doing the whole job (find, diagnose,
// group), the ratio linkdoctor/grep; scan as it runs by default (one thread), with one worker thread
// that finds the lines while the main thread classifies (LINKDOCTOR_SCAN_WORKERS=1) and with the
// knowledge base grown to 300 entries; whether each gives the same --jsonl output. Then the floors a
// reader needs to judge the target: GNU grep -F -i with the strong literals a scan looks for (those it
// must find not to lose a diagnosis), and Node's own V8 RegExp doing grep's job (signatures.txt,
// counting lines, over 1 MB latin1 blocks).
// Wall times: best of two runs (the first also warms the page cache and the knowledge-base and
// automaton caches); CPU seconds (user + system) beside them, which a loaded machine disturbs less;
// the load average before and after (2 cores shared: wall times under load say little).
//
//   LINKDOCTOR_BENCH_MB=1024 npm run bench     # a 1 GB log (default 200 MB); needs that much in $TMPDIR
//   LINKDOCTOR_BENCH_CALLGRIND=1 npm run bench # also instructions (valgrind) of scan --jsonl on 4 MB of it
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist', 'main.js');
const { loadKb, strongLiterals } = await import(join(root, 'dist', 'index.js'));

const MB = Number(process.env.LINKDOCTOR_BENCH_MB ?? 200);
const TARGET_ENTRIES = 300;
const signatures = join(root, '..', 'shared', 'bench', 'signatures.txt');
const tmp = mkdtempSync(join(tmpdir(), 'ld-scan-bench-'));
const kb = await loadKb();

// --- the log ---------------------------------------------------------------------------------

/** A deterministic random source (mulberry32), so that every run scans the same log. */
let seed = 42;
function rnd(n) {
  let t = (seed = (seed + 0x6d2b79f5) | 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
}
const pick = (xs) => xs[rnd(xs.length)];
const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[rnd(16)]).join('');

const LOGGERS = [
  'com.sap.it.rt.adapter.http.HttpProducer',
  'org.apache.camel.processor.SendProcessor',
  'com.sap.it.op.agent.mpl.MplFactory',
  'org.apache.cxf.phase.PhaseInterceptorChain',
  'com.sap.esb.monitoring.Scheduler',
  'com.sap.it.rt.scc.connectivity.Tunnel',
  'com.sap.it.commons.keystore.KeystoreService',
  'org.apache.camel.component.file.remote.SftpConsumer',
];
const NOISE = [
  () => `Message ${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)} processed successfully in ${rnd(900)} ms`,
  () => `Polling sftp://files${rnd(9)}.example.com/inbound for new files: ${rnd(5)} found`,
  () =>
    `HTTP request to https://api${rnd(40)}.example.com/odata/v2/Orders completed with status 200 in ${rnd(300)} ms`,
  () => `Route Orders_to_S4_${rnd(50)} started and consuming from: direct://start`,
  () => `Cache refreshed: ${rnd(1000)} entries, hit ratio 0.${rnd(100)}`,
  () => `Sending payload of ${rnd(65536)} bytes to receiver S4_${rnd(7)}`,
  () => `Token for client sb-${hex(6)}!b${rnd(999)} obtained; expires in 3600 seconds`,
  () => `Keystore reloaded: ${rnd(60)} entries, next check in ${rnd(60)} minutes`,
  () => `Correlation ${hex(24)} stored for integration flow Invoices_${rnd(30)}`,
  () => `JMS queue Q_${rnd(20)}: ${rnd(100)} messages, oldest ${rnd(600)} s`,
];
const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN'];
const UNKNOWN = [
  () => `Mapping step failed for message ${hex(8)}: field Amount is ${rnd(100)} characters long`,
  () => `Job ${rnd(9999)} could not acquire lock on partition ${rnd(16)}`,
];
const FRAMES = [
  '\tat org.apache.cxf.interceptor.MessageSenderInterceptor.handleMessage(MessageSenderInterceptor.java:64)',
  '\tat org.apache.cxf.phase.PhaseInterceptorChain.doIntercept(PhaseInterceptorChain.java:307)',
  '\tat org.apache.camel.processor.SendProcessor.process(SendProcessor.java:172)',
];
const examples = kb.entries.flatMap((e) => e.examples.match);
/** Each failure as it recurs: its logger and stack frames stay, time, thread, message id and host change. */
const failures = examples.map((text) => ({ text, logger: pick(LOGGERS), frames: rnd(2) === 1 }));
const HOSTS = ['s4prod', 's4qas', 'crm', 'edi-gw', 'sftp1'];
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const mplId = () => `AG${Array.from({ length: 26 }, () => B64[rnd(64)]).join('')}`;

let clock = Date.UTC(2024, 4, 1);
const stamp = () =>
  new Date((clock += rnd(40))).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');

function event() {
  const thread = `[http-nio-8080-exec-${rnd(40)}]`;
  if (rnd(100) !== 0) return `${stamp()} ${pick(LEVELS)} ${thread} ${pick(LOGGERS)} - ${pick(NOISE)()}\n`;
  if (rnd(5) === 0) return `${stamp()} ERROR ${thread} ${pick(LOGGERS)} - ${pick(UNKNOWN)()}\n`;
  const f = pick(failures);
  const [first, ...rest] = f.text.split('\n');
  const frames = f.frames ? FRAMES.join('\n') + '\n' : '';
  const where = `[MPL ID ${mplId()}, receiver ${pick(HOSTS)}.example.com]`;
  return `${stamp()} ERROR ${thread} ${f.logger} - ${where} ${first}\n${rest.map((l) => l + '\n').join('')}${frames}`;
}

const log = join(tmp, 'app.log');
const fd = openSync(log, 'w');
for (let written = 0; written < MB * 1024 * 1024;) {
  let block = '';
  while (block.length < 4 << 20) block += event();
  writeSync(fd, block);
  written += block.length;
}
closeSync(fd);
const bytes = statSync(log).size;

// --- a knowledge base of 300 entries ---------------------------------------------------------

const WORDS = [
  'ledger',
  'voucher',
  'harbor',
  'quartz',
  'falcon',
  'meadow',
  'cobalt',
  'saffron',
  'tundra',
  'willow',
];
const extra = join(tmp, 'kb-extra');
mkdirSync(extra);
for (let k = 0; k < TARGET_ENTRIES - kb.entries.length; k++) {
  const w = `${WORDS[k % WORDS.length]}${k}`;
  const entry = {
    id: `synthetic-${k}`,
    title: `Synthetic issue ${k}`,
    direction: pick(['inbound', 'outbound', 'any']),
    summary: 'A generated entry that only exists to grow the knowledge base.',
    symptoms: [
      { pattern: `com\\.vendor${k}\\.${w}\\.(?:Connect|Send|Auth)Exception`, weight: 0.9 },
      {
        pattern: `${w} (?:gateway|endpoint|service) (?:refused|rejected|dropped) the (?:call|request|session)`,
        weight: 0.9,
      },
      { pattern: `\\b${w.toUpperCase()}_ERR_\\d{3,5}\\b`, weight: 0.8 },
      {
        pattern: `(?:cannot|could not|unable to) (?:reach|open|bind) ${w}[-_ ]?(?:queue|topic|store)`,
        weight: 0.7,
      },
      { pattern: `${w}[ -]client: handshake with \\S+ failed after \\d+ ms`, weight: 0.6 },
      { pattern: `\\b${w}\\b`, weight: 0.2 },
      // Like the real knowledge base, where the HTTP status family is a minority of the entries.
      ...(k % 10 === 0 ? [{ status: [400 + (k % 30)], weight: 0.3 }] : []),
    ],
    causes: ['Generated.'],
    checks: [{ text: 'Generated.' }],
    fixes: ['Generated.'],
    references: [{ title: 'Generated', url: 'https://example.com/' }],
    examples: {
      match: [
        `com.vendor${k}.${w}.SendException`,
        `${w} gateway refused the call`,
        `${w.toUpperCase()}_ERR_1234`,
      ],
      noMatch: ['nothing', 'else'],
    },
  };
  writeFileSync(join(extra, `${entry.id}.yaml`), JSON.stringify(entry, null, 1));
}

// --- runs ------------------------------------------------------------------------------------

const rssProbe = join(tmp, 'rss.mjs');
writeFileSync(
  rssProbe,
  "process.on('exit', () => { const u = process.resourceUsage(); process.stderr.write(`\\nmaxrss=${u.maxRSS} cpu=${(u.userCPUTime + u.systemCPUTime) / 1e6}\\n`); });\n",
);
const env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache'), NO_COLOR: '1' };
// Scan as it runs by default, whatever the caller's environment says.
delete env.LINKDOCTOR_SCAN_WORKERS;
/** GNU time, for the peak RSS and CPU time of grep and ripgrep (absent: only their speed is shown). */
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const which = (cmd) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || null;
const rg = which('rg');

/** The --jsonl output of the first scan with the built-in knowledge base, to compare the others with. */
let reference;

function scanRun(args, extraEnv = {}, file = log) {
  const out = join(tmp, 'scan.jsonl');
  const t = performance.now();
  const r = spawnSync(
    process.execPath,
    ['--import', rssProbe, cli, 'scan', '--jsonl', '--no-progress', ...args, file],
    { env: { ...env, ...extraEnv }, stdio: ['ignore', openSync(out, 'w'), 'pipe'], encoding: 'utf8' },
  );
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 1) throw new Error(`scan exited with ${r.status}: ${r.stderr}`);
  const text = readFileSync(out, 'utf8');
  if (!args.length) reference ??= text;
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return {
    seconds,
    rss: Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]) * 1024,
    cpu: Number(/cpu=([\d.]+)/.exec(r.stderr)?.[1]),
    incidents: lines.length,
    diagnosed: lines.filter((l) => l.diagnosis).length,
    same: text === reference,
  };
}

/** A command that counts matching lines; its output goes to a file (to /dev/null GNU grep stops at the first match). */
function countRun(cmd, args) {
  const out = join(tmp, 'count.out');
  const argv = gnuTime ? [gnuTime, '-f', 'maxrss=%M cpu=%U+%S', cmd, ...args] : [cmd, ...args];
  const t = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), {
    env: { ...process.env, LC_ALL: 'C' },
    stdio: ['ignore', openSync(out, 'w'), 'pipe'],
    encoding: 'utf8',
  });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} failed: ${r.stderr}`);
  const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(r.stderr);
  return {
    seconds,
    rss: Number(/maxrss=(\d+)/.exec(r.stderr)?.[1] ?? 0) * 1024,
    cpu: cpu ? Number(cpu[1]) + Number(cpu[2]) : undefined,
    lines: Number(readFileSync(out, 'utf8')),
  };
}

/** The best of two runs: the first also warms the page cache and the knowledge-base cache. */
const best = (run) => [run(), run()].sort((a, b) => a.seconds - b.seconds)[0];

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();
const words = readFileSync(signatures, 'utf8').split('\n').filter(Boolean).length;
const grep = best(() => countRun('grep', ['-c', '-E', '-f', signatures, log]));
const ripgrep = rg ? best(() => countRun(rg, ['-c', '-f', signatures, log])) : null;
const small = best(() => scanRun([]));
const one = best(() => scanRun([], { LINKDOCTOR_SCAN_WORKERS: '1' }));
const large = best(() => scanRun(['--kb', extra]));
// The floors: what grep must look for not to lose an incident, and V8's RegExp on grep's own job.
const literalsFile = join(tmp, 'strong-literals.txt');
const literals = strongLiterals(kb);
writeFileSync(literalsFile, literals.join('\n') + '\n');
const fixed = best(() => countRun('grep', ['-c', '-F', '-i', '-f', literalsFile, log]));
const floorScript = join(tmp, 'v8-floor.mjs');
writeFileSync(
  floorScript,
  `// Counts the lines holding one of the signatures with one V8 RegExp over 1 MB latin1 blocks.
import { openSync, readSync, readFileSync } from 'node:fs';
const [file, list] = process.argv.slice(2);
const re = new RegExp(readFileSync(list, 'utf8').split('\\n').filter(Boolean).join('|'), 'g');
const fd = openSync(file, 'r');
const BLOCK = 1 << 20;
const buf = Buffer.alloc(BLOCK + (1 << 20));
let carry = 0;
let lines = 0;
for (;;) {
  const n = readSync(fd, buf, carry, BLOCK, null);
  const end = carry + n;
  if (end === 0) break;
  let cut = n === 0 ? end : buf.lastIndexOf(10, end - 1) + 1;
  if (cut <= 0) cut = end;
  const s = buf.latin1Slice(0, cut);
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    lines++;
    const nl = s.indexOf('\\n', m.index);
    if (nl < 0) break;
    re.lastIndex = nl + 1;
  }
  buf.copy(buf, 0, cut, end);
  carry = end - cut;
  if (n === 0) break;
}
process.stdout.write(lines + '\\n');
`,
);
const v8 = best(() => countRun(process.execPath, [floorScript, log, signatures]));

const mbs = (s) => bytes / 1024 / 1024 / s;
const row = (name, r, note = '') =>
  `${name.padEnd(38)} ${mbs(r.seconds).toFixed(0).padStart(6)} MB/s ${r.cpu ? mbs(r.cpu).toFixed(0).padStart(6) : '     –'} MB/s ${r.rss ? `${(r.rss / 1024 / 1024).toFixed(0).padStart(6)} MB` : '       –'}  ${note}`;
console.log(
  `log: ${(bytes / 1024 / 1024).toFixed(0)} MB, ${small.incidents.toLocaleString('en-US')} incidents ` +
    `(${small.diagnosed.toLocaleString('en-US')} diagnosed) found by scan`,
);
console.log(`${''.padEnd(38)} ${'wall'.padStart(11)} ${'CPU'.padStart(11)} ${'peak RSS'.padStart(9)}`);
console.log(
  row(
    `GNU grep -c -E -f signatures.txt`,
    grep,
    `${words} strings; ${grep.lines.toLocaleString('en-US')} lines`,
  ),
);
if (ripgrep)
  console.log(row(`ripgrep -c -f signatures.txt`, ripgrep, `${ripgrep.lines.toLocaleString('en-US')} lines`));
else console.log('ripgrep: not installed (apt-get install ripgrep), not compared');
const ratio = (r) =>
  `${(grep.seconds / r.seconds).toFixed(2)}× grep's speed (CPU ${(grep.cpu ? grep.cpu / r.cpu : NaN).toFixed(2)}×)`;
const sameAs = (r) => (r.same ? '; the same --jsonl output' : '; --jsonl output DIFFERS!');
console.log(row(`linkdoctor scan --jsonl, ${kb.entries.length} entries`, small, ratio(small)));
console.log(row(`  the same with one worker thread`, one, `${ratio(one)}${sameAs(one)}`));
console.log(
  row(
    `linkdoctor scan --jsonl, ${TARGET_ENTRIES} entries`,
    large,
    `${ratio(large)}; ${large.incidents === small.incidents ? 'the same' : 'NOT the same'} number of incidents`,
  ),
);
console.log('floors:');
console.log(
  row(
    `GNU grep -c -F -i, strong literals`,
    fixed,
    `${literals.length.toLocaleString('en-US')} strings; ${fixed.lines.toLocaleString('en-US')} lines`,
  ),
);
console.log(
  row(`node: V8 RegExp, signatures.txt`, v8, `1 MB latin1 blocks; ${v8.lines.toLocaleString('en-US')} lines`),
);
console.log(`load average (1, 5, 15 min): ${loadBefore} before, ${load()} after`);

if (process.env.LINKDOCTOR_BENCH_CALLGRIND && which('valgrind')) {
  // Instructions are what a loaded machine does not change: scan --jsonl of the log's first 4 MB.
  const part = join(tmp, 'app-4mb.log');
  const head = readFileSync(log).subarray(0, 4 << 20);
  writeFileSync(part, head.subarray(0, head.lastIndexOf(10) + 1));
  const r = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      process.execPath,
      cli,
      'scan',
      '--jsonl',
      '--no-progress',
      part,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  );
  const n = /Collected : (\d+)/.exec(r.stderr)?.[1];
  console.log(
    `scan --jsonl of 4 MB: ${n ? `${(Number(n) / 1e9).toFixed(2)} G instructions (callgrind)` : 'valgrind failed'}`,
  );
}
rmSync(tmp, { recursive: true, force: true });
