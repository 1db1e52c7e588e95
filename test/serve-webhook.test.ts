// Webhook URLs are secrets (Slack's and Teams' carry their token in the path): `serve --webhook-env
// VAR` reads the URL from the environment, so that it is not in the process list, and the URL's path
// appears nowhere: not in the output, not in a failed delivery's sentence (the host only), not in the
// history database. A real `linkdoctor serve` and a real loopback receiver that fails first.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, freePort, runCliAsync, tempDirs, waitListening } from './helpers.js';

const tmp = tempDirs();

describe('webhook URLs are secrets', () => {
  test('serve --webhook-env: a failed delivery names the host only, the retry succeeds; the URL is in no output, no argv, not in the history database', async () => {
    const secretPath = '/services/T0SECRET/B0SECRET/xoxSecretToken4242';
    let failFirst = 1;
    const deliveries: string[] = [];
    const bodies: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        deliveries.push(req.url ?? '');
        bodies.push(body);
        res.statusCode = failFirst-- > 0 ? 500 : 200;
        res.end();
      });
    });
    const rport = await freePort();
    await new Promise<void>((r) => receiver.listen(rport, '127.0.0.1', r));
    const dir = tmp('ld-webhook-');
    const inv = join(dir, 'inv.yaml');
    // A target that fails (nothing listens): its first check is a change.
    const closed = await freePort();
    writeFileSync(inv, `targets:\n  - { url: "http://127.0.0.1:${closed}/", name: down }\n`);
    const db = join(dir, 'history.db');
    const port = await freePort();
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: '1',
      LINKDOCTOR_TOKEN: '',
      LINKDOCTOR_TEST_WEBHOOK: `http://127.0.0.1:${rport}${secretPath}`,
    };
    const p = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        String(port),
        '--inventory',
        inv,
        '--db',
        db,
        '--every',
        '1h',
        '--probe-workers',
        '0',
        '--webhook-env',
        'slack=LINKDOCTOR_TEST_WEBHOOK',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    const exited = new Promise((r) => p.once('close', r));
    try {
      assert.ok(await waitListening(port), out);
      // The command line (what ps shows) holds the variable's name, not the URL.
      const cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes('xoxSecretToken4242') && cmdline.includes('LINKDOCTOR_TEST_WEBHOOK'));
      // The first delivery fails (500), the retry 2 s later succeeds.
      for (let i = 0; i < 150 && deliveries.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(deliveries.length, 2, out);
      assert.deepEqual(deliveries, [secretPath, secretPath], 'both went to the URL of the variable');
      assert.match(
        out,
        new RegExp(
          `linkdoctor: slack webhook 127\\.0\\.0\\.1:${rport}: HTTP 500 \\(attempt 1 of 8; again in 2 s\\)\\n`,
        ),
      );
      assert.match((JSON.parse(bodies[1]!) as { text: string }).text, /down: /);
    } finally {
      p.kill('SIGTERM');
      await exited;
      receiver.close();
    }
    for (const part of ['xoxSecretToken4242', 'T0SECRET', 'B0SECRET', '/services/']) {
      assert.ok(!out.includes(part), `output holds ${part}: ${out}`);
      for (const f of [db, `${db}-wal`, `${db}-shm`].filter(existsSync))
        assert.ok(!readFileSync(f).includes(part), `${f} holds ${part}`);
    }
    assert.ok(existsSync(db));
  });
});

describe('--webhook-env: bad input', () => {
  test('an unset variable or a value that is no URL: one sentence naming the variable, never its value; exit 2', async () => {
    const dir = tmp('ld-webhook-bad-');
    const inv = join(dir, 'inv.yaml');
    writeFileSync(inv, 'targets:\n  - { url: "http://127.0.0.1:1/", name: down }\n');
    const port = String(await freePort());
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['serve', '--port', port, '--inventory', inv, '--webhook-env', 'LINKDOCTOR_NOPE_WEBHOOK'],
        {},
        /^linkdoctor: --webhook-env LINKDOCTOR_NOPE_WEBHOOK: the environment variable LINKDOCTOR_NOPE_WEBHOOK is not set\n$/,
      ],
      [
        ['serve', '--port', port, '--inventory', inv, '--webhook-env', 'slack=LINKDOCTOR_BAD_WEBHOOK'],
        { LINKDOCTOR_BAD_WEBHOOK: 'hooks.example/services/secretpart' },
        /^linkdoctor: --webhook-env LINKDOCTOR_BAD_WEBHOOK \(the variable's value\) takes \[json\|slack\|teams=\]URL, and that is not a URL\n$/,
      ],
      [
        ['check', inv, '--webhook-env', 'LINKDOCTOR_BAD_WEBHOOK'],
        { LINKDOCTOR_BAD_WEBHOOK: 'ftp://hooks.example/secretpart' },
        /^linkdoctor: --webhook-env LINKDOCTOR_BAD_WEBHOOK \(the variable's value\) takes an http or https URL, not ftp:\n$/,
      ],
      [
        ['serve', '--port', port, '--webhook-env', 'LINKDOCTOR_BAD_WEBHOOK'],
        {},
        /^linkdoctor: --every, --db, --webhook and --webhook-env go with --inventory\n$/,
      ],
    ];
    for (const [args, env, re] of cases) {
      const r = await runCliAsync(args, { env, timeout: 20_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.ok(!r.stderr.includes('secretpart'));
    }
  });

  test('an unknown format name before "=": the format is named as wrong and the formats listed, not "not a URL" (attack P2)', async () => {
    const dir = tmp('ld-webhook-format-');
    const inv = join(dir, 'inv.yaml');
    writeFileSync(inv, 'targets:\n  - { url: "http://127.0.0.1:1/", name: down }\n');
    const port = String(await freePort());
    const formats = '\\(the formats are json, slack and teams\\)\\n$';
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['check', inv, '--db', join(dir, 'w.db'), '--webhook', 'bogus=https://x/SECRETD'],
        {},
        new RegExp(`^linkdoctor: --webhook: unknown webhook format 'bogus' ${formats}`),
      ],
      [
        [
          'serve',
          '--port',
          port,
          '--inventory',
          inv,
          '--webhook',
          'Slack=https://hooks.example/services/secretpart',
        ],
        {},
        new RegExp(`^linkdoctor: --webhook: unknown webhook format 'Slack' ${formats}`),
      ],
      [
        ['check', inv, '--webhook-env', 'bogus=LINKDOCTOR_OK_WEBHOOK'],
        { LINKDOCTOR_OK_WEBHOOK: 'https://hooks.example/services/secretpart' },
        new RegExp(`^linkdoctor: --webhook-env: unknown webhook format 'bogus' ${formats}`),
      ],
      [
        ['check', inv, '--webhook-env', 'LINKDOCTOR_OK_WEBHOOK'],
        { LINKDOCTOR_OK_WEBHOOK: 'msteams=https://hooks.example/services/secretpart' },
        new RegExp(
          `^linkdoctor: --webhook-env LINKDOCTOR_OK_WEBHOOK \\(the variable's value\\): unknown webhook format 'msteams' ${formats}`,
        ),
      ],
    ];
    for (const [args, env, re] of cases) {
      const r = await runCliAsync(args, { env, timeout: 20_000 });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      // One sentence about the format (a --webhook URL on the command line also gets its warning line).
      const lines = r.stderr.split('\n').filter((l) => !/^linkdoctor: warning/.test(l));
      assert.match(lines.join('\n'), re);
      assert.ok(!/SECRETD|secretpart/.test(r.stderr), r.stderr);
    }
  });
});
