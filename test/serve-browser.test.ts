// The web UI in a real browser: Debian's Chromium driven by playwright-core (no browser download;
// .ci/run installs the chromium package). Paste a text and read the diagnosis, open a deep link,
// probe a lab server and read the steps and the chain, upload a log and read the groups, search the
// knowledge base; no request to any other host, no console error. Screenshots of each page go to
// a temporary folder, or docs/screenshots/ (the README shows them) with LINKDOCTOR_SCREENSHOTS.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildServer } from '../src/serve/app.js';
import { labRoutes } from '../src/serve/lab.js';
import { mountRooms } from '../src/serve/rooms.js';
import { UI_DIR } from '../src/serve/ui.js';
import { startLab, type Lab } from '../src/lab/index.js';
import { CHROMIUM, launchChromium, SCREENSHOTS as SHOTS } from './helpers.js';
const skip = !existsSync(CHROMIUM)
  ? 'Debian chromium is not installed (apt-get install chromium; .ci/run does)'
  : !existsSync(join(UI_DIR, 'index.html'))
    ? 'the UI is not built (npm run build)'
    : false;
if (skip) console.log(`# skipping the browser tests: ${skip}`);

let app: FastifyInstance;
let lab: Lab;
let base: string;
let browser: Browser;
const foreign: string[] = [];
const errors: string[] = [];

async function page(width = 1280, height = 800): Promise<Page> {
  const p = await browser.newPage({ viewport: { width, height } });
  p.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
  p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  p.on('response', (r) => r.status() === 404 && errors.push(`404 ${r.url()}`));
  p.on('pageerror', (e) => errors.push(e.message));
  return p;
}

const shot = async (p: Page, name: string) => {
  mkdirSync(SHOTS, { recursive: true });
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
};

describe('web UI in Chromium', { skip }, () => {
  before(async () => {
    lab = await startLab();
    // A store's password opens only the files it is bound to (attack S2): the lab's client keystore.
    app = await buildServer({
      host: '127.0.0.1',
      secretTargets: [`LINKDOCTOR_TEST_KEYSTORE_PASSWORD=${lab.clientCert.good}`],
    });
    await mountRooms(app);
    await mountRooms(app, [{ name: 'lab', plugin: labRoutes(lab) }]);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await lab?.stop();
  });

  test('Diagnose: paste a text, see the verdict, the cause, the evidence marked in the text', async () => {
    const p = await page();
    await p.goto(`${base}/`);
    await p.locator('#text textarea').fill('com.jcraft.jsch.JSchException: Auth fail');
    await p.locator('#run').click();
    const best = p.locator('section.diagnosis').first();
    await best.waitFor();
    assert.equal(await best.getAttribute('data-id'), 'out-sftp');
    assert.match(await best.innerText(), /Cause: Login refused/);
    assert.deepEqual(await p.locator('pre.marked mark').allInnerTexts(), ['com.jcraft.jsch', 'Auth fail']);
    assert.match(p.url(), /\/diagnose\?text=com\.jcraft/);
    // The font is the one served here.
    assert.equal(await p.evaluate(() => document.fonts.check('16px "72"')), true);
    await shot(p, 'diagnose');
    await p.close();
  });

  test('Diagnose: the link to a diagnosis carries no secret of the text, and the marks sit on the evidence (attack14 C6)', async () => {
    const p = await page();
    await p.goto(`${base}/diagnose`);
    const text =
      'HTTP operation failed invoking https://u:supersecretpassword@api.example.com/v1/orders?access_token=abcdefabcdefabcdef with statusCode: 401';
    await p.locator('#text textarea').fill(text);
    await p.locator('#run').click();
    await p.locator('section.diagnosis').first().waitFor();
    // Before: the address bar (history, the link pasted into a ticket) held the password and the token.
    const url = decodeURIComponent(p.url());
    assert.doesNotMatch(url, /supersecretpassword|abcdefabcdef/);
    assert.match(url, /access_token=<redacted>/);
    // Before: the marks were cut from the raw text at the redacted text's offsets, the token shown.
    const marks = await p.locator('pre.marked mark').allInnerTexts();
    assert.ok(marks.length > 0);
    assert.ok(
      marks.every((m) => !/supersecret|abcdefabcdef/.test(m)),
      marks.join(' | '),
    );
    assert.ok(
      marks.some((m) => m.endsWith('with statusCode: 401')),
      marks.join(' | '),
    );
    await p.close();
  });

  test('a deep link /diagnose?text=... opens the same diagnosis', async () => {
    const p = await page();
    const text = 'javax.net.ssl.SSLHandshakeException: PKIX path building failed';
    await p.goto(`${base}/diagnose?text=${encodeURIComponent(text)}`);
    await p.locator('section.diagnosis').first().waitFor();
    assert.equal(await p.locator('section.diagnosis').first().getAttribute('data-id'), 'out-cert-path');
    await p.close();
  });

  test('Probe: a lab server with a missing intermediate; steps as they run, the chain with its gap', async () => {
    const p = await page();
    await p.goto(`${base}/connectivity`);
    const url = lab.scenarios.find((s) => s.name === 'missing-intermediate')!.url;
    await p.locator('#https-host input').fill(url);
    await p.locator('#https-trust input').fill(lab.trustFile);
    await p.locator('ui5-button.run').first().click();
    await p.locator('.chain').waitFor();
    const steps = await p
      .locator('.steps li')
      .evaluateAll((els) => els.map((e) => [(e as HTMLElement).dataset.step, (e as HTMLElement).dataset.ok]));
    assert.deepEqual(steps.slice(0, 3), [
      ['dns', 'true'],
      ['tcp', 'true'],
      ['tls', 'false'],
    ]);
    assert.equal(await p.locator('.cert.missing').count(), 1);
    assert.equal(
      await p.locator('section.diagnosis').first().getAttribute('data-id'),
      lab.scenarios.find((s) => s.name === 'missing-intermediate')!.expect,
    );
    await shot(p, 'probe');
    await p.close();
  });

  test('Probe: a client certificate from a keystore on the server and the name of its password variable', async () => {
    const scenario = lab.scenarios.find((s) => s.name === 'client-cert')!;
    process.env.LINKDOCTOR_TEST_KEYSTORE_PASSWORD = lab.clientCert.password;
    const bodies: string[] = [];
    const p = await page();
    p.on('request', (r) => r.postData() && bodies.push(r.postData()!));
    try {
      await p.goto(`${base}/connectivity`);
      // Like the Connectivity Test: host and port apart, the authentication chosen from a list.
      const u = new URL(scenario.url);
      await p.locator('#https-host input').fill(u.hostname);
      await p.locator('#https-port input').fill(u.port);
      await p.locator('#https-trust input').fill(lab.trustFile);
      assert.equal(await p.locator('#https-clientCert').isVisible(), false);
      await p.locator('#https-auth').click();
      await p.locator('#https-auth ui5-option[value="cert"]').click();
      await p.locator('#https-clientCert').waitFor();
      assert.equal(await p.locator('#https-user').isVisible(), false);
      await p.locator('#https-clientCert input').fill(lab.clientCert.good);
      // The password variable is offered by name: the server says which LINKDOCTOR_* names it has.
      await p.locator('#https-clientCertPasswordEnv input').fill('LINKDOCTOR_TEST_KEY');
      await p
        .locator('#https-clientCertPasswordEnv ui5-suggestion-item[text="LINKDOCTOR_TEST_KEYSTORE_PASSWORD"]')
        .waitFor({ state: 'attached' });
      await p.locator('#https-clientCertPasswordEnv input').fill('LINKDOCTOR_TEST_KEYSTORE_PASSWORD');
      await p.locator('#https-run').click();
      await p.locator('.chain').waitFor();
      assert.match(await p.locator('#result').innerText(), /Every step passed/);
      assert.match(
        await p.locator('.chain').locator('xpath=..').innerText(),
        /the one presented was accepted/,
      );
      const sent = bodies.map((b) => JSON.parse(b) as Record<string, unknown>);
      const probe = sent.find((b) => b.url)!;
      assert.equal(probe.url, `https://${u.hostname}:${u.port}/`);
      assert.equal(probe.clientCert, lab.clientCert.good);
      assert.equal(probe.clientCertPasswordEnv, 'LINKDOCTOR_TEST_KEYSTORE_PASSWORD');
      for (const b of bodies)
        assert.ok(!b.includes(lab.clientCert.password), 'the password went into a request');
      // The picture shows the result: the steps, the chain and the client certificate question.
      await p.locator('#result').evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await shot(p, 'probe-client-cert');
    } finally {
      delete process.env.LINKDOCTOR_TEST_KEYSTORE_PASSWORD;
      await p.close();
    }
  });

  test("Probe: every tab has the Connectivity Test's fields; a URL in the host field is taken whole", async () => {
    const p = await page();
    await p.goto(`${base}/connectivity`);
    await p.locator('#https-host').waitFor();
    const ids = await p
      .locator('ui5-tab')
      .evaluateAll((tabs) =>
        tabs.map((t) => [
          (t as HTMLElement).dataset.scheme,
          [...t.querySelectorAll('[id]')]
            .map((e) => e.id.replace(/^\w+-/, ''))
            .filter((id) => !/^ui5wc/.test(id)),
        ]),
      );
    const fields = Object.fromEntries(ids) as Record<string, string[]>;
    const has = (scheme: string, ...names: string[]) =>
      names.forEach((n) => assert.ok(fields[scheme]!.includes(n), `${scheme} lacks ${n}: ${fields[scheme]}`));
    has('https', 'host', 'port', 'timeout', 'auth', 'user', 'passwordEnv', 'oauthTokenUrl', 'oauthClientId');
    has('https', 'oauthSecretEnv', 'clientCert', 'clientKey', 'clientCertPasswordEnv', 'trust', 'servername');
    has('https', 'header', 'data', 'csrf', 'method', 'path');
    has('sftp', 'host', 'port', 'timeout', 'path', 'auth', 'user', 'identity', 'passwordEnv', 'knownHosts');
    has('smtp', 'host', 'port', 'protection', 'auth', 'user', 'passwordEnv', 'trust', 'from', 'to');
    has('ftp', 'host', 'port', 'encryption', 'path', 'auth', 'user', 'passwordEnv', 'trust', 'writeTest');
    // Headers and a body: one header a line, sent as the API's header list.
    let sent: Record<string, unknown> | undefined;
    p.on('request', (r) => r.url().endsWith('/api/probe') && (sent = JSON.parse(r.postData()!)));
    await p.locator('#https-host input').fill('https://127.0.0.1:1/orders');
    await p.locator('#https-header textarea').fill('Accept: application/json\nX-Test: 1\n');
    await p.locator('#https-data textarea').fill('{"a":1}');
    await p.locator('#https-run').click();
    await p.locator('.steps li[data-step="tcp"][data-ok="false"]').waitFor();
    assert.deepEqual(sent, {
      url: 'https://127.0.0.1:1/orders',
      timeout: 5,
      header: ['Accept: application/json', 'X-Test: 1'],
      data: '{"a":1}',
      maxRedirs: 5,
    });
    await p.close();
  });

  test('keyboard and size: at 1280×800 and 400×800 every page fits, and Tab reaches every control', async () => {
    for (const [width, height] of [
      [1280, 800],
      [400, 800],
    ] as const)
      for (const path of ['/diagnose', '/connectivity', '/scan', '/kb', '/lab']) {
        const p = await page(width, height);
        await p.goto(`${base}${path}`);
        await p.locator('main#page h1').waitFor();
        await p.locator('main#page ui5-button, main#page ui5-li').first().waitFor();
        const where = `${path} at ${width}px`;
        // No sideways scrolling of the page.
        const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
        assert.ok(scroll! <= inner!, `${where}: ${scroll}px wide in a ${inner}px window`);
        // The controls on show, each marked; then Tab until focus has been everywhere (or 120 presses).
        const controls = await p.evaluate(() => {
          const all = document.querySelectorAll(
            'ui5-shellbar-branding, ui5-side-navigation-item, main ui5-input, main ui5-select, main ui5-textarea, main ui5-checkbox, main ui5-button, main input, main ui5-list, main ui5-tabcontainer',
          );
          const shown = [...all].filter((e) => e.checkVisibility() && e.getBoundingClientRect().width > 0);
          // The navigation is one stop (arrow keys move within it, as in UI5's side navigation): its selected item.
          const stops = shown.filter(
            (e) => e.tagName !== 'UI5-SIDE-NAVIGATION-ITEM' || e.hasAttribute('selected'),
          );
          stops.forEach((e, i) => e.setAttribute('data-k', String(i)));
          return stops.map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}`);
        });
        const reached = new Set<number>();
        for (let i = 0; i < 120 && reached.size < controls.length; i++) {
          await p.keyboard.press('Tab');
          const k = await p.evaluate(() => {
            let a: Element | null = document.activeElement;
            while (a && !a.hasAttribute('data-k'))
              a = a.parentElement ?? (a.getRootNode() as ShadowRoot).host ?? null;
            return a ? Number(a.getAttribute('data-k')) : -1;
          });
          if (k >= 0) reached.add(k);
        }
        const missed = controls.filter((_, i) => !reached.has(i));
        assert.deepEqual(missed, [], `${where}: Tab never reaches ${missed.join(', ')}`);
        if (width < 500 && path === '/connectivity') await shot(p, 'narrow-probe');
        await p.close();
      }
  });

  test('Scan: upload a log, watch it finish, see the groups, the timeline and the unknown errors', async () => {
    const log = join(tmpdir(), `linkdoctor-ui-${process.pid}.log`);
    const lines: string[] = [];
    for (let m = 0; m < 60; m++) {
      const t = `2024-03-01 ${String(8 + Math.floor(m / 10)).padStart(2, '0')}:${String((m * 7) % 60).padStart(2, '0')}:00`;
      lines.push(
        m % 3 === 0
          ? `${t} ERROR com.jcraft.jsch.JSchException: Auth fail`
          : m % 3 === 1
            ? `${t} ERROR javax.net.ssl.SSLHandshakeException: PKIX path building failed: unable to find valid certification path to requested target`
            : `${t} INFO message processed`,
      );
    }
    // An error no entry knows, twice with other numbers: one row of the unknown table, count 2.
    lines.push('2024-03-01 09:00:00 ERROR [Reporting] Nightly export job 41 failed: disk quota exceeded');
    lines.push('2024-03-01 09:30:00 ERROR [Reporting] Nightly export job 42 failed: disk quota exceeded');
    writeFileSync(log, `${lines.join('\n')}\n`);
    const p = await page();
    await p.goto(`${base}/scan`);
    await p.locator('#file').setInputFiles(log);
    await p.locator('#run').click();
    await p.locator('#groups').waitFor();
    const ids = await p
      .locator('#groups ui5-table-row')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id));
    assert.deepEqual(ids.sort(), ['out-cert-path', 'out-sftp']);
    assert.equal((await p.locator('svg.timeline circle').count()) > 0, true);
    const unknown = await p
      .locator('#unknown ui5-table-row')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).innerText.replace(/\s+/g, ' ')));
    assert.equal(unknown.length, 1, unknown.join('|'));
    assert.match(unknown[0]!, /Nightly export job <n> failed: disk quota exceeded 2 /);
    // (Not an assertion: the progress bar's own animation settles before the picture.)
    await p.waitForTimeout(800);
    await shot(p, 'scan');
    await p.close();
  });

  test('Knowledge base: search and open an entry', async () => {
    const p = await page();
    await p.goto(`${base}/kb`);
    await p.locator('#entries ui5-li').first().waitFor();
    await p.locator('#search input').fill('sftp');
    const shown = await p
      .locator('#entries ui5-li')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id));
    assert.ok(shown.includes('out-sftp') && shown.length < 10, shown.join(' '));
    await p.locator('#entries ui5-li[data-id="out-sftp"]').click();
    await p.locator('#entry section').waitFor();
    assert.match(await p.locator('#entry').innerText(), /SFTP/);
    await shot(p, 'kb');
    await p.close();
  });

  test('Lab: probe a server with its button', async () => {
    const p = await page();
    await p.goto(`${base}/lab`);
    const box = p.locator('section[data-scenario="expired"]');
    await box.locator('ui5-button').click();
    await box.locator('section.diagnosis').first().waitFor();
    assert.equal(
      await box.locator('section.diagnosis').first().getAttribute('data-id'),
      lab.scenarios.find((s) => s.name === 'expired')!.expect,
    );
    await shot(p, 'lab');
    await p.close();
  });

  test('narrow window: the navigation collapses, the page stays usable', async () => {
    const p = await page(420, 800);
    await p.goto(`${base}/diagnose`);
    await p.locator('#text textarea').waitFor();
    assert.equal(await p.locator('#nav').getAttribute('collapsed'), '');
    // The text area is on screen beside the collapsed navigation, and usable from the keyboard.
    const box = (await p.locator('#text').boundingBox())!;
    assert.ok(box.x > 0 && box.x + box.width <= 420 && box.width > 250, JSON.stringify(box));
    await p.locator('#text textarea').focus();
    await p.keyboard.type('HTTP 503 Service Unavailable');
    await p.keyboard.press('Control+Enter');
    await p.locator('section.diagnosis').first().waitFor();
    await shot(p, 'narrow');
    await p.close();
  });

  test('an API error is a message, not a blank pane', async () => {
    const p = await page();
    await p.goto(`${base}/connectivity`);
    await p.locator('#https-host input').fill('gopher://nowhere');
    await p.locator('ui5-button.run').first().click();
    const strip = p.locator('ui5-message-strip[design="Negative"]');
    await strip.waitFor();
    assert.match(await strip.innerText(), /cannot test gopher/);
    await p.close();
  });

  test('a server with a token: the page asks for it once and keeps it for the tab', async () => {
    const token = 'a-browser-test-token-of-32-chars';
    const guarded = await buildServer({ host: '127.0.0.1', token });
    await mountRooms(guarded);
    await guarded.listen({ host: '127.0.0.1', port: 0 });
    const origin = `http://127.0.0.1:${(guarded.server.address() as { port: number }).port}`;
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const asked: string[] = [];
    p.on('response', (r) => r.status() === 401 && asked.push(new URL(r.url()).pathname));
    try {
      await p.goto(`${origin}/diagnose`);
      // The first call of the page (/api/health) is refused; the page asks for the token.
      await p.locator('#token input').fill(token);
      await p.keyboard.press('Enter');
      await p.locator('#nav ui5-side-navigation-item').first().waitFor();
      await p.locator('#text textarea').fill('com.jcraft.jsch.JSchException: Auth fail');
      await p.locator('#run').click();
      await p.locator('section.diagnosis').first().waitFor();
      assert.equal(await p.locator('section.diagnosis').first().getAttribute('data-id'), 'out-sftp');
      assert.equal(await p.evaluate(() => sessionStorage.getItem('linkdoctor.token')), token);
      // Kept for the tab: a reload asks nothing.
      await p.reload();
      await p.locator('#nav ui5-side-navigation-item').first().waitFor();
      assert.equal(await p.locator('ui5-dialog').count(), 0);
      assert.deepEqual(asked, ['/api/health']);
    } finally {
      await p.close();
      await guarded.close();
    }
  });

  test('no request left the server, no console error', () => {
    assert.deepEqual(foreign, []);
    // The one error the UI shows on purpose (the gopher:// probe above) is logged by Chromium as a
    // failed request: only that.
    assert.deepEqual(
      errors.filter((e) => !/status of 400 \(Bad Request\)/.test(e)),
      [],
    );
    assert.ok(errors.length <= 1, errors.join('\n'));
  });
});
