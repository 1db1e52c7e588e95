// known_hosts as OpenSSH and JSch read it: plain, hashed and [host]:port entries, and the verdicts.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hostKeyOf, keyTypeOfAlgorithm, md5Fingerprint, sha256Fingerprint } from '../src/ssh/host-key.js';
import { jschHostKeyOrder } from '../src/ssh/algorithms.js';
import {
  certAuthorityNote,
  checkHostKey,
  hostField,
  judgeHostKeys,
  knownKeyTypes,
  parseKnownHosts,
} from '../src/ssh/known-hosts.js';

/** A key blob of a type: the wire format is the type string, then the key's own fields. */
function blob(type: string, seed: string): Buffer {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return Buffer.concat([field(Buffer.from(type)), field(Buffer.from(seed.padEnd(32, '.')))]);
}
const ED = hostKeyOf(blob('ssh-ed25519', 'server'));
const OLD = hostKeyOf(blob('ssh-ed25519', 'old'));
const RSA = hostKeyOf(blob('ssh-rsa', 'rsa'));
const b64 = (k: { blob: Buffer }) => k.blob.toString('base64');

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

test('the key type comes from the blob; rsa-sha2-* algorithms use ssh-rsa keys', () => {
  assert.equal(ED.type, 'ssh-ed25519');
  assert.equal(keyTypeOfAlgorithm('rsa-sha2-512'), 'ssh-rsa');
  assert.equal(keyTypeOfAlgorithm('ecdsa-sha2-nistp256'), 'ecdsa-sha2-nistp256');
  assert.match(sha256Fingerprint(ED.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.match(md5Fingerprint(ED.blob), /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
});

test('host field: the host for port 22, [host]:port otherwise, lower case', () => {
  assert.equal(hostField('SFTP.Example.com', 22), 'sftp.example.com');
  assert.equal(hostField('sftp.example.com', 2222), '[sftp.example.com]:2222');
});

test('match, changed and unknown, per host and key type', () => {
  const file = parseKnownHosts(
    [
      '# comment',
      '',
      `sftp.example.com,10.0.0.5 ssh-ed25519 ${b64(ED)} admin@sftp`,
      `[sftp.example.com]:2222 ssh-ed25519 ${b64(OLD)}`,
      `other.example.com ssh-ed25519 ${b64(ED)}`,
      `[sftp.example.com]:2222 ssh-rsa ${b64(RSA)}`,
    ].join('\n'),
  );
  assert.deepEqual(file.problems, []);
  const match = checkHostKey(file, 'sftp.example.com', 22, ED);
  assert.equal(match.verdict, 'match');
  assert.equal(match.stored[0]!.line, 3);
  assert.equal(checkHostKey(file, '10.0.0.5', 22, ED).verdict, 'match');

  const changed = checkHostKey(file, 'sftp.example.com', 2222, ED);
  assert.equal(changed.verdict, 'changed');
  assert.deepEqual(changed.stored, [{ line: 4, type: 'ssh-ed25519', sha256: sha256Fingerprint(OLD.blob) }]);
  assert.deepEqual(changed.otherTypes, ['ssh-rsa']);
  assert.deepEqual(knownKeyTypes(file, 'sftp.example.com', 2222), ['ssh-ed25519', 'ssh-rsa']);

  // Port 2222 is not port 22: the plain line does not name it.
  const unknown = checkHostKey(file, 'sftp.example.com', 2200, ED);
  assert.equal(unknown.verdict, 'unknown');
  assert.equal(unknown.lineToAdd, `[sftp.example.com]:2200 ssh-ed25519 ${b64(ED)}`);
  assert.deepEqual(
    unknown.sameKeyElsewhere.map((e) => e.line),
    [3, 5],
    'the same key under another name hints at a host spelled differently',
  );
  // A line for another key type only leaves the server's type unknown ("reject HostKey").
  assert.equal(
    checkHostKey(file, 'sftp.example.com', 2222, hostKeyOf(blob('ecdsa-sha2-nistp256', 'e'))).verdict,
    'unknown',
  );
});

test('hashed entries (ssh-keygen -H), with and without a port', () => {
  const file = parseKnownHosts(
    `${hashed('sftp.example.com')} ssh-ed25519 ${b64(ED)}\n${hashed('[sftp.example.com]:2222')} ssh-ed25519 ${b64(OLD)}\n`,
  );
  assert.equal(checkHostKey(file, 'sftp.example.com', 22, ED).verdict, 'match');
  assert.equal(checkHostKey(file, 'sftp.example.com', 2222, ED).verdict, 'changed');
  assert.equal(checkHostKey(file, 'other.example.com', 22, ED).verdict, 'unknown');
});

test('wildcards and negations, markers and broken lines', () => {
  const file = parseKnownHosts(
    [
      `*.example.com,!secret.example.com ssh-ed25519 ${b64(ED)}`,
      `@cert-authority *.example.com ssh-ed25519 ${b64(OLD)}`,
      'broken-line-without-key',
      `host ssh-ed25519 not*base64`,
    ].join('\n'),
  );
  assert.equal(checkHostKey(file, 'sftp.example.com', 22, ED).verdict, 'match');
  assert.equal(checkHostKey(file, 'secret.example.com', 22, ED).verdict, 'unknown');
  assert.deepEqual(
    file.problems.map((p) => p.line),
    [3, 4],
  );
});

test('@revoked: the key is revoked whatever other line holds it; @cert-authority lines are named, never host keys', () => {
  const file = parseKnownHosts(
    [
      `@revoked [sftp.example.com]:2222 ssh-ed25519 ${b64(ED)}`,
      `[sftp.example.com]:2222 ssh-ed25519 ${b64(ED)}`,
      `@cert-authority *.example.com ssh-rsa ${b64(RSA)}`,
    ].join('\n'),
  );
  const revoked = checkHostKey(file, 'sftp.example.com', 2222, ED);
  assert.equal(revoked.verdict, 'revoked');
  assert.equal(revoked.revokedLine, 1);
  // A revoked line for another host, or with another key, revokes nothing here.
  assert.equal(checkHostKey(file, 'sftp.example.com', 22, ED).verdict, 'unknown');
  assert.equal(checkHostKey(file, 'sftp.example.com', 2222, OLD).verdict, 'changed');
  // The CA line is no host key (an ssh-rsa key of the host stays unknown), but it is said.
  const ca = checkHostKey(file, 'sftp.example.com', 22, RSA);
  assert.equal(ca.verdict, 'unknown');
  assert.deepEqual(
    ca.certAuthorities.map((c) => c.line),
    [3],
  );
  assert.match(
    certAuthorityNote(ca, 'kh')!,
    /kh holds an @cert-authority line .*line 3, ssh-rsa.*JSch version/,
  );
  assert.equal(certAuthorityNote(checkHostKey(file, 'other.test', 22, RSA), 'kh'), undefined);
});

test('the one judgement: the key JSch negotiates with the file (its types first), the others as notes', () => {
  // JSch (mwiede Session.java, prefer_known_host_key_types): the types the file holds go first.
  assert.deepEqual(jschHostKeyOrder(['ssh-rsa']).current.slice(0, 2), ['rsa-sha2-512', 'rsa-sha2-256']);
  assert.equal(jschHostKeyOrder([]).current[0], 'ssh-ed25519');
  const offered = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-ed25519'];
  const keys = [RSA, ED];
  // The right ed25519 line and a wrong rsa line: JSch asks for ed25519 first, as the server offers it.
  const wrongRsa = hostKeyOf(blob('ssh-rsa', 'wrong'));
  const mixed = parseKnownHosts(
    `sftp.example.com ssh-ed25519 ${b64(ED)}\nsftp.example.com ssh-rsa ${b64(wrongRsa)}\n`,
  );
  const m = judgeHostKeys(mixed, 'sftp.example.com', 22, keys, offered);
  assert.equal(m.key, ED);
  assert.equal(m.check.verdict, 'match');
  assert.equal(m.jschAlgorithm, 'ssh-ed25519');
  assert.deepEqual(
    m.others.map((o) => [o.key.type, o.check.verdict]),
    [['ssh-rsa', 'changed']],
  );
  // Only the rsa line: JSch asks for rsa-sha2-512 first, and the file matches it.
  const rsaOnly = parseKnownHosts(`sftp.example.com ssh-rsa ${b64(RSA)}\n`);
  const r = judgeHostKeys(rsaOnly, 'sftp.example.com', 22, keys, offered);
  assert.equal(r.key, RSA);
  assert.equal(r.check.verdict, 'match');
  assert.equal(r.jschAlgorithm, 'rsa-sha2-512');
  // An empty file: JSch's own first choice the server offers.
  assert.equal(judgeHostKeys(parseKnownHosts(''), 'sftp.example.com', 22, keys, offered).key, ED);
});
