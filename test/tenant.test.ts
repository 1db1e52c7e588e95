// `linkdoctor tenant`: the CLI against the lab's fake tenant (src/lab/tenant.ts, through
// test/tenant-fixture.ts), which answers as tenant-api.md documents the real API: token flow, paging,
// errors, quirks and faults.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type Socket, type AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCliAsync, type Run } from './helpers.js';
import {
  assertNoSecret,
  FIXTURE_ARTIFACTS,
  FIXTURE_ERRORS,
  FIXTURE_SECRET,
  listRequests,
  runAgainst,
  startTenantFixture,
  withFixture,
  type TenantFixture,
} from './tenant-fixture.js';

/** `linkdoctor tenant ARGS --service-key KEY` against the fake tenant. */
const run = (
  f: TenantFixture,
  args: string[],
  env: Record<string, string> = {},
  key = f.keyFile,
): Promise<Run> => runAgainst(f, ['tenant', ...args, '--service-key', key], env);

describe('tenant failures against the fixture', () => {
  let f: TenantFixture;
  before(async () => (f = await startTenantFixture({ messages: 2500 })));
  after(() => f.close());

  test('reads every page, diagnoses each error text and groups them by diagnosis and iFlow', async () => {
    const r = await run(f, ['failures', '--since', '4d', '--json']);
    assert.equal(r.status, 1, r.stderr);
    assertNoSecret(f, r);
    const j = JSON.parse(r.stdout);
    const failing = f.mpls.filter((m) => m.Status !== 'COMPLETED');
    assert.equal(j.summary.incidents, failing.length);
    // 2,000 failing messages: two pages of 1000 along a relative __next, asked as JSON.
    const pages = listRequests(f, 'MessageProcessingLogs');
    assert.equal(pages.length, 2);
    assert.ok(pages.every((p) => new URL(p.url).searchParams.get('$format') === 'json'));
    const ids = new Set(j.groups.map((g: { id: string }) => g.id));
    for (const e of FIXTURE_ERRORS) if (e.expect) assert.ok(ids.has(e.expect), `${e.expect} missing`);
    const pkix = j.groups.find((g: { id: string; iflow: string }) => g.id === 'out-cert-path');
    assert.equal(pkix.iflow, 'Orders_to_ERP');
    assert.match(pkix.example.file, /shell\/monitoring\/Messages/);
    assert.ok(j.unknown.some((u: { message: string }) => /Mapping step failed/.test(u.message)));
  });

  test('groups exactly as scan does for the same error texts (an MPL export with the texts inlined)', async () => {
    const r = await run(f, ['failures', '--since', '4d', '--json']);
    const failing = f.mpls
      .filter((m) => m.Status !== 'COMPLETED')
      .map((m) => ({ ...m, ErrorText: f.errorTexts.get(m.MessageGuid as string) }));
    const file = join(f.dir, 'export.json');
    writeFileSync(file, JSON.stringify({ d: { results: failing } }));
    const s = await runCliAsync(['scan', '--json', file]);
    // A failed message without error text (204) is headed in the tenant's words there, the export's here.
    const tenantWords =
      /^(\w+): the tenant has no error text for this message \(yet\): its ErrorInformation answered No Content$/;
    const exportWords = /^(\w+): the export has no error text \(it is at .*\)$/;
    const headline = (m: unknown) =>
      String(m).replace(tenantWords, '$1: no text').replace(exportWords, '$1: no text');
    const shape = (j: { groups: Record<string, unknown>[]; unknown: Record<string, unknown>[] }) => ({
      groups: j.groups.map(({ example: _e, ...g }) => g),
      unknown: j.unknown.map(({ example: _e, ...g }) => ({ ...g, message: headline(g.message) })),
    });
    const tenant = JSON.parse(r.stdout);
    assert.ok(tenant.unknown.some((u: { message: string }) => tenantWords.test(u.message)));
    assert.deepEqual(shape(tenant), shape(JSON.parse(s.stdout)));
  });

  test('--iflow and --status narrow the query, --jsonl prints a line per incident, text and markdown render', async () => {
    const before = listRequests(f, 'MessageProcessingLogs').length;
    const r = await run(f, [
      'failures',
      '--since',
      '4d',
      '--iflow',
      'Invoices_SFTP',
      '--status',
      'RETRY',
      '--jsonl',
    ]);
    assert.equal(r.status, 1, r.stderr);
    const q = new URL(listRequests(f, 'MessageProcessingLogs')[before]!.url).searchParams.get('$filter')!;
    assert.match(
      q,
      /\(Status eq 'RETRY'\) and LogEnd ge datetime'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d' and IntegrationFlowName eq 'Invoices_SFTP'/,
    );
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const expected = f.mpls.filter((m) => m.Status === 'RETRY' && m.IntegrationFlowName === 'Invoices_SFTP');
    assert.equal(lines.length, expected.length);
    assert.ok(lines.every((l) => l.iflow === 'Invoices_SFTP'));
    const t = await run(f, ['failures', '--since', '4d', '--iflow', 'Jobs_Start']);
    assert.match(t.stdout, /^Read \d+ FAILED\/RETRY\/ESCALATED messages of 127\.0\.0\.1:\d+ /);
    assert.match(t.stdout, /out-411-empty-post .*integration flow Jobs_Start|integration flow Jobs_Start/s);
    const m = await run(f, ['failures', '--since', '4d', '--iflow', 'Jobs_Start', '--markdown']);
    assert.match(m.stdout, /^# linkdoctor scan\n\nRead /);
    assertNoSecret(f, t);
  });

  test('--iflow naming no deployed flow (a case or a letter off) says so with the closest name, exit 2', async () => {
    const near = FIXTURE_ARTIFACTS.map((a) => a.id).find((id) => id !== id.toLowerCase())!;
    const a = await run(f, ['failures', '--since', '4d', '--iflow', near.toLowerCase()]);
    assert.equal(a.status, 2, a.stdout);
    assert.equal(
      a.stderr.trim(),
      `linkdoctor: no deployed integration flow of the tenant is called ${near.toLowerCase()}; did you mean ${near}? (--iflow takes the exact name, case included)`,
    );
    const b = await run(f, ['failures', '--since', '4d', '--iflow', 'Nothing_Like_It_At_All']);
    assert.equal(b.status, 2);
    assert.match(
      b.stderr,
      /is called Nothing_Like_It_At_All \(--iflow takes the exact name.*tenant endpoints lists/,
    );
    const c = await run(f, ['failures', '--status', 'FAILD']);
    assert.equal(c.status, 2);
    assert.match(c.stderr, /not "FAILD"; did you mean FAILED\?/);
    assertNoSecret(f, a);
  });

  test('a bad --since or --status is a usage error before any request', async () => {
    const n = f.requests.length;
    const a = await run(f, ['failures', '--since', 'yesterday']);
    assert.equal(a.status, 2);
    assert.match(a.stderr, /--since takes a duration/);
    const b = await run(f, ['failures', '--status', 'BROKEN']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /--status takes COMPLETED/);
    assert.equal(f.requests.length, n);
  });
});

describe('tenant failures: error texts the tenant fails to give', () => {
  test('each is said on standard error with why and listed in --json problems; the counts agree (attack T4)', async () =>
    withFixture({ messages: 60, faults: { lostErrorTextEvery: 5 } }, async (f) => {
      const withText = f.mpls.filter((m) => f.errorTexts.get(m.MessageGuid as string)).length;
      const lost = Math.floor(withText / 5);
      assert.ok(lost >= 2, `${withText} texts`);
      const text = await run(f, ['failures', '--since', '4d']);
      assert.equal(text.status, 1, text.stderr);
      const said = text.stderr
        .split('\n')
        .filter((l) => / its error text could not be read: .*\b500\b/.test(l));
      assert.equal(said.length, lost, text.stderr);
      assert.match(text.stdout, new RegExp(`${lost} error\\s+texts\\s+could\\s+not\\s+be\\s+read`));
      assert.match(
        text.stdout,
        new RegExp(`${lost} problems\\s+with\\s+the\\s+input\\s+\\(reported\\s+above\\)`),
      );
      // "N error texts (M distinct)": no more distinct texts than texts.
      const [, texts, distinct] = /(\d+) error\s+texts\s+\((\d+)\s+distinct\)/.exec(text.stdout)!.map(Number);
      assert.equal(texts, withText - lost);
      assert.ok(distinct! <= texts!, text.stdout);
      const json = await run(f, ['failures', '--since', '4d', '--json']);
      const j = JSON.parse(json.stdout) as { summary: { problems: number }; problems: { message: string }[] };
      assert.equal(j.summary.problems, lost);
      assert.equal(j.problems.length, lost);
      assert.ok(j.problems.every((p) => /its error text could not be read/.test(p.message)));
    }));
});

describe('tenant failures: an empty error text (attack S13 B10)', () => {
  test('is "the tenant gave no error text", not "could not be read"; the unread and the empty are counted apart and agree', async () =>
    withFixture({ messages: 60, faults: { lostErrorTextEvery: 5, emptyErrorTextEvery: 4 } }, async (f) => {
      const withText = f.mpls.filter((m) => f.errorTexts.get(m.MessageGuid as string)).length;
      const lost = Math.floor(withText / 5);
      const empty = Math.floor((withText - lost) / 4);
      assert.ok(lost >= 2 && empty >= 2, `${withText} texts`);
      const r = await run(f, ['failures', '--since', '4d', '--json']);
      assert.equal(r.status, 1, r.stderr);
      const j = JSON.parse(r.stdout) as {
        summary: { problems: number };
        unknown: { message: string; count: number }[];
      };
      assert.equal(j.summary.problems, lost);
      const under = (re: RegExp) =>
        j.unknown.filter((u) => re.test(u.message)).reduce((n, u) => n + u.count, 0);
      assert.equal(under(/could not be read from the tenant/), lost, JSON.stringify(j.unknown));
      assert.equal(under(/the tenant gave no error text \(its ErrorInformation is empty\)/), empty);
      const text = await run(f, ['failures', '--since', '4d']);
      const [, texts] = /(\d+) error\s+texts\s+\(\d+\s+distinct\)/.exec(text.stdout)!.map(Number);
      assert.equal(texts, withText - lost - empty, 'an empty text is no error text');
      assert.match(text.stdout, new RegExp(`${lost} error\\s+texts\\s+could\\s+not\\s+be\\s+read`));
    }));
});

describe('tenant: connecting', () => {
  test('a wrong secret says so, and names no secret', async () =>
    withFixture({ messages: 10 }, async (f) => {
      const bad = join(f.dir, 'bad-key.json');
      writeFileSync(bad, f.keyJson.replace(FIXTURE_SECRET, 'wrong-secret-value'));
      const r = await run(f, ['failures'], {}, bad);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /refused the client id and secret of the service key \(401/);
      assert.ok(!r.stderr.includes('wrong-secret-value'));
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }));

  test('a Certificate key gets its token over mutual TLS, with only client_id in the body', async () =>
    withFixture({ messages: 20 }, async (f) => {
      const r = await run(f, ['failures', '--since', '4d', '--json'], {}, f.certKeyFile);
      assert.equal(r.status, 1, r.stderr);
      const tokenReq = f.requests.find((q) => q.url.includes('/oauth/token'))!;
      assert.equal(tokenReq.clientCert, true);
      assert.equal(tokenReq.authorization, undefined);
      assertNoSecret(f, r);
    }));

  test('$LINKDOCTOR_SERVICE_KEY holds the key; without any key the sentence says where to give one', async () =>
    withFixture({ messages: 20 }, async (f) => {
      const r = await runCliAsync(['tenant', 'keystore'], {
        env: { NODE_EXTRA_CA_CERTS: f.caFile, LINKDOCTOR_SERVICE_KEY: f.keyJson, HTTPS_PROXY: '' },
      });
      assert.equal(r.status, 1, r.stderr);
      assertNoSecret(f, r);
      const none = await runCliAsync(['tenant', 'keystore'], { env: { LINKDOCTOR_SERVICE_KEY: '' } });
      assert.equal(none.status, 2);
      assert.match(none.stderr, /give the tenant's service key with --service-key FILE/);
    }));

  test('a missing role (403) names the role, in one sentence', async () =>
    withFixture({ messages: 20, roles: [] }, async (f) => {
      const r = await run(f, ['failures']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /lacks the role MonitoringDataRead for MessageProcessingLogs \(403\)/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assertNoSecret(f, r);
    }));

  test('a token refused mid-run is fetched again once, and the run completes', async () =>
    withFixture({ messages: 1500, faults: { revokeAfter: 300 } }, async (f) => {
      const r = await run(f, ['failures', '--since', '4d', '--json']);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        JSON.parse(r.stdout).summary.incidents,
        f.mpls.filter((m) => m.Status !== 'COMPLETED').length,
      );
      assert.equal(f.tokens.length, 2);
      assertNoSecret(f, r);
    }));

  test('a token that expires by its time mid-run is refreshed before it does, and the run completes', async () =>
    // expires_in 61 s: the client takes a new one a minute early, so 1 s after each; every API
    // answer waits 50 ms, so the run (some 60 rounds of 8 error texts) lasts longer than that.
    withFixture({ messages: 600, tokenSeconds: 61, faults: { delayMs: 50 } }, async (f) => {
      const r = await run(f, ['failures', '--since', '4d', '--json']);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        JSON.parse(r.stdout).summary.incidents,
        f.mpls.filter((m) => m.Status !== 'COMPLETED').length,
      );
      assert.ok(f.tokens.length >= 2, `only ${f.tokens.length} token fetched`);
      assertNoSecret(f, r);
    }));

  test('429 and 503 are retried with a pause; a tenant always busy is given up after the bounded retries', async () => {
    await withFixture({ messages: 20, faults: { tooMany: 2, unavailable: 1 } }, async (f) => {
      const r = await run(f, ['keystore', '--json']);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(listRequests(f, 'KeystoreEntries').length, 4);
    });
    await withFixture({ messages: 20, faults: { alwaysBusy: true } }, async (f) => {
      const r = await run(f, ['keystore']);
      assert.equal(r.status, 2);
      assert.match(
        r.stderr,
        /over its rate limit for KeystoreEntries \(429 Too Many Requests, still after 4 tries\)/,
      );
      assert.equal(listRequests(f, 'KeystoreEntries').length, 4);
    });
  });

  test('paging follows absolute next links too', async () =>
    withFixture({ messages: 2600, absoluteNext: true }, async (f) => {
      const r = await run(f, ['failures', '--since', '4d', '--json']);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(listRequests(f, 'MessageProcessingLogs').length, 3);
      assert.equal(
        JSON.parse(r.stdout).summary.incidents,
        f.mpls.filter((m) => m.Status !== 'COMPLETED').length,
      );
    }));

  test("a next link to another host is not followed (the token stays with the key's host)", async () =>
    withFixture({ messages: 1500, faults: { foreignNext: true } }, async (f) => {
      const r = await run(f, ['failures', '--since', '4d']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /links to another host \(tenant\.example\.org\): not followed/);
    }));

  test('the XML default: the client asks for JSON; a tenant that answers XML anyway is said so', async () =>
    withFixture({ messages: 20, faults: { xmlAlways: true } }, async (f) => {
      const r = await run(f, ['keystore']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /answered KeystoreEntries in XML although JSON was asked for/);
      const req = listRequests(f, 'KeystoreEntries')[0]!;
      assert.equal(new URL(req.url).searchParams.get('$format'), 'json');
    }));

  test('an HTML login page for the API is said to be one, with what to check (not "XML")', async () =>
    withFixture({ messages: 5, faults: { loginPage: true } }, async (f) => {
      for (const cmd of [['keystore'], ['failures', '--since', '4d']]) {
        const r = await run(f, cmd);
        assert.equal(r.status, 2, cmd.join(' '));
        assert.match(
          r.stderr,
          /^linkdoctor: 127\.0\.0\.1:\d+ answered (KeystoreEntries|MessageProcessingLogs) with an HTML page \("Log On"\), not the OData API: is oauth\.url in the service key the API host of plan api/,
        );
        assert.doesNotMatch(r.stderr, /XML/);
        assertNoSecret(f, r);
      }
    }));

  test('a truncated page, a silent tenant and an endless answer each end in one sentence', async () => {
    await withFixture({ messages: 1500, faults: { truncatePage: 0 } }, async (f) => {
      const r = await run(f, ['failures', '--since', '4d']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /broke off its answer before the end|not JSON/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
    await withFixture({ messages: 20, faults: { silent: true } }, async (f) => {
      const started = Date.now();
      const r = await run(f, ['keystore', '--timeout', '1']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /did not answer within 1 s \(--timeout\)/);
      assert.ok(Date.now() - started < 20_000, 'a silent tenant must end near --timeout');
    });
    await withFixture({ messages: 20, faults: { endless: true } }, async (f) => {
      const r = await run(f, ['keystore', '--timeout', '20']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /sent more than \d+ KB for one answer: stopped reading/);
    });
  });

  test('a wrong URL says so', async () =>
    withFixture({ messages: 20 }, async (f) => {
      const bad = join(f.dir, 'wrong-url.json');
      writeFileSync(bad, f.keyJson.replace(`"url":"${f.url}"`, `"url":"${f.url}/nothing"`));
      const r = await run(f, ['keystore'], {}, bad);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /has no .*\(404\).*check oauth\.url/);
    }));

  test('HTTPS_PROXY is honoured through a CONNECT proxy, NO_PROXY bypasses it', async () =>
    withFixture({ messages: 20 }, async (f) => {
      const connects: string[] = [];
      const server = createProxy(createServer());
      server.on('connect', (req) => connects.push(req.url ?? ''));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const proxy = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const r = await run(f, ['keystore', '--json'], {
          HTTPS_PROXY: proxy,
          https_proxy: proxy,
          NO_PROXY: '',
          no_proxy: '',
        });
        assert.equal(r.status, 1, r.stderr);
        assert.ok(connects.includes(new URL(f.url).host), `no CONNECT seen: ${connects.join()}`);
        const n = connects.length;
        const d = await run(f, ['keystore', '--json'], {
          HTTPS_PROXY: proxy,
          https_proxy: proxy,
          NO_PROXY: '127.0.0.1',
          no_proxy: '127.0.0.1',
        });
        assert.equal(d.status, 1, d.stderr);
        assert.equal(connects.length, n);
      } finally {
        server.closeAllConnections?.();
        server.close();
      }
    }));
});

describe('tenant commands through a proxy that misbehaves (attack14 C20, C21)', () => {
  /** A proxy on loopback whose every connection gets `answer` (or nothing at all: a silent one). */
  async function rawProxy(answer?: string): Promise<{ url: string; close: () => void }> {
    const sockets = new Set<Socket>();
    const server = createNetServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      if (answer) s.once('data', () => s.end(answer));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => {
        for (const s of sockets) s.destroy();
        server.close();
      },
    };
  }
  const through = (proxy: string) => ({ HTTPS_PROXY: proxy, https_proxy: proxy, NO_PROXY: '', no_proxy: '' });

  test('a proxy that accepts the connection and never answers the CONNECT: bounded by --timeout', async () =>
    withFixture({ messages: 5 }, async (f) => {
      const proxy = await rawProxy();
      try {
        // Before: undici's own 300 s for the CONNECT's answer; the run is killed at 60 s (status null).
        const r = await run(f, ['keystore', '--timeout', '2'], through(proxy.url));
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /did not answer within 2 s \(--timeout\), through the proxy of HTTPS_PROXY/);
      } finally {
        proxy.close();
      }
    }));

  test("a proxy's 407 is said as the proxy's refusal, not as a timeout", async () =>
    withFixture({ messages: 5 }, async (f) => {
      const proxy = await rawProxy(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n',
      );
      try {
        const r = await run(f, ['keystore', '--timeout', '5'], through(proxy.url));
        assert.equal(r.status, 2, r.stderr);
        assert.match(
          r.stderr,
          /the proxy of HTTPS_PROXY refused the tunnel to .* \(407: it wants credentials\)/,
        );
        assert.doesNotMatch(r.stderr, /did not answer/);
      } finally {
        proxy.close();
      }
    }));
});

describe('tenant keystore', () => {
  test('lists the entries as the Keystore Monitor does and exits 1 when one expires within --days', async () =>
    withFixture({ messages: 10 }, async (f) => {
      const r = await run(f, ['keystore']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /^ALIAS\s+TYPE\s+VALID UNTIL\s+DAYS LEFT$/m);
      assert.match(
        r.stdout,
        /^partner_root_2016\s+Certificate\s+\S+\s+10d\n {2}subject CN=Partner Root CA 2016, O=Partner AG, C=DE\n {2}issuer {2}CN=Partner Root CA 2016/m,
      );
      // Whole names on lines of their own: no line of the table is wider than the 100 columns (attack T1).
      assert.ok(
        r.stdout.split('\n').every((l) => l.length <= 100),
        r.stdout,
      );
      assert.doesNotMatch(r.stdout, /^(?:O=|Corp|lab\s)/m, 'no name wrapped to column 0');
      assert.match(r.stdout, /old_receiver_ca\s+Certificate\s+\S+\s+expired/);
      assert.match(r.stdout, /2 of 4 entries expire within 30 days/);
      const j = JSON.parse((await run(f, ['keystore', '--json', '--days', '5'])).stdout);
      assert.deepEqual(j.expiring, ['old_receiver_ca']);
      assertNoSecret(f, r);
    }));

  test('--export writes the certificates as a trust store that trust show and probe --trust read', async () =>
    withFixture({ messages: 10 }, async (f) => {
      const out = join(f.dir, 'tenant.pem');
      const r = await run(f, ['keystore', '--export', out]);
      assert.match(r.stdout, /Wrote 4 certificates to/);
      assert.equal((readFileSync(out, 'utf8').match(/BEGIN CERTIFICATE/g) ?? []).length, 4);
      const show = await runCliAsync(['trust', 'show', out]);
      assert.equal(show.status, 0, show.stderr);
      assert.match(show.stdout, /linkdoctor lab Root CA/);
      // The tenant's keystore holds the lab root: the fixture's own chain is trusted by it.
      const p = await runCliAsync(['probe', `${f.url}/`, '--trust', out, '--json']);
      const tls = JSON.parse(p.stdout).tls;
      assert.equal(tls.trusted, true);
    }));
});
