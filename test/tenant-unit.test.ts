// The tenant client's pure parts: the service key's sentences, the query it writes, the shapes it reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../src/errors.js';
import { deployErrorText, hexAlias, mplQuery, odataDate } from '../src/tenant/entities.js';
import { parseServiceKey } from '../src/tenant/service-key.js';

const SECRET = 'zz-very-secret$AbCd_Ef=';

test('a service key: read under oauth, and no sentence ever quotes a value of it', () => {
  const k = parseServiceKey(
    JSON.stringify({
      oauth: {
        clientid: 'sb-x!b1|it!b2',
        clientsecret: SECRET,
        url: 'https://t.example/',
        tokenurl: 'https://a.example/oauth/token',
      },
      createdate: 'ignored',
    }),
    'key.json',
  );
  assert.equal(k.url, 'https://t.example');
  const bad = [
    `{"oauth":{"clientid":"x","clientsecret":"${SECRET}"`,
    JSON.stringify({
      oauth: { clientid: 'x', clientsecret: SECRET, url: 'http://t.example', tokenurl: 'https://a' },
    }),
    JSON.stringify({ oauth: { clientid: 'x', clientsecret: SECRET, tokenurl: 'https://a' } }),
    JSON.stringify({ oauth: { clientsecret: SECRET, url: 'https://t', tokenurl: 'https://a' } }),
    JSON.stringify({
      oauth: {
        clientid: 'x',
        certificate: '-----BEGIN CERTIFICATE-----',
        url: 'https://t',
        tokenurl: 'https://a',
      },
    }),
  ];
  for (const text of bad) {
    assert.throws(
      () => parseServiceKey(text, 'key.json'),
      (e: Error) => e instanceof UserError && !e.message.includes(SECRET) && e.message.startsWith('key.json'),
    );
  }
});

test('the MPL query: datetime literals without Z, spaces as %20, allowed $orderby (tenant-api.md §3, §8.1)', () => {
  const q = mplQuery({
    since: Date.UTC(2026, 0, 2, 3, 4, 5),
    statuses: ['FAILED', 'RETRY'],
    iflow: "O'Brien",
  });
  const f = new URL(`https://t/api/v1/${q}`).searchParams.get('$filter');
  assert.equal(
    f,
    "(Status eq 'FAILED' or Status eq 'RETRY') and LogEnd ge datetime'2026-01-02T03:04:05' and IntegrationFlowName eq 'O''Brien'",
  );
  assert.ok(!q.includes('+'));
  assert.match(q, /%24orderby=LogEnd%20desc/);
});

test('shapes: /Date(ms)/, hex aliases, and the deployment error quirks (tenant-api.md §3, §8.2)', () => {
  assert.equal(odataDate('/Date(1765786792442)/'), 1765786792442);
  assert.equal(hexAlias('my alias'), '6D7920616C696173');
  const cf = JSON.stringify({
    message: {
      subsystemName: 'CONTENT',
      subsytemPartName: 'CONTENT_DEPLOY',
      messageId: 'GenerationFailed',
      messageText: '',
    },
    parameter: [
      "The generation and build of the artifact were unsuccessful.\nScript file 'script1.groovy' not found",
    ],
  });
  assert.match(
    deployErrorText(cf)!,
    /GenerationFailed\nThe generation and build .*\nScript file 'script1.groovy' not found/s,
  );
  const nested = JSON.stringify({
    parameter: [
      JSON.stringify({
        message: 'EXCEPTION',
        childMessageInstances: [{ message: 'CAUSE', parameters: ['deep'] }],
      }),
    ],
  });
  assert.equal(deployErrorText(nested), 'EXCEPTION\nCAUSE\ndeep');
  assert.equal(deployErrorText(''), undefined);
  assert.equal(deployErrorText('{}'), undefined);
  assert.equal(deployErrorText('plain words'), 'plain words');
});
