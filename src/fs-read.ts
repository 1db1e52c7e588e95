// Reading a file the user named (a known_hosts file, a trust store, an inventory, a key, a log): the
// one place that opens one. Only a regular file is read. A FIFO would block open() until a writer
// comes, /dev/zero or /dev/urandom would be read without end, a folder fails with EISDIR, a socket
// with ENXIO: each is refused with one sentence that says what the path is and what it should have
// been. /dev/null is read as an empty file (`--known-hosts /dev/null` is a common idiom). The type is
// checked before the open (opening a device can have effects of its own), the open does not block
// (O_NONBLOCK: a FIFO swapped in after the check), and the type is checked again on the descriptor
// itself, so that what is read is what was checked.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { UserError } from './errors.js';

/** An fs error as the end of a sentence: "permission denied (EACCES)". */
export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text = err.message?.replace(/^[A-Z]+: /, '').replace(/,.*$/, '');
  return err.code ? `${text} (${err.code})` : String(e);
}

/** What the caller expected the file to be, for the sentences ("known_hosts file", "trust store"). */
export interface ReadAs {
  /** A noun without its article: "known_hosts file", "inventory", "private key". */
  what: string;
  /** Said after the sentence for a FIFO: how to give such input instead (standard input, say). */
  pipeHint?: string;
}

export interface BoundedReadAs extends ReadAs {
  /** The most bytes the file may hold; a larger one is refused unread. */
  maxBytes: number;
}

/**
 * A user-named file that cannot be read as what was asked for. `predicate` is the sentence without
 * its subject ("is a FIFO (named pipe), not a log file"), for reports that name the file themselves.
 */
export class FileReadError extends UserError {
  override name = 'FileReadError';
  constructor(
    readonly file: string,
    readonly predicate: string,
    message = `${file} ${predicate}`,
  ) {
    super(message);
  }
}

// O_NONBLOCK and O_NOCTTY are POSIX; elsewhere (Windows) there are no FIFOs to race in.
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

let devNullRdev: number | null | undefined;
/** /dev/null: a character device, read as an empty file. */
function isDevNull(st: Stats): boolean {
  if (!st.isCharacterDevice()) return false;
  if (devNullRdev === undefined) {
    try {
      devNullRdev = statSync('/dev/null').rdev;
    } catch {
      devNullRdev = null;
    }
  }
  return st.rdev === devNullRdev;
}

/** The kind of something that is not a regular file, with its article. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  // A Solaris door, an event port: nothing Linux or macOS makes.
  return 'a special file';
}

const article = (noun: string): string => `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;

/** Refuses what is neither a regular file nor /dev/null. */
function checkType(file: string, st: Stats, as: ReadAs): void {
  if (st.isFile() || isDevNull(st)) return;
  const hint = st.isFIFO() && as.pipeHint ? `: ${as.pipeHint}` : '';
  throw new FileReadError(file, `is ${kindOf(st)}, not ${article(as.what)}${hint}`);
}

/** A bound as said in a sentence: "64 MB", "256 KB", "10 bytes". */
const sizeText = (n: number): string =>
  n >= 1 << 20
    ? `${+(n / (1 << 20)).toFixed(1)} MB`
    : n >= 1024
      ? `${+(n / 1024).toFixed(1)} KB`
      : `${n} bytes`;

function tooLarge(file: string, as: BoundedReadAs): FileReadError {
  return new FileReadError(
    file,
    `is larger than ${sizeText(as.maxBytes)}: too large for ${article(as.what)}`,
  );
}

/** An open or stat error (ENOENT, EACCES, ELOOP ...) as one sentence. */
function unreadable(file: string, as: ReadAs, e: unknown): FileReadError {
  const why = reason(e);
  return new FileReadError(file, `cannot be read: ${why}`, `cannot read the ${as.what} ${file}: ${why}`);
}

/**
 * Why `file` could not be read as `as.what`, found without opening it (for a check ahead of the
 * read, such as an inventory's): the predicate ("is a FIFO (named pipe), not a trust store"), or
 * undefined for a regular file, /dev/null, or a path that cannot be looked at (the read says why).
 */
export function notRegularFile(file: string, as: ReadAs): string | undefined {
  try {
    checkType(file, statSync(file), as);
  } catch (e) {
    if (e instanceof FileReadError) return e.predicate;
  }
  return undefined;
}

/**
 * Opens `file` for reading once it is known to be a regular file (or /dev/null): returns the
 * descriptor and its stats. Throws FileReadError (a UserError) for anything else, or when it cannot
 * be opened. The caller closes the descriptor.
 */
export function openRegularFileSync(file: string, as: ReadAs): { fd: number; stats: Stats } {
  try {
    checkType(file, statSync(file), as);
  } catch (e) {
    throw e instanceof FileReadError ? e : unreadable(file, as, e);
  }
  let fd;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch (e) {
    throw unreadable(file, as, e);
  }
  try {
    const stats = fstatSync(fd);
    checkType(file, stats, as);
    return { fd, stats };
  } catch (e) {
    closeSync(fd);
    throw e instanceof FileReadError ? e : unreadable(file, as, e);
  }
}

/**
 * The bytes of the regular file `file` (/dev/null: none), at most `as.maxBytes` of them. Throws
 * FileReadError (a UserError, one sentence naming the file and what it was expected to be) for a
 * folder, FIFO, socket or device, a file larger than the bound, or one that cannot be opened.
 */
export function readRegularFileSync(file: string, as: BoundedReadAs): Buffer {
  const { fd, stats } = openRegularFileSync(file, as);
  try {
    if (stats.size > as.maxBytes) throw tooLarge(file, as);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      // The file may grow while it is read: never more than the bound, and one byte to tell.
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, as.maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > as.maxBytes) throw tooLarge(file, as);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw e instanceof FileReadError ? e : unreadable(file, as, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * As openRegularFileSync, without blocking the event loop: a FileHandle on a regular file (or
 * /dev/null) and its stats, for a caller that streams the file (scan reads gigabytes) and bounds what
 * it keeps itself. Throws FileReadError. The caller closes the handle.
 */
export async function openRegularFile(
  file: string,
  as: ReadAs,
): Promise<{ handle: FileHandle; stats: Stats }> {
  try {
    checkType(file, await stat(file), as);
  } catch (e) {
    throw e instanceof FileReadError ? e : unreadable(file, as, e);
  }
  let handle;
  try {
    handle = await open(file, READ_FLAGS);
  } catch (e) {
    throw unreadable(file, as, e);
  }
  try {
    const stats = await handle.stat();
    checkType(file, stats, as);
    return { handle, stats };
  } catch (e) {
    await handle.close();
    throw e instanceof FileReadError ? e : unreadable(file, as, e);
  }
}

/** As readRegularFileSync, without blocking the event loop. */
export async function readRegularFile(file: string, as: BoundedReadAs): Promise<Buffer> {
  const { handle, stats } = await openRegularFile(file, as);
  try {
    if (stats.size > as.maxBytes) throw tooLarge(file, as);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, as.maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > as.maxBytes) throw tooLarge(file, as);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw e instanceof FileReadError ? e : unreadable(file, as, e);
  } finally {
    await handle.close();
  }
}
