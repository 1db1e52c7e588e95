// scan's cache of verdicts (src/scan/cache.ts) and its cheaper prefilter give the same incidents,
// diagnoses and groups as diagnosing every event: a log with every example of the knowledge base,
// each recurring with other times (milliseconds that look like statuses among them), threads, UUIDs,
// MPL ids and hosts, at three levels, with stack traces, unknown failures and noise between.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { extractSignals } from '../src/diagnose/signals.js';
import { loadKb } from '../src/kb/load.js';
import { incidentJson, scanJson } from '../src/report/scan.js';
import { eventKey, VerdictCache } from '../src/scan/cache.js';
import type { Incident, Problem } from '../src/scan/incident.js';
import {
  classify,
  keepsTime,
  LOG_MIN_CONFIDENCE,
  scan,
  type ScanOptions,
  strongLiterals,
} from '../src/scan/run.js';
import { buildPrefilter, eventChecksOf, inTimeFraction, linesMatcher } from '../src/scan/prefilter.js';
import { findLines, prepareEvent, textCandidates } from '../src/scan/text.js';

const kb = await loadKb();
const dir = mkdtempSync(join(tmpdir(), 'ld-scan-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic random source (mulberry32). */
let seed = 7;
function rnd(n: number): number {
  let t = (seed = (seed + 0x6d2b79f5) | 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
}
const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[rnd(16)]).join('');
const uuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const mplId = () => `AG${Array.from({ length: 26 }, () => B64[rnd(64)]).join('')}`;

function everyKindOfEvent(): string {
  const examples = kb.entries.flatMap((e) => [...e.examples.match, ...e.examples.noMatch]);
  const out: string[] = [];
  let ms = Date.UTC(2024, 4, 1);
  const stamp = () => {
    ms += 1 + rnd(700);
    return new Date(ms).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
  };
  for (let round = 0; round < 2; round++)
    examples.forEach((ex, i) => {
      const [first, ...rest] = ex.split('\n');
      const level = ['ERROR', 'WARN', 'INFO'][i % 3];
      const where = [`MPL ID ${mplId()}`, `message ${uuid()}`, `correlation ${hex(24)}`][i % 3];
      out.push(
        `${stamp()} ${level} [http-nio-8080-exec-${rnd(200)}] com.sap.it.rt.Worker - [${where}, host h${i % 2}.example.com] ${first}`,
        ...rest,
      );
      if (rnd(3) === 0)
        out.push(
          '\tat org.apache.camel.processor.SendProcessor.process(SendProcessor.java:172)',
          '\t... 12 more',
        );
      out.push(
        `${stamp()} INFO [pool-${rnd(9)}-thread-${rnd(50)}] com.sap.it.Poller - polled ${rnd(600)} files in ${rnd(999)} ms`,
      );
      if (rnd(4) === 0)
        out.push(
          `${stamp()} ERROR [exec-${rnd(9)}] com.sap.it.Job - Job ${rnd(99)} could not lock partition ${rnd(9)}`,
        );
    });
  // A log without timestamps: stack traces alone, the same one twice.
  out.push('java.net.ConnectException: Connection refused', '\tat java.net.Socket.connect(Socket.java:1)');
  out.push(
    'java.net.ConnectException: Connection refused',
    '\tat java.net.Socket.connect(Socket.java:1)',
    '',
  );
  return out.join('\n');
}

async function run(file: string, cache: boolean, more: Partial<ScanOptions> = {}) {
  const incidents: object[] = [];
  const problems: Problem[] = [];
  const r = await scan(kb, {
    files: [file],
    stdin: Readable.from([]),
    cache,
    onIncident: (inc: Incident) => void incidents.push(incidentJson(inc)),
    onProblem: (p) => problems.push(p),
    ...more,
  });
  const json = scanJson(r, kb) as { summary: { seconds?: number } };
  delete json.summary.seconds;
  return { incidents, json, verdicts: r.verdicts, problems, workers: r.workers };
}

/**
 * Every kind of event, and what makes a reader stumble: CRLF line ends, bytes that are not UTF-8,
 * a stretch of binary data, a long stack trace, lines whose strong literals mean nothing there
 * ("Tunnel" in a logger name, "payload", "connect"), and a time's milliseconds that look like a status.
 */
function hardLog(): Buffer {
  const parts: Buffer[] = [Buffer.from(everyKindOfEvent() + '\n')];
  const trace = Array.from(
    { length: 400 },
    (_, i) => `\tat com.sap.Step${i}.run(Step${i}.java:${i + 1})`,
  ).join('\n');
  for (let i = 0; i < 40; i++) {
    const t = `2024-05-02 10:${String(i % 60).padStart(2, '0')}:01,${['403', '503', '200'][i % 3]}`;
    parts.push(
      Buffer.from(
        `${t} INFO [exec-${i}] com.sap.it.rt.scc.connectivity.Tunnel - Sending payload of ${i} bytes; connect ok\r\n` +
          `${t} WARN [exec-${i}] com.sap.Http - Tunnel is closed for location ${i}\r\n` +
          `${t} ERROR [exec-${i}] com.sap.Http - javax.net.ssl.SSLHandshakeException: PKIX path building failed\n${trace}\n` +
          `${t} INFO [exec-${i}] com.sap.Http - the request was sent without payload\n` +
          `${t} INFO [exec-${i}] com.sap.Http - empty\n\tpayload\n`,
      ),
      // Not UTF-8: a latin1 "é" in a failure and in noise.
      Buffer.from(
        `${t} ERROR [exec-${i}] x - Connexion refus\xe9e: Connection refused\n${t} INFO [e] x - Tunnel caf\xe9 closed\n`,
        'latin1',
      ),
    );
    if (i % 13 === 0) parts.push(Buffer.from(`binary\0\x01\x02\x03\0\0 data ${i}\n`, 'latin1'));
    // Runs of blank lines (some across the small blocks' edges): no event starts in them.
    if (i % 7 === 0) parts.push(Buffer.from('\n'.repeat(20_000 * (i % 3)) + ' \t\r\n\n'));
    // Coloured lines, as `docker logs` of a Spring Boot app gives them (S14).
    parts.push(
      Buffer.from(colour(`${t} ERROR [exec-${i}] c.e.App - Job ${i % 4} failed: disk quota exceeded\n`)),
    );
  }
  return Buffer.concat(parts);
}

/**
 * A log's lines coloured as Spring Boot, `docker logs` or a CI log colour them: the time dim, the
 * level in its colour (ERROR bold red, 256 colours), the logger cyan, a line erased first (ESC [ K).
 */
function colour(log: string): string {
  const LEVEL: Record<string, string> = { ERROR: '1;38;5;196', WARN: '33', INFO: '32' };
  return log.replace(
    /^(\d{4}-\d\d-\d\d [\d:,.]+) (ERROR|WARN|INFO) (\[[^\]]*\]) (\S+)/gm,
    (_, time: string, level: string, thread: string, logger: string) =>
      `\x1b[K\x1b[2m${time}\x1b[0m \x1b[${LEVEL[level]}m${level}\x1b[0m ${thread} \x1b[36m${logger}\x1b[m`,
  );
}

test('worker threads over small blocks give what one thread without the cache gives', async () => {
  const file = join(dir, 'hard.log');
  writeFileSync(file, hardLog());
  const plain = await run(file, false);
  const before = process.env.LINKDOCTOR_SCAN_WORKERS;
  process.env.LINKDOCTOR_SCAN_WORKERS = '2';
  try {
    // 64 KB blocks: events (the 400-frame traces among them) are cut at many block edges.
    const fast = await run(file, true, { threads: true, blockBytes: 64 * 1024 });
    assert.ok(plain.incidents.length > 300, `${plain.incidents.length} incidents`);
    assert.ok(
      plain.problems.some((p) => /binary data/.test(p.message)),
      'binary data is reported',
    );
    assert.deepEqual(fast.incidents, plain.incidents);
    assert.deepEqual(fast.json, plain.json);
    assert.deepEqual(fast.problems, plain.problems);
    assert.ok(fast.verdicts!.hits > 0, JSON.stringify(fast.verdicts));
    assert.equal(fast.workers, 2, 'the lines were found by two worker threads');
  } finally {
    if (before === undefined) delete process.env.LINKDOCTOR_SCAN_WORKERS;
    else process.env.LINKDOCTOR_SCAN_WORKERS = before;
  }
  // One thread, the same small blocks.
  const inline = await run(file, true, { blockBytes: 64 * 1024 });
  assert.deepEqual(inline.incidents, plain.incidents);
  assert.deepEqual(inline.problems, plain.problems);
});

test("what a worker works out of an event ahead is what the scan's thread would, event for event", async () => {
  // Worker threads make a block's candidates and work out their key's text, headline and masked
  // headline (prepareEvent), from the prefilter's spec alone: here the same from the spec as a
  // worker gets it, held against the scan's own classification of every candidate of the hard log.
  const pf = buildPrefilter(kb, LOG_MIN_CONFIDENCE);
  const spec = structuredClone(pf.linesSpec);
  const checks = eventChecksOf(spec, linesMatcher(spec));
  const log = hardLog();
  const candidates = [];
  for await (const c of textCandidates(Readable.from([log]), 'hard.log', pf, () => {}, LOG_MIN_CONFIDENCE))
    candidates.push(c);
  assert.ok(candidates.length > 300, `${candidates.length} candidates`);
  let kept = 0;
  let bounds = 0;
  for (const c of candidates) {
    const prepared = prepareEvent(c, checks);
    assert.deepEqual(classify(prepared, pf), classify(c, pf), c.text);
    if (prepared.prepared!.judged.startsWith(c.text.slice(0, 10))) kept++;
    const bytes = c.bytes ?? Buffer.from(c.text);
    assert.equal(checks.bound(bytes), pf.bound(bytes));
    bounds++;
  }
  // Some events keep their time in their key (a symptom may read it), most do not.
  assert.ok(kept > 0 && kept < candidates.length, `${kept} of ${candidates.length} keep their time`);
  assert.equal(bounds, candidates.length);
});

test('a line whose strong literal means nothing there makes no candidate; one that may, does', () => {
  const pf = buildPrefilter(kb, LOG_MIN_CONFIDENCE);
  const lines = (text: string, precise = true) =>
    findLines(pf.lines, Buffer.from(text), Buffer.byteLength(text), true, precise).hits.length / 2;
  const t = '2024-05-01 10:00:00,017 INFO [t] com.sap.it.rt.scc.connectivity.Tunnel - ';
  assert.equal(lines(`${t}Sending payload of 5 bytes\n${t}done\n`), 0, 'Tunnel, payload');
  assert.equal(
    lines(`${t}Sending payload of 5 bytes\n${t}done\n`, false),
    2,
    'without precision: every strong literal',
  );
  assert.equal(lines(`${t}the tunnel is closed\n`), 1, 'a pattern that holds');
  // A coloured line is held as it reads without its colours (S14): not kept for its ESC bytes alone.
  assert.equal(lines(colour(`${t}Sending payload of 5 bytes\n`)), 0, 'coloured Tunnel, payload');
  assert.equal(lines(colour(`${t}the tunnel is closed\n`)), 1, 'coloured, a pattern that holds');
  // A pattern that may span lines, on a line that is not an event of its own: kept.
  assert.equal(lines(`${t}sent without\n\tpayload\n`), 1);
  // Blank lines after it up to the next event: still an event of its own (its text ends without them).
  assert.equal(lines(`${t}Sending payload of 5 bytes\n\n \r\n\n${t}done\n`), 0, 'blank lines after it');
  assert.equal(lines(`${t}Sending payload of 5 bytes\n\n`), 0, 'blank lines up to the end');
  assert.equal(lines(`${t}sent without\n\n\tpayload\n`), 1, 'a blank line, then more of the event');
  assert.equal(lines(`${t}Tunnel caf\xe9 closed\n`.replace('\\xe9', '\u00e9')), 1, 'not ASCII: kept');
  // A status literal means something only where the status reader reads that status.
  const ms = (n: number) => t.replace(',017', `,${n}`);
  assert.equal(
    lines(`${ms(403)}Cache refreshed: 12 entries\n${ms(503)}done\n`),
    0,
    "a time's ,403 is no status",
  );
  assert.equal(lines(`${ms(403)}Cache refreshed: 12 entries\n`, false), 1, 'without precision: a hit');
  assert.equal(lines(`${ms(17)}call ended with HTTP 403 Forbidden\n`), 1, 'a status the reader reads');
  // The milliseconds are no status in the whole event either (maskTimeFractions): the first line of a
  // longer event is not kept for them; a status on another of its lines keeps that line.
  assert.equal(lines(`${ms(403)}Cache refreshed: 12 entries\n\tand more\n`), 0, 'a longer event: ,403');
  assert.equal(
    lines(`${ms(403)}Cache refreshed: 12 entries\n\tgot HTTP 403\n`),
    1,
    'a longer event: HTTP 403',
  );
  assert.equal(lines(`${ms(403)}call ended with HTTP 403 Forbidden\n`), 1, 'a status after ,403');
  // Not milliseconds: a time's seconds, digits after nine of them, a time after a digit.
  assert.equal(lines(`${t}took 10:04:03 403 Forbidden\n`), 1, 'HH:MM:SS then a status');
  const at = (line: string, digits: string) => {
    const b = Buffer.from(line);
    const start = line.indexOf(digits);
    return inTimeFraction(b, 0, start, start + digits.length, b.length);
  };
  assert.equal(at('2024-05-01 10:00:01,403 INFO', '403'), true);
  assert.equal(at('10:00:01.401Z x', '401'), true);
  assert.equal(at('x 1:02:03,000000403 y', '403'), true, 'nine digits');
  assert.equal(at('x 1:02:03,0000000403 y', '403'), false, 'ten digits are no fraction');
  assert.equal(at('x 110:02:03,403 y', '403'), false, 'an hour of three digits');
  assert.equal(at('x 5:10:02:03,403 y', '403'), false, 'a time after a colon');
  assert.equal(at('x 10:02,403 y', '403'), false, 'no seconds');
  assert.equal(at('\x1b[2m10:00:01,403\x1b[0m', '403'), false, 'a colour before the hour: not told apart');
});

test('a cached scan finds the same incidents, diagnoses and groups as diagnosing every event', async () => {
  const file = join(dir, 'every-kind.log');
  writeFileSync(file, everyKindOfEvent());
  const plain = await run(file, false);
  const cached = await run(file, true);
  assert.equal(plain.verdicts, undefined);
  assert.ok(plain.incidents.length > 200, `${plain.incidents.length} incidents`);
  assert.deepEqual(cached.incidents, plain.incidents);
  assert.deepEqual(cached.json, plain.json);
  // The cache did serve: the same failures recur with other times, threads and ids.
  assert.ok(cached.verdicts!.hits > cached.verdicts!.misses / 5, JSON.stringify(cached.verdicts));
});

test("strong literals: every incident's event holds one, in some case (what grep -F -i must look for)", async () => {
  const literals = strongLiterals(kb);
  assert.ok(literals.length > 1000, `${literals.length} literals`);
  assert.ok(
    literals.every((l) => l !== '' && ![...l].some((c) => c.charCodeAt(0) < 0x09)),
    "plain text, without the automaton's marks",
  );
  assert.equal(new Set(literals).size, literals.length, 'each once');
  const file = join(dir, 'literals.log');
  writeFileSync(file, everyKindOfEvent());
  const incidents: Incident[] = [];
  await scan(kb, {
    files: [file],
    stdin: Readable.from([]),
    cache: false,
    onIncident: (i) => void incidents.push(i),
  });
  assert.ok(incidents.length > 200, `${incidents.length} incidents`);
  const lower = literals.map((l) => l.toLowerCase());
  for (const inc of incidents) {
    const text = inc.text.toLowerCase();
    assert.ok(
      lower.some((l) => text.includes(l)),
      inc.text.slice(0, 200),
    );
  }
});

test('a coloured log gives the incidents, times, diagnoses and groups of the same log without its colours (S14)', async () => {
  const log = everyKindOfEvent();
  const coloured = colour(log);
  assert.ok(coloured.split('\x1b[0m').length > 500, 'most lines are coloured');
  // What the colours change: the byte offsets and the file's name and size.
  const placeless = (x: object) =>
    JSON.parse(
      JSON.stringify(x, (k, v: unknown) =>
        ['offset', 'file', 'files', 'bytes'].includes(k) ? undefined : v,
      ),
    ) as object;
  writeFileSync(join(dir, 'plain.log'), log);
  writeFileSync(join(dir, 'coloured.log'), coloured);
  const plain = await run(join(dir, 'plain.log'), false);
  assert.ok(plain.incidents.length > 200, `${plain.incidents.length} incidents`);
  assert.ok(
    plain.incidents.every((i) => (i as { time?: string }).time),
    'every incident has its time',
  );
  for (const cache of [false, true]) {
    const seen = await run(join(dir, 'coloured.log'), cache);
    assert.deepEqual(placeless(seen.incidents), placeless(plain.incidents), `cache: ${cache}`);
    assert.deepEqual(placeless(seen.json), placeless(plain.json), `cache: ${cache}`);
  }
  assert.ok(
    !JSON.stringify((await run(join(dir, 'coloured.log'), true)).incidents).includes('\\u001b'),
    'no message keeps a control sequence',
  );
});

test('an id that the key leaves out is read by no pattern: a UUID with "401" in it is no 401', async () => {
  // Two entries of a folder of one's own: the second reads an unguarded "401" before its words, as
  // in-cert-validity's did. Four events alike but for their UUIDs, the first and third with "401"
  // in them: a cached scan gave all four the first one's verdict, a plain one told them apart.
  const kbDir = join(dir, 'own-kb');
  mkdirSync(kbDir);
  const entry = (id: string, pattern: string, weight: number) => `id: ${id}
title: Widget ${id}
direction: outbound
summary: The widget's certificate.
symptoms:
  - pattern: '${pattern}'
    weight: ${weight}
    means: the widget's words
causes: [The widget certificate expired.]
checks: [{ text: Look at the widget., probe: http }]
fixes: [Renew the widget certificate.]
references: [{ title: Widget manual, url: 'https://widgets.example.com/manual' }]
examples:
  match: ['401 widget certificate has expired', 'unauthorized: widget certificate has expired', '401 widget certificate has expired!']
  noMatch: ['all fine', 'no widget here']
`;
  writeFileSync(
    join(kbDir, 'widget-expired.yaml'),
    entry('widget-expired', 'widget certificate has expired', 0.6),
  );
  writeFileSync(
    join(kbDir, 'widget-refused.yaml'),
    entry('widget-refused', '(?:401|unauthorized)[^\\n]{0,200}widget certificate', 0.9),
  );
  const cacheHome = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
  const own = await loadKb({ dirs: [kbDir], builtin: false }).finally(() => {
    if (cacheHome === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = cacheHome;
  });
  const file = join(dir, 'ids.log');
  writeFileSync(
    file,
    [
      'e2695424-88f7-401c-d9b9-3579a3e38e54',
      '7e915cc6-38ac-9c7d-5b33-cff2d5bf8a43',
      '0a1b2c3d-4e5f-4401-8a9b-0c1d2e3f4a5b',
      'c93e8fda-2fae-42e4-ea75-4c97aa0b1c2d',
    ]
      .map(
        (id, i) =>
          `2024-05-01 10:00:0${i},123 WARN [exec-${i}] x - [message ${id}] widget certificate has expired\n`,
      )
      .join(''),
  );
  const ids = async (cache: boolean) => {
    const found: (string | undefined)[] = [];
    await scan(own, {
      files: [file],
      stdin: Readable.from([]),
      cache,
      onIncident: (inc: Incident) => void found.push(inc.diagnosis?.id),
    });
    return found;
  };
  const plain = await ids(false);
  assert.deepEqual(plain, ['widget-expired', 'widget-expired', 'widget-expired', 'widget-expired']);
  assert.deepEqual(await ids(true), plain);
});

test('event keys: times, threads, UUIDs, MPL ids and hex ids masked; statuses, ports, hosts and codes kept', () => {
  const a = eventKey(
    '2024-05-01 10:00:01,403 ERROR [http-nio-8080-exec-12] x - [MPL ID AGk_xKgivsDaGSUpuvz-eEFzhKZO] message 128acfda-dd95-7ea5-fa5d-2501abfe7b24 correlation 3fa2b1c4d5e6f708192a3b4c: HTTP 503 from s4.example.com:443',
    'level ERROR',
  );
  const b = eventKey(
    '2024-05-02 11:59:59,999 ERROR [http-nio-8080-exec-7] x - [MPL ID AGydnuKY5GTVZj7OoHyRmGukNMK1] message 00000000-1111-2222-3333-444444444444 correlation 0123456789abcdef01234567: HTTP 503 from s4.example.com:443',
    'level ERROR',
  );
  assert.equal(a, b);
  const base = '2024-05-01 10:00:01,403 ERROR [exec-1] x - HTTP 503 from s4.example.com:443';
  for (const other of [
    base.replace('503', '401'),
    base.replace(':443', ':8443'),
    base.replace('s4.example', 's5.example'),
    base.replace('HTTP 503', 'SSSLERR_PEER_CERT_UNTRUSTED'),
    base.replace('ERROR', 'INFO'),
  ])
    assert.notEqual(eventKey(other), eventKey(base), other);
  assert.notEqual(eventKey(base, 'level ERROR'), eventKey(base), 'why it is failing is part of the key');
  // A time that a symptom may read stays in the key: out-sftp reads ":22" as port 22.
  const pf = buildPrefilter(kb, LOG_MIN_CONFIDENCE);
  const at = (t: string) => {
    const text = `2024-05-01 10:00:${t},017 ERROR [exec-1] x - Auth fail`;
    return eventKey(text, 'level ERROR', (n) => pf.readsBefore(Buffer.from(text), n));
  };
  assert.notEqual(at('22'), at('23'));
  assert.equal(at('23'), at('24'));
  // A status code's literal in the milliseconds keeps the time only where the status reader reads it.
  const ms = (t: string, rest: string) => {
    const text = `2024-05-01 10:00:01,${t} ERROR [exec-1] x - ${rest}`;
    return eventKey(text, 'level ERROR', keepsTime(pf, Buffer.from(text)));
  };
  assert.equal(ms('403', 'Job 7 failed'), ms('017', 'Job 7 failed'));
  assert.equal(ms('503', 'Job 7 failed'), ms('404', 'Job 7 failed'));
  // Milliseconds are never a status (maskTimeFractions): ",503 Service Unavailable" is the reason alone.
  const sure = (t: string) => `2024-05-01 10:00:01,${t} Service Unavailable`;
  assert.equal(
    eventKey(sure('503'), undefined, keepsTime(pf, Buffer.from(sure('503')))),
    eventKey(sure('404'), undefined, keepsTime(pf, Buffer.from(sure('404')))),
  );
  // A short hex id standing alone is masked; a host's label, an OpenSSL or Windows code, a number are not.
  const unknown = (id: string) =>
    eventKey(
      `2024-05-01 10:00:01,403 ERROR [exec-1] x - Mapping failed for message ${id}: field too long`,
      'level ERROR',
    );
  assert.equal(unknown('6d3af7e9'), unknown('0b1c2d3e4f'));
  assert.equal(eventKey('x [B@6d3af739 y'), eventKey('x [B@1f2e3d4c y'));
  for (const [a, b] of [
    ['message 12345678:', 'message 12345679:'],
    ['connect to a1b2c3d4.example.com', 'connect to a1b2c3d5.example.com'],
    ['error:0A00010B:SSL routines', 'error:1408F10B:SSL routines'],
    ['failed with 0x80090325', 'failed with 0x8009030e'],
  ])
    assert.notEqual(eventKey(`x ${a} y`), eventKey(`x ${b} y`), a);
  // "sslv3_alert_handshake_failure" is a code, not an id.
  assert.notEqual(eventKey('x sslv3_alert_handshake_failure'), eventKey('x sslv3_alert_bad_certificate_xx'));
});

test("a time's milliseconds before the level are no HTTP status", () => {
  const statuses = (t: string) =>
    extractSignals(t)
      .filter((s) => s.type === 'http.status')
      .map((s) => s.value);
  assert.deepEqual(statuses('2024-05-01 10:00:01,403 ERROR [t] x - Job 7 failed'), []);
  assert.deepEqual(statuses('the receiver answered 403 error'), ['403']);
});

test('the cache of verdicts is bounded by the size of its keys, least recently used out first', () => {
  const c = new VerdictCache(1000);
  for (let i = 0; i < 500; i++) c.set(`key-${i}`.padEnd(100, '.'), null);
  assert.ok(c.size <= 10, `${c.size} keys`);
  assert.equal(c.get('key-499'.padEnd(100, '.')), null);
  assert.equal(c.get('key-0'.padEnd(100, '.')), undefined);
  c.set('x'.repeat(20_000), null);
  assert.equal(c.get('x'.repeat(20_000)), undefined, 'an over-long key is not kept');
  // Short keys: an entry costs more than its characters (the Map's slot, the verdict), and counts
  // so (S12: 56,000 entries of distinct one-line failures held ~35 MB of a 6 MB log's peak).
  const short = new VerdictCache(100_000);
  for (let i = 0; i < 10_000; i++) short.set(`level ERROR\u0000job ${i} failed`, null);
  assert.ok(short.size < 1000, `${short.size} keys of 24 characters in a bound of 100,000`);
  assert.equal(short.get('level ERROR\u0000job 9999 failed'), null, 'the last one is kept');
});
