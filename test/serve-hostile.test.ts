// linkdoctor serve against hostile or careless clients, on real ports: a gzip bomb uploaded to
// /api/scan, an upload that stops sending, probes of a silent server by clients that hang up or come 40 at a time, header
// injection through /api/probe and `probe -H`, control bytes in what the server logs, and SIGHUP.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ServeOptions } from '../src/serve/app.js';
import { mountRooms } from '../src/serve/rooms.js';
import { loadKb, type Kb } from '../src/kb/load.js';
import { printableLine } from '../src/report/printable.js';
import { SIGHUP_LINE, SIGHUP_STARTING_LINE } from '../src/cli/serve.js';
import { CLI, freePort, rawServer, runCli, until } from './helpers.js';

let kb: Kb;
before(async () => {
  kb = await loadKb();
});

/** A server of the rooms `linkdoctor serve` mounts, listening on 127.0.0.1; resolves to its base URL. */
async function listening(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

async function server(opts: Partial<ServeOptions> = {}): Promise<FastifyInstance> {
  const app = await buildServer({ host: '127.0.0.1', kb, ...opts });
  await mountRooms(app);
  return app;
}

/**
 * A gzip bomb: `members` gzip members of 1 MB of newlines each, one after the other (a valid gzip
 * stream, as `cat a.gz b.gz` makes): about 1 KB each, so 1,000 of them are 1 MB that is 1 GB inflated.
 */
function bomb(members: number): Uint8Array<ArrayBuffer> {
  const one = gzipSync(Buffer.alloc(1024 * 1024, '\n'), { level: 9 });
  return new Uint8Array(Buffer.concat(Array.from({ length: members }, () => one)));
}

describe('POST /api/scan: a decompression bomb', () => {
  let app: FastifyInstance;
  let base: string;
  // A cap of 2 MB: the bomb's 1 MB passes it compressed, its 1 GB inflated does not.
  before(async () => (base = await listening((app = await server({ maxUploadBytes: 2 * 1024 * 1024 })))));
  after(() => app.close());

  test('a 1 MB gzip of 1 GB of newlines is cut off at the cap once inflated: 413 in one sentence, the server stays up', async () => {
    const body = bomb(1000);
    assert.ok(body.length < 2 * 1024 * 1024, `the bomb is ${body.length} bytes`);
    const started = performance.now();
    const r = await fetch(`${base}/api/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body,
      signal: AbortSignal.timeout(60_000),
    });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.status, 413);
    const p = (await r.json()) as { detail: string };
    assert.equal(
      p.detail,
      "the upload decompresses to more than 2 MB, this server's cap (--max-upload), and was not scanned further",
    );
    // Stopped at the cap, not after inflating the whole gigabyte.
    assert.ok(seconds < 20, `answered after ${seconds.toFixed(1)} s`);
    // Still up, and a small gzip upload is scanned as before.
    const ok = await fetch(`${base}/api/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: new Uint8Array(gzipSync('2026-01-01 10:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n')),
    });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { summary: { incidents: number } }).summary.incidents, 1);
  });

  test('streamed (NDJSON) and as a form file: the same sentence', async () => {
    const r = await fetch(`${base}/api/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', accept: 'application/x-ndjson' },
      body: bomb(100),
      signal: AbortSignal.timeout(60_000),
    });
    const lines = (await r.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { error?: string });
    assert.match(lines.at(-1)!.error ?? '', /decompresses to more than 2 MB, this server's cap/);

    const form = new FormData();
    form.append('file', new Blob([bomb(100)]), 'app.log.gz');
    const f = await fetch(`${base}/api/scan`, {
      method: 'POST',
      body: form,
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(f.status, 413);
    assert.match(((await f.json()) as { detail: string }).detail, /decompresses to more than 2 MB/);
  });
});

describe('POST /api/scan: a bomb is refused as soon as it shows, not once the scan got there (attack A5)', () => {
  let app: FastifyInstance;
  let base: string;
  const CAP = 8 * 1024 * 1024;
  before(async () => (base = await listening((app = await server({ maxUploadBytes: CAP })))));
  after(() => app.close());

  test('64 MB of incidents in a 64 KB gzip: the 413 comes before the scan read half the cap', async () => {
    const line = '2026-01-01 10:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n';
    const body = gzipSync(line.repeat((64 * 1024 * 1024) / line.length), { level: 9 });
    assert.ok(body.length < 1024 * 1024, `the bomb is ${body.length} bytes`);
    const r = await fetch(`${base}/api/scan?incidents=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', accept: 'application/x-ndjson' },
      body: new Uint8Array(body),
      signal: AbortSignal.timeout(120_000),
    });
    const lines = (await r.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { incident?: object; error?: string });
    assert.match(lines.at(-1)!.error ?? '', /decompresses to more than 8 MB, this server's cap/);
    // The old code scanned up to the cap (8 MB: 118,000 incidents streamed) before it saw the bound.
    const scanned = lines.filter((l) => l.incident).length * line.length;
    assert.ok(scanned < CAP / 2, `${scanned} bytes scanned before the 413`);
  });
});

describe('POST /api/scan: an upload that stops sending (attack A8)', () => {
  let app: FastifyInstance;
  let port: number;
  // The server's idle time made short for the test (UPLOAD_IDLE_MS, 30 s, otherwise).
  const IDLE = 1000;
  before(async () => {
    const base = await listening((app = await server({ uploadIdleMs: IDLE })));
    port = Number(new URL(base).port);
  });
  after(() => app.close());

  interface Outcome {
    status: number;
    body: string;
    /** The server closed the connection after its answer (within the test's bound). */
    closed: boolean;
    seconds: number;
  }
  /**
   * A request on a connection of its own that announces `length` bytes of body, sends `parts` one
   * every `gapMs`, then nothing more (or its end, with `end`); resolves to the answer, or rejects
   * after 10 s without one.
   */
  function upload(
    path: string,
    headers: Record<string, string>,
    parts: (string | Buffer)[],
    opts: { length?: number; gapMs?: number; end?: boolean } = {},
  ): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request({
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent: false,
        headers: {
          host: '127.0.0.1',
          ...headers,
          ...(opts.length !== undefined ? { 'content-length': String(opts.length) } : {}),
        },
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error('no answer after 10 s'));
      }, 10_000);
      req.on('error', () => {}); // the server closing a request it gave up on
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const seconds = (performance.now() - started) / 1000;
          const socket = res.socket;
          const done = (closed: boolean) => {
            clearTimeout(timer);
            req.destroy();
            resolve({ status: res.statusCode!, body, closed, seconds });
          };
          if (!socket || socket.destroyed) return done(true);
          const wait = setTimeout(() => done(false), 3000);
          socket.once('close', () => {
            clearTimeout(wait);
            done(true);
          });
        });
      });
      let i = 0;
      const send = () => {
        if (i < parts.length) {
          req.write(parts[i++]!);
          setTimeout(send, opts.gapMs ?? 0);
        } else if (opts.end) req.end();
      };
      send();
    });
  }
  const detail = `the upload stopped: nothing came for ${IDLE / 1000} s, so it was given up and not scanned`;

  test('Content-Length 100000, 3 bytes, then nothing: 408 in one sentence after the idle time, connection closed; a slow upload that keeps sending is read whole', async () => {
    const r = await upload('/api/scan?name=a.log', { 'content-type': 'application/octet-stream' }, ['abc'], {
      length: 100_000,
    });
    assert.equal(r.status, 408, r.body);
    assert.equal((JSON.parse(r.body) as { detail: string }).detail, detail);
    assert.ok(r.closed, 'the connection is closed');
    assert.ok(r.seconds >= IDLE / 1000, `answered after ${r.seconds.toFixed(1)} s`);
    // The bound is idle time, not a total: a slow upload that keeps sending is read to its end.
    const line = '2026-01-01 10:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n';
    const slow = await upload(
      '/api/scan?name=slow.log',
      { 'content-type': 'application/octet-stream' },
      Array.from({ length: 8 }, () => line),
      { gapMs: IDLE / 3, end: true },
    );
    assert.equal(slow.status, 200, slow.body);
    assert.ok(slow.seconds > (IDLE * 2) / 1000, `took ${slow.seconds.toFixed(1)} s`);
    assert.equal((JSON.parse(slow.body) as { summary: { incidents: number } }).summary.incidents, 8);
    // And the server still answers.
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/health`)).status, 200);
  });

  test('the same in the middle of a log, in a form, and streamed (NDJSON)', async () => {
    const log = Buffer.from(
      '2026-01-01 10:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n'.repeat(2000),
    );
    let r = await upload('/api/scan?name=a.log', { 'content-type': 'application/octet-stream' }, [log], {
      length: log.length * 2,
    });
    assert.equal(r.status, 408, r.body);
    assert.ok(r.closed);
    const boundary = 'b0undary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.log"\r\n\r\n`;
    r = await upload(
      '/api/scan',
      { 'content-type': `multipart/form-data; boundary=${boundary}` },
      [head + 'abc'],
      {
        length: 100_000,
      },
    );
    assert.equal(r.status, 408, r.body);
    assert.equal((JSON.parse(r.body) as { detail: string }).detail, detail);
    assert.ok(r.closed);
    // A form that stops between its files.
    const first = `${head}2026-01-01 10:00:00 ERROR com.jcraft.jsch.JSchException: Auth fail\n\r\n`;
    r = await upload('/api/scan', { 'content-type': `multipart/form-data; boundary=${boundary}` }, [first], {
      length: 100_000,
    });
    assert.equal(r.status, 408, r.body);
    r = await upload(
      '/api/scan?name=a.log',
      { 'content-type': 'application/octet-stream', accept: 'application/x-ndjson' },
      ['abc'],
      { length: 100_000 },
    );
    assert.equal(r.status, 200);
    const last = JSON.parse(r.body.trim().split('\n').at(-1)!) as { error?: string };
    assert.equal(last.error, detail);
    assert.ok(r.closed);
  });
});

describe('POST /api/probe: clients that hang up, and 40 at once', () => {
  let app: FastifyInstance;
  let base: string;
  const closers: (() => unknown)[] = [];
  /** The silent server's connections open now. */
  let open = 0;
  let silent: number;
  before(async () => {
    base = await listening((app = await server()));
    // Accepts, reads, and never says a word: each probe's TLS step waits its whole timeout. (It
    // reads, so that it sees the probe's end of the connection close.)
    silent = await rawServer((s) => {
      s.resume();
      open++;
      s.on('close', () => open--);
    }, closers);
  });
  after(async () => {
    for (const c of closers) c();
    await app.close();
  });

  const inFlight = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    return Number(/^linkdoctor_api_probes_in_flight (\d+)$/m.exec(text)?.[1] ?? NaN);
  };

  test('40 probes of a silent server: 32 run, the rest get 429 with Retry-After; hung-up clients stop theirs', async () => {
    const hangUp = new AbortController();
    const answers = Array.from({ length: 40 }, () =>
      fetch(`${base}/api/probe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: `https://127.0.0.1:${silent}/`, timeout: 60 }),
        signal: hangUp.signal,
      }).then(
        async (r) => ({ status: r.status, retry: r.headers.get('retry-after'), body: await r.text() }),
        () => ({ status: 0, retry: null, body: 'hung up' }),
      ),
    );
    // The 32 that run hold their connection to the silent server.
    assert.ok(await until(() => open === 32, 20_000), `${open} connections to the silent server`);
    assert.equal(await inFlight(), 32);
    // A 41st while they run: refused at once.
    const more = await fetch(`${base}/api/probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `https://127.0.0.1:${silent}/`, timeout: 60 }),
    });
    assert.equal(more.status, 429);
    assert.equal(more.headers.get('retry-after'), '5');
    assert.equal(
      ((await more.json()) as { detail: string }).detail,
      'this server is running 32 probes already, its most at once; try again in 5 s',
    );

    // Every client hangs up (60 s timeouts, 10 minutes of budget): the probes stop now.
    hangUp.abort();
    const got = await Promise.all(answers);
    assert.equal(got.filter((a) => a.status === 429).length, 8, JSON.stringify(got.map((a) => a.status)));
    assert.ok(got.filter((a) => a.status === 429).every((a) => a.retry === '5'));
    assert.ok(await until(async () => (await inFlight()) === 0, 5_000), `in flight: ${await inFlight()}`);
    assert.ok(await until(() => open === 0, 5_000), `${open} connections to the silent server left open`);

    // Slots free again: a probe runs (and fails fast on a closed port).
    const next = await fetch(`${base}/api/probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://127.0.0.1:1/', timeout: 2 }),
    });
    assert.equal(next.status, 200);
  });

  test('32 API probes running: a GET /probe scrape waits in line for a slot, an API request still gets 429 at once, and a freed slot goes to the scrape', async () => {
    const body = JSON.stringify({ url: `https://127.0.0.1:${silent}/`, timeout: 60 });
    const post = (signal?: AbortSignal) =>
      fetch(`${base}/api/probe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        ...(signal ? { signal } : {}),
      }).then(
        (r) => r.status,
        () => 0,
      );
    const waiting = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(/^linkdoctor_api_probes_waiting (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    const hangUps = Array.from({ length: 32 }, () => new AbortController());
    const running = hangUps.map((h) => post(h.signal));
    assert.ok(await until(() => open === 32, 20_000), `${open} connections to the silent server`);
    // A scrape (a 30 s scrape timeout: 29.5 s in line at most) waits; it probes nothing yet.
    const scraper = new AbortController();
    const scrape = fetch(`${base}/probe?target=${encodeURIComponent(`https://127.0.0.1:${silent}/`)}`, {
      headers: { 'x-prometheus-scrape-timeout-seconds': '30' },
      signal: scraper.signal,
    }).then(
      (r) => r.status,
      () => 0,
    );
    assert.ok(await until(async () => (await waiting()) === 1, 10_000), `waiting ${await waiting()}`);
    // The API does not wait, and does not jump the line.
    assert.equal(await post(), 429);
    // An API client hangs up: its slot goes to the scrape, which now probes the silent server.
    hangUps[0]!.abort();
    assert.ok(await until(async () => (await waiting()) === 0, 5_000), `waiting ${await waiting()}`);
    assert.ok(await until(() => open === 32, 5_000), `${open} connections to the silent server`);
    assert.equal(await inFlight(), 32);
    assert.equal(await post(), 429);
    scraper.abort();
    hangUps.forEach((h) => h.abort());
    assert.deepEqual([...new Set(await Promise.all([...running, scrape]))], [0]);
    assert.ok(await until(async () => (await inFlight()) === 0, 5_000), `in flight: ${await inFlight()}`);
    assert.ok(await until(() => open === 0, 5_000), `${open} connections to the silent server left open`);
  });

  test('a streamed probe (NDJSON) stops too when its client hangs up', async () => {
    const hangUp = new AbortController();
    const r = await fetch(`${base}/api/probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ url: `https://127.0.0.1:${silent}/`, timeout: 60 }),
      signal: hangUp.signal,
    });
    assert.equal(r.status, 200);
    assert.ok(await until(() => open === 1, 10_000), `${open} connections to the silent server`);
    assert.equal(await inFlight(), 1);
    hangUp.abort();
    assert.ok(await until(async () => (await inFlight()) === 0, 5_000), `in flight: ${await inFlight()}`);
    assert.ok(await until(() => open === 0, 5_000), `${open} connections left open`);
  });
});

describe('extra headers: injection and bad names refused, by probe -H and POST /api/probe alike', () => {
  const cases: [string, string][] = [
    [
      'X: a\r\nInjected: b',
      'the value of header X holds a line break: a header is one line, and what follows would go as a header of its own',
    ],
    ['X: a\nInjected: b', 'the value of header X holds a line break'],
    [
      'Bad Name: b',
      `the header name "Bad Name" holds a space: a name is letters, digits and !#$%&'*+-.^_\`|~ (Name: value)`,
    ],
    [
      'X-Colour: \x1b[31mred',
      'the value of header X-Colour holds the character U+001B, which no header value may hold',
    ],
    ['no colon', '"no colon" is not a header (Name: value)'],
  ];

  test('probe -H: exit 2 with one sentence naming the header, before any connection', () => {
    for (const [header, sentence] of cases) {
      const r = runCli(['probe', '--timeout', '1', '-H', header, 'http://127.0.0.1:1/']);
      assert.equal(r.status, 2, `${JSON.stringify(header)}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.startsWith(`linkdoctor: -H: ${sentence}`), r.stderr);
      assert.ok(!r.stderr.includes('\x1b'), 'ESC reached the terminal');
    }
    // A colon in the value is a value: sent as it is.
    assert.equal(runCli(['probe', '--timeout', '1', '-H', 'X: a:b', 'http://127.0.0.1:1/']).status, 1);
  });

  test('POST /api/probe: 400 naming body/header/N, the same sentence', async () => {
    const app = await server();
    try {
      for (const [header, sentence] of cases) {
        const r = await app.inject({
          method: 'POST',
          url: '/api/probe',
          headers: { host: '127.0.0.1', 'content-type': 'application/json' },
          payload: JSON.stringify({ url: 'http://127.0.0.1:1/', timeout: 1, header: ['X-Fine: 1', header] }),
        });
        assert.equal(r.statusCode, 400, `${JSON.stringify(header)}: ${r.body}`);
        const p = r.json<{ detail: string; 'invalid-params': { name: string }[] }>();
        assert.ok(p.detail.startsWith(`body/header/1: ${sentence}`), p.detail);
        assert.deepEqual(
          p['invalid-params'].map((i) => i.name),
          ['body/header/1'],
        );
      }
    } finally {
      await app.close();
    }
  });
});

describe("serve's own log lines", () => {
  test('printableLine: control characters and newlines shown, one line', () => {
    assert.equal(printableLine('a\nb\r\nc\x1b[2J\u009b\u202e\td'), 'a\\x0ab\\x0ac\\x1b[2J\\x9b\\u202e\td');
  });

  test('an internal error is one escaped line on stderr, whatever its message and path hold', async () => {
    const app = await server();
    // A room whose route fails with a stranger's text in its message (a server's reply, say).
    await app.register(async (room) => {
      room.get('/api/fails/*', async () => {
        throw new Error('the reply was\n2026-01-01 linkdoctor serve: forged line\x1b]0;owned\x07\u009b2J');
      });
    });
    const base = await listening(app);
    let logged = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      logged += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      const r = await fetch(`${base}/api/fails/%1b%5b31m`);
      assert.equal(r.status, 500);
    } finally {
      process.stderr.write = write;
      await app.close();
    }
    assert.equal(
      logged,
      'linkdoctor serve: internal error in GET /api/fails/%1b%5b31m: the reply was\\x0a2026-01-01 linkdoctor serve: forged line\\x1b]0;owned\\x07\\x9b2J\n',
    );
  });
});

describe('linkdoctor serve and SIGHUP', () => {
  /** serve with a watched inventory and its history database, started as a user would; its output and exit. */
  function startServe(port: number, dir: string) {
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `targets:\n  - { url: "https://127.0.0.1:1/", name: refused }\n`,
    );
    const args = [CLI, 'serve', '--port', String(port), '--inventory', join(dir, 'inventory.yaml')];
    args.push('--db', join(dir, 'history.db'), '--every', '1s');
    const p = spawn(process.execPath, args, {
      env: { ...process.env, LINKDOCTOR_TOKEN: '' },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    return { p, exited, out: () => out };
  }
  const wait = async (what: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !what() && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 100));
    return what();
  };
  const health = (port: number) =>
    fetch(`http://127.0.0.1:${port}/api/health`).then(
      (r) => r.status,
      () => 0,
    );

  test('kill -HUP: one line, still serving and checking; SIGTERM then closes the history cleanly, exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-serve-hup-'));
    const port = await freePort();
    const s = startServe(port, dir);
    try {
      assert.ok(await wait(() => s.out().includes('Ctrl-C'), 30_000), s.out());
      s.p.kill('SIGHUP');
      assert.ok(await wait(() => s.out().includes('SIGHUP'), 5_000), s.out());
      assert.ok(s.out().includes(`${SIGHUP_LINE}\n`), s.out());
      assert.equal(await health(port), 200, s.out());
      // The schedule goes on too: the history keeps growing after the SIGHUP.
      const count = () => {
        const db = new Database(join(dir, 'history.db'), { readonly: true });
        try {
          return (db.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      const before = count();
      assert.ok(await wait(() => count() > before, 10_000), 'no check recorded after SIGHUP');
    } finally {
      s.p.kill('SIGTERM');
    }
    assert.equal(await s.exited, 0, s.out());
    assert.match(s.out(), /linkdoctor serve: stopped/);
    assert.equal(existsSync(join(dir, 'history.db-wal')), false, 'the -wal file is left: not closed cleanly');
    rmSync(dir, { recursive: true, force: true });
  });

  test('kill -HUP while it starts (before it listens): one line, it goes on to serve; SIGTERM then exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ld-serve-hup-start-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `targets:\n  - { url: "https://127.0.0.1:1/", name: refused }\n`,
    );
    // --webhook's warning is written while the options are read, before the lab (seconds of RSA
    // keys) starts and long before the server listens: the moment to hang up.
    const args = [CLI, 'serve', '--port', String(port), '--lab', '--inventory', join(dir, 'inventory.yaml')];
    args.push('--db', join(dir, 'history.db'), '--webhook', 'http://127.0.0.1:1/hook');
    const p = spawn(process.execPath, args, { env: { ...process.env, LINKDOCTOR_TOKEN: '' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
    try {
      assert.ok(await wait(() => out.includes('warning: --webhook'), 30_000), out);
      assert.equal(await health(port), 0, 'not listening yet');
      p.kill('SIGHUP');
      assert.ok(await wait(() => out.includes('SIGHUP'), 5_000), out);
      assert.ok(out.includes(`${SIGHUP_STARTING_LINE}\n`), out);
      assert.ok(await wait(() => out.includes('Ctrl-C'), 60_000), `it did not go on to serve:\n${out}`);
      assert.equal(await health(port), 200, out);
    } finally {
      p.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /linkdoctor serve: stopped/);
    rmSync(dir, { recursive: true, force: true });
  });

  test('its terminal closes (a pseudo-terminal whose other end goes): still serving, then SIGTERM exits 0', async (t) => {
    const python = spawnSync('python3', ['-c', 'import pty']);
    if (python.status !== 0)
      return t.skip('python3 with its pty module is not installed (.ci/run installs python3)');
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ld-serve-pty-'));
    // serve on a terminal of its own (python's pty.fork: a new session, the pty its controlling
    // terminal); once it serves, the terminal's other end is closed, as when an ssh session ends:
    // the kernel sends SIGHUP, and writes to the terminal fail (EIO) from then on.
    const script = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b''
while b'Ctrl-C' not in seen:
    try:
        seen += os.read(fd, 4096)
    except OSError:
        break
os.close(fd)
print('CLOSED', pid, flush=True)
_, status = os.waitpid(pid, 0)
print('EXIT', os.waitstatus_to_exitcode(status), flush=True)
`;
    const args = [CLI, 'serve', '--port', String(port), '--db', join(dir, 'h.db')];
    writeFileSync(
      join(dir, 'inventory.yaml'),
      `targets:\n  - { url: "https://127.0.0.1:1/", name: refused }\n`,
    );
    args.push('--inventory', join(dir, 'inventory.yaml'));
    const p = spawn('python3', ['-c', script, process.execPath, ...args], {
      env: { ...process.env, LINKDOCTOR_TOKEN: '' },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => p.on('exit', () => resolve()));
    let pid = 0;
    try {
      assert.ok(await wait(() => /CLOSED (\d+)/.test(out), 30_000), out);
      pid = Number(/CLOSED (\d+)/.exec(out)![1]);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await health(port), 200, `not serving after its terminal closed: ${out}`);
    } finally {
      try {
        if (pid) process.kill(pid, 'SIGTERM');
        else p.kill();
      } catch {
        // Gone already: the assertions above and below say how it ended.
      }
    }
    await exited;
    assert.match(out, /EXIT 0/, out);
    assert.equal(existsSync(join(dir, 'h.db-wal')), false, 'the -wal file is left: not closed cleanly');
    rmSync(dir, { recursive: true, force: true });
  });
});

test("POST /api/probe: a user in the URL without passwordEnv is the API's sentence, not the CLI's", async () => {
  const app = await server();
  try {
    const r = await app.inject({
      method: 'POST',
      url: '/api/probe',
      headers: { host: '127.0.0.1', 'content-type': 'application/json' },
      payload: JSON.stringify({ url: 'sftp://batch@127.0.0.1:1/in', timeout: 1 }),
    });
    assert.equal(r.statusCode, 400);
    assert.equal(
      r.json<{ detail: string }>().detail,
      'the user batch in body/url needs body/passwordEnv (or body/identity for SSH)',
    );
  } finally {
    await app.close();
  }
});

test("POST /api/probe: an OAuth token URL without its client id or secret is the API's sentence, not the CLI's flags", async () => {
  const app = await server();
  try {
    const r = await app.inject({
      method: 'POST',
      url: '/api/probe',
      headers: { host: '127.0.0.1', 'content-type': 'application/json' },
      payload: JSON.stringify({
        url: 'https://127.0.0.1:1/',
        oauthTokenUrl: 'https://127.0.0.1:1/token',
        oauthClientId: 'c',
        timeout: 1,
      }),
    });
    assert.equal(r.statusCode, 400);
    const p = r.json<{ detail: string; errors?: { name: string }[] }>();
    assert.equal(
      p.detail,
      "body/oauthTokenUrl needs body/oauthSecretEnv (OAuth2 client credentials: the client id, and the name of the server's variable that holds the secret)",
    );
    assert.doesNotMatch(p.detail, /--oauth/);
  } finally {
    await app.close();
  }
});
