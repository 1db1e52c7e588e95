// `serve --service-key`: the tenant's room against the loopback tenant fixture (test/tenant-fixture.ts),
// with the server as a user starts it (the fixture's CA in NODE_EXTRA_CA_CERTS): the same objects as
// `tenant failures --json` and `tenant keystore --json`, and no secret of the key in any answer.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, CLI, freePort, launchChromium, runCliAsync, SCREENSHOTS } from './helpers.js';
import { FIXTURE_SECRET, startTenantFixture, type TenantFixture } from './tenant-fixture.js';

let f: TenantFixture;
let server: ChildProcess;
let base: string;

describe('serve --service-key', () => {
  before(async () => {
    // Every 7th error text answers 500: messages the API must name, as `tenant failures --json` does.
    f = await startTenantFixture({ messages: 300, faults: { lostErrorTextEvery: 7 } });
    const port = await freePort();
    const env = {
      ...process.env,
      NODE_EXTRA_CA_CERTS: f.caFile,
      HTTPS_PROXY: '',
      https_proxy: '',
      LINKDOCTOR_TOKEN: '',
    };
    server = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--service-key', f.keyFile], {
      env,
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serve did not start in 30 s: ${out}`)), 30_000);
      server.stdout!.on(
        'data',
        (d: Buffer) => ((out += d), out.includes('Ctrl-C') && (clearTimeout(t), resolve())),
      );
      server.stderr!.on('data', (d: Buffer) => (out += d));
    });
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    server?.kill('SIGTERM');
    await f?.close();
  });

  test('the tenant room is mounted', async () => {
    const h = (await (await fetch(`${base}/api/health`)).json()) as { rooms: string[] };
    assert.ok(h.rooms.includes('tenant'), h.rooms.join(' '));
  });

  test('GET /api/tenant/failures answers what `tenant failures --json` prints', async () => {
    const r = await fetch(`${base}/api/tenant/failures?since=4d`);
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.ok(!body.includes(FIXTURE_SECRET));
    const api = JSON.parse(body);
    const cli = await runCliAsync(
      ['tenant', 'failures', '--since', '4d', '--json', '--service-key', f.keyFile],
      {
        env: { NODE_EXTRA_CA_CERTS: f.caFile, HTTPS_PROXY: '', https_proxy: '' },
        timeout: 60_000,
      },
    );
    const mine = JSON.parse(cli.stdout);
    // The texts are read concurrently: the problems come in the order their answers came.
    const same = (o: { summary: { seconds: number }; problems: { file: string }[] }) => ({
      ...o,
      summary: { ...o.summary, seconds: 0 },
      problems: [...o.problems].sort((a, b) => a.file.localeCompare(b.file)),
    });
    assert.deepEqual(same(api), same(mine));
    // The messages whose error text could not be read are named, with why (attack U1).
    assert.ok(api.summary.problems > 0);
    assert.equal(api.problems.length, api.summary.problems);
    assert.match(api.problems[0].file, /^https:\/\/.+\/shell\/monitoring\/Messages\//);
    assert.match(api.problems[0].message, /^its error text could not be read: .*answered 500/);
    assert.ok(api.groups.length > 0);
    // What was read of the tenant, not a scan's files and bytes, which mean nothing here (attack A6).
    assert.equal(api.summary.files, undefined);
    assert.equal(api.summary.bytes, undefined);
    assert.ok(api.summary.messages >= api.summary.texts && api.summary.texts >= api.summary.distinct);
    assert.ok(api.summary.distinct > 0);
  });

  test('GET /api/tenant/keystore answers what `tenant keystore --json` prints', async () => {
    const r = await fetch(`${base}/api/tenant/keystore?days=30`);
    assert.equal(r.status, 200);
    const api = await r.json();
    const cli = await runCliAsync(['tenant', 'keystore', '--json', '--service-key', f.keyFile], {
      env: { NODE_EXTRA_CA_CERTS: f.caFile, HTTPS_PROXY: '', https_proxy: '' },
      timeout: 60_000,
    });
    assert.deepEqual(api, JSON.parse(cli.stdout));
  });

  test('GET /api/tenant/endpoints answers what `tenant endpoints --json` prints', async () => {
    const r = await fetch(`${base}/api/tenant/endpoints`);
    const body = await r.text();
    assert.equal(r.status, 200, body);
    assert.ok(!body.includes(FIXTURE_SECRET));
    const cli = await runCliAsync(['tenant', 'endpoints', '--json', '--service-key', f.keyFile], {
      env: { NODE_EXTRA_CA_CERTS: f.caFile, HTTPS_PROXY: '', https_proxy: '' },
      timeout: 60_000,
    });
    const api = JSON.parse(body);
    assert.deepEqual(api, JSON.parse(cli.stdout));
    assert.ok(api.artifacts.length > 0);
  });

  test(
    'the Tenant page in Chromium: failures and keystore',
    { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM} (apt-get install chromium; .ci/run does)` },
    async () => {
      const browser = await launchChromium();
      try {
        const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        const foreign: string[] = [];
        p.on('request', (r) => !r.url().startsWith(base) && foreign.push(r.url()));
        await p.goto(`${base}/tenant`);
        await p.locator('#keystore-table ui5-table-row').first().waitFor();
        await p.locator('#tenant-groups ui5-table-row').first().waitFor();
        assert.ok((await p.locator('#tenant-groups ui5-table-row').count()) > 0);
        // The failures whose error text could not be read: counted in the sentence, each named (attack U1).
        const day = (await (await fetch(`${base}/api/tenant/failures?since=24h`)).json()) as {
          summary: { problems: number };
          problems: { file: string }[];
        };
        assert.ok(day.summary.problems > 0);
        assert.match(
          await p.locator('#failures p').first().innerText(),
          new RegExp(`; ${day.summary.problems} error texts could not be read\\.`),
        );
        const unread = await p.locator('#tenant-unread ui5-table-row').allInnerTexts();
        assert.equal(unread.length, day.problems.length);
        assert.ok(
          unread.every((row) => /Messages\/.*could not be read: .*answered 500/s.test(row)),
          unread[0],
        );
        // The deployed flows, with an artifact in ERROR told as a message, not a blank pane.
        await p.locator('#deployed-table ui5-table-row').first().waitFor();
        const api = (await (await fetch(`${base}/api/tenant/endpoints`)).json()) as {
          artifacts: { id: string }[];
          errors: string[];
        };
        assert.equal(await p.locator('#deployed-table ui5-table-row').count(), api.artifacts.length);
        assert.equal(
          await p.locator('#deployed ui5-message-strip[design="Negative"]').count(),
          api.errors.length,
        );
        assert.deepEqual(foreign, []);
        mkdirSync(SCREENSHOTS, { recursive: true });
        await p.screenshot({ path: join(SCREENSHOTS, 'tenant.png') });
        // This server runs no lab: its /lab page says how to start one, as GET /api/lab does (attack A6).
        await p.goto(`${base}/lab`);
        const strip = p.locator('#page ui5-message-strip');
        await strip.waitFor();
        assert.equal(await strip.innerText(), 'this server runs no lab (serve --lab)');
        assert.equal(await p.locator('#page h1').innerText(), 'Lab');
        assert.equal(await p.title(), 'Lab · linkdoctor');
      } finally {
        await browser.close();
      }
    },
  );

  test('bad queries are problem bodies naming the field', async () => {
    let r = await fetch(`${base}/api/tenant/failures?since=yesterday`);
    assert.equal(r.status, 400);
    assert.equal(
      ((await r.json()) as { 'invalid-params': { name: string }[] })['invalid-params'][0]!.name,
      'querystring/since',
    );
    r = await fetch(`${base}/api/tenant/failures?status=LOST`);
    assert.equal(r.status, 400);
    r = await fetch(`${base}/api/tenant/keystore?days=x`);
    assert.equal(r.status, 400);
    // The CLI's sentences (--max, --days), not the validation library's (attack A6).
    assert.equal(
      ((await r.json()) as { detail: string }).detail,
      'querystring/days: days takes a number of days from 0 to 36500',
    );
    for (const max of ['0', '1.5', 'lots', '2000000']) {
      r = await fetch(`${base}/api/tenant/failures?max=${max}`);
      assert.equal(r.status, 400);
      assert.equal(
        ((await r.json()) as { detail: string }).detail,
        `querystring/max: max takes a number of messages from 1 to 1000000, not "${max}"`,
      );
    }
  });
});
