// linkdoctor scan against GNU grep on a generated log: mostly noise, about 1% incidents taken from
// the knowledge base's own examples. Prints, side by side: scan's MB/s and peak RSS doing the whole
// job (find, diagnose, group), grep's MB/s counting the lines that match the knowledge base's
// signature patterns (`grep -c -i -E -f`, as POSIX ERE), their ratio, and scan with the knowledge
// base grown to 300 entries.
//
//   LINKDOCTOR_BENCH_MB=1024 npm run bench     # a 1 GB log (default 200 MB); needs that much in $TMPDIR
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist', 'main.js');
const { loadKb } = await import(join(root, 'dist', 'index.js'));

const MB = Number(process.env.LINKDOCTOR_BENCH_MB ?? 200);
const TARGET_ENTRIES = 300;
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

let clock = Date.UTC(2024, 4, 1);
const stamp = () =>
  new Date((clock += rnd(40))).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');

function event() {
  const thread = `[http-nio-8080-exec-${rnd(40)}]`;
  if (rnd(100) !== 0) return `${stamp()} ${pick(LEVELS)} ${thread} ${pick(LOGGERS)} - ${pick(NOISE)()}\n`;
  if (rnd(5) === 0) return `${stamp()} ERROR ${thread} ${pick(LOGGERS)} - ${pick(UNKNOWN)()}\n`;
  const [first, ...rest] = pick(examples).split('\n');
  const frames = rnd(2) ? FRAMES.join('\n') + '\n' : '';
  return `${stamp()} ERROR ${thread} ${pick(LOGGERS)} - ${first}\n${rest.map((l) => l + '\n').join('')}${frames}`;
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

// --- the knowledge base's patterns as POSIX ERE ---------------------------------------------

/** A JavaScript pattern as GNU grep ERE, or null where ERE has no equivalent (lookaround, backreference). */
function toEre(src) {
  if (/\(\?<?[=!]|\\[1-9]|\\k</.test(src)) return null;
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const e = src[++i];
      const map = { d: '[0-9]', D: '[^0-9]', t: '\t', n: null, r: null };
      if (e in map) {
        if (map[e] === null) return null;
        out += map[e];
      } else if ('wWsSbB'.includes(e)) out += `\\${e}`;
      else if (/[A-Za-z0-9]/.test(e)) return null;
      else out += `\\${e}`;
    } else if (c === '[') {
      // A class: rebuilt with ERE's rules (no escapes inside; "]" first, "-" last).
      let j = i + 1;
      let neg = '';
      if (src[j] === '^') {
        neg = '^';
        j++;
      }
      const items = [];
      let dash = false;
      let close = false;
      for (; j < src.length; j++) {
        const d = src[j];
        if (d === ']') {
          close = true;
          break;
        }
        if (d === '\\') {
          const e = src[++j];
          const cls = { d: '0-9', w: '[:alnum:]_', s: '[:space:]', n: '\n', t: '\t' }[e];
          if (cls) items.push(cls);
          else if (/[DWSbB]/.test(e)) return null;
          else if (e === '-') dash = true;
          else if (e === ']') items.unshift(']');
          else items.push(e);
        } else if (d === '-' && (src[j + 1] === ']' || j === i + 1)) dash = true;
        else items.push(d);
      }
      if (!close) return null;
      out += `[${neg}${items.join('')}${dash ? '-' : ''}]`;
      i = j;
    } else if (c === '(' && src[i + 1] === '?') {
      if (src[i + 2] === ':') i += 2;
      else if (src[i + 2] === '<') i = src.indexOf('>', i);
      else return null;
      out += '(';
    } else if (c === '?' && /[*+?}]/.test(src[i - 1] ?? '') && src[i - 2] !== '\\')
      continue; // lazy: same language
    else out += c;
  }
  return out;
}

const patterns = kb.entries.flatMap((e) => e.symptoms.filter((s) => s.pattern).map((s) => s.pattern));
const ere = [];
for (const p of patterns) {
  const x = toEre(p);
  if (x === null) continue;
  const one = join(tmp, 'one.txt');
  writeFileSync(one, `${x}\n`);
  // Keep what grep accepts and what does not match an empty line (which would count every line).
  const r = spawnSync('grep', ['-c', '-i', '-E', '-f', one], {
    input: '\n',
    env: { ...process.env, LC_ALL: 'C' },
  });
  if (r.status === 1) ere.push(x);
}
const patternFile = join(tmp, 'patterns.txt');
writeFileSync(patternFile, ere.join('\n') + '\n');

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
  "process.on('exit', () => process.stderr.write(`\\nmaxrss=${process.resourceUsage().maxRSS}\\n`));\n",
);
const env = { ...process.env, XDG_CACHE_HOME: join(tmp, 'cache'), NO_COLOR: '1' };

function scanRun(args) {
  const out = join(tmp, 'scan.json');
  const t = performance.now();
  const r = spawnSync(
    process.execPath,
    ['--import', rssProbe, cli, 'scan', '--json', '--no-progress', ...args, log],
    {
      env,
      stdio: ['ignore', openSync(out, 'w'), 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 1) throw new Error(`scan exited with ${r.status}: ${r.stderr}`);
  const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]) * 1024;
  return { seconds, rss, summary: JSON.parse(readFileSync(out, 'utf8')).summary };
}

function grepRun() {
  const out = join(tmp, 'grep.out');
  const t = performance.now();
  const r = spawnSync('grep', ['-c', '-i', '-E', '-f', patternFile, log], {
    env: { ...process.env, LC_ALL: 'C' },
    stdio: ['ignore', openSync(out, 'w'), 'pipe'],
  });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0 && r.status !== 1) throw new Error(`grep failed: ${r.stderr}`);
  return { seconds, lines: Number(readFileSync(out, 'utf8')) };
}

/** The best of two runs: the first also warms the page cache and the knowledge-base cache. */
const best = (run) => [run(), run()].sort((a, b) => a.seconds - b.seconds)[0];

const grep = best(grepRun);
const small = best(() => scanRun([]));
const large = best(() => scanRun(['--kb', extra]));

const mbs = (s) => bytes / 1024 / 1024 / s;
const row = (name, mb, rss, note = '') =>
  `${name.padEnd(40)} ${mb.toFixed(0).padStart(6)} MB/s ${rss ? `${(rss / 1024 / 1024).toFixed(0).padStart(6)} MB` : '       –'}  ${note}`;
console.log(
  `log: ${(bytes / 1024 / 1024).toFixed(0)} MB, ${small.summary.incidents.toLocaleString('en-US')} incidents ` +
    `(${small.summary.diagnosed.toLocaleString('en-US')} diagnosed) found by scan`,
);
console.log(`${''.padEnd(40)} ${'speed'.padStart(11)} ${'peak RSS'.padStart(9)}`);
console.log(
  row(
    'GNU grep -c -i -E -f (LC_ALL=C)',
    mbs(grep.seconds),
    0,
    `${ere.length} of ${patterns.length} patterns as ERE; ${grep.lines.toLocaleString('en-US')} lines`,
  ),
);
console.log(
  row(
    `linkdoctor scan, ${kb.entries.length} entries`,
    mbs(small.seconds),
    small.rss,
    `${(grep.seconds / small.seconds).toFixed(2)}× grep`,
  ),
);
console.log(
  row(
    `linkdoctor scan, ${TARGET_ENTRIES} entries`,
    mbs(large.seconds),
    large.rss,
    `${(grep.seconds / large.seconds).toFixed(2)}× grep`,
  ),
);
rmSync(tmp, { recursive: true, force: true });
