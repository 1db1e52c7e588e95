// Adds trusted certificates to a store file without ever overwriting: a certificate already in the
// store is reported as present, a taken alias gets a suffix, and the file is replaced atomically
// (through a symlink, as a JDK's cacerts is one, to its target).
import type { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { UserError } from '../errors.js';
import { withFileLock, writeFileAtomic, writeTarget } from '../fs-write.js';
import { aliasFor, subjectDn } from './cert.js';
import { appendJavaTrustedCerts } from './java-keystore.js';
import { appendPkcs12TrustedCerts } from './pkcs12.js';
import { type FileFormat, formatOf, readStoreEntries, readStoreFile, type TrustEntry } from './store.js';

export interface AddResult {
  cert: X509Certificate;
  /** The alias it was added under, or the alias it is already present under. */
  alias: string;
  status: 'added' | 'present';
  /** When the CN-derived alias was taken by another certificate: that alias. */
  aliasTaken?: string;
}

/** The format to create a missing store in, from its name. */
function formatForNewFile(file: string): FileFormat {
  const ext = extname(file).toLowerCase();
  if (['.pem', '.crt', '.cer', '.txt'].includes(ext)) return 'pem';
  if (['.p12', '.pfx'].includes(ext)) return 'pkcs12';
  throw new UserError(
    `${file} does not exist, and its name does not say which store to create: name it .pem or .p12`,
  );
}

function pemBlock(cert: X509Certificate): string {
  return `# ${subjectDn(cert)}\n${cert.toString().trimEnd()}\n`;
}

/** Which certificates to add and under which alias; the ones already present are left alone. */
function plan(existing: TrustEntry[], certs: X509Certificate[]): AddResult[] {
  const byFingerprint = new Map(existing.map((e) => [e.cert.fingerprint256, e.alias]));
  const aliases = new Set(existing.map((e) => e.alias.toLowerCase()));
  return certs.map((cert) => {
    const present = byFingerprint.get(cert.fingerprint256);
    if (present !== undefined) return { cert, alias: present, status: 'present' };
    const base = aliasFor(cert);
    let alias = base;
    for (let n = 2; aliases.has(alias); n++) alias = `${base}_${n}`;
    aliases.add(alias);
    byFingerprint.set(cert.fingerprint256, alias);
    return { cert, alias, status: 'added', ...(alias !== base ? { aliasTaken: base } : {}) };
  });
}

/** A crash never leaves half a keystore; a new store is readable by its owner only. */
async function replaceFile(file: string, data: Buffer | string): Promise<void> {
  await writeFileAtomic(file, data, { mode: 0o600 });
}

function needPassword(password: string | undefined, file: string, format: FileFormat): string {
  if (password === undefined)
    throw new UserError(
      `writing to ${file} (${format === 'pkcs12' ? 'PKCS#12' : format.toUpperCase()}) needs its password`,
    );
  return password;
}

/**
 * Adds certificates as trusted entries to a PEM bundle, a PKCS#12, JKS or JCEKS store (a missing
 * .pem or .p12 file is created), holding FILE.lock while it reads and writes (withFileLock). Returns
 * what happened to each certificate. Throws a UserError (one sentence) for a file it cannot read,
 * a wrong or missing password, or a lock another process holds for more than 10 s.
 */
export async function addTrustedCerts(
  file: string,
  certs: X509Certificate[],
  password?: string,
): Promise<{ results: AddResult[]; format: FileFormat; created: boolean }> {
  // Before reading: a FIFO or device would block the read, a broken link is refused here.
  writeTarget(file);
  // Read, add and write under FILE.lock: another linkdoctor adding to the same store at the same
  // time waits, instead of both reading the old file and the second write dropping the first's entry.
  return withFileLock(file, () => addUnderLock(file, certs, password));
}

async function addUnderLock(
  file: string,
  certs: X509Certificate[],
  password: string | undefined,
): Promise<{ results: AddResult[]; format: FileFormat; created: boolean }> {
  const created = !existsSync(file);
  // An existing empty file (touch store.pem) is an empty store of the format its name says.
  const read = created ? undefined : await readStoreFile(file);
  const buf = read?.length ? read : undefined;
  const format = buf ? formatOf(buf, file) : formatForNewFile(file);
  if (format === 'der')
    throw new UserError(
      `${file} is a single DER certificate, not a store; add to a PEM bundle or a keystore instead`,
    );
  if (format === 'pkcs7')
    throw new UserError(
      `${file} is a PKCS#7 bundle (.p7b), which linkdoctor reads but does not write; add to a PEM bundle or a keystore instead (openssl pkcs7 -print_certs -in ${file} -out bundle.pem makes a PEM bundle of it)`,
    );
  const existing = buf ? readStoreEntries(buf, format, password, file) : [];
  const results = plan(existing, certs);
  const added = results.filter((r) => r.status === 'added');
  if (!added.length) return { results, format, created: false };

  switch (format) {
    case 'pem': {
      const before = buf?.toString('utf8') ?? '';
      const separator = before && !before.endsWith('\n') ? '\n' : '';
      await replaceFile(file, before + separator + added.map((r) => pemBlock(r.cert)).join(''));
      break;
    }
    case 'pkcs12':
      await replaceFile(
        file,
        appendPkcs12TrustedCerts(buf, needPassword(password, file, format), added, file),
      );
      break;
    case 'jks':
    case 'jceks':
      await replaceFile(
        file,
        appendJavaTrustedCerts(buf!, needPassword(password, file, format), added, file),
      );
      break;
  }
  return { results, format, created };
}
