// Replacing a file the user named (a trust store, a known_hosts file, the knowledge-base cache) so
// that the write cannot be turned against them: a symlink is written through to its target (a JDK's
// cacerts is one), a file with several hard links is written in place after a backup (every name
// sees the new content), the temporary file is created exclusively under a random name (a symlink
// planted at a guessable name is never followed), and it never outlives a failed write. A file the
// caller could not write with keytool or ssh (read-only, another user's) is refused, not replaced.
// Writers of one file take turns under FILE.lock, or a lock named after its inode for a file with
// several names (withFileLock).
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  unlinkSync,
  type Stats,
} from 'node:fs';
import { link, lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from './errors.js';
import { reason } from './fs-read.js';

/** `.NAME.linkdoctor-PID-RANDOM.tmp`: hidden, and it names the process that made it. */
const TMP_NAME = /^\.(.+)\.linkdoctor-(\d+)-[0-9a-f]+\.tmp$/;

function tmpNameFor(file: string): string {
  return join(
    dirname(file),
    `.${basename(file)}.linkdoctor-${process.pid}-${randomBytes(8).toString('hex')}.tmp`,
  );
}

/**
 * The file a write to `file` must replace: `file` itself, or the final target of a symlink (so the
 * link stays a link and its target gets the new content). A broken link, or something that is not a
 * regular file (a directory, a device, a FIFO), is refused with a sentence.
 */
export function writeTarget(file: string): { target: string; exists: boolean } {
  let link;
  try {
    link = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { target: file, exists: false };
    throw new UserError(`cannot write ${file}: ${reason(e)}`);
  }
  let target = file;
  if (link.isSymbolicLink()) {
    try {
      target = realpathSync(file);
    } catch (e) {
      throw new UserError(
        `${file} is a symbolic link to a file that does not exist or cannot be reached (${(e as NodeJS.ErrnoException).code}); nothing written`,
      );
    }
  }
  if (!statSync(target).isFile())
    throw new UserError(
      `${file} is not a regular file${target !== file ? ` (it links to ${target})` : ''}; nothing written`,
    );
  refuseUnwritable(file, target);
  return { target, exists: true };
}

/** The name of user `uid` in /etc/passwd, else `uid N`. */
function userName(uid: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0]!;
  } catch {
    // no /etc/passwd (Windows, a minimal container): the number says it
  }
  return `uid ${uid}`;
}

/**
 * Refuses an existing `target` (reached through `file`) that the caller could not write with ssh,
 * keytool or `>>`, before anything is written: access(W_OK) fails (a read-only file, another user's
 * 0644), or the file has no write bit for its owner (root passes access(), but a 0444 store is
 * write-protected on purpose). A file of another user that the caller may write (group- or
 * world-writable) is refused too unless the caller is root: the rename that replaces it would make
 * it the caller's, and a user who can write a shared folder could so take over a root-owned store.
 * Throws a UserError: "FILE is not writable by you (mode 0444, owner root): nothing written".
 */
function refuseUnwritable(file: string, target: string): void {
  const st = statSync(target);
  const how = `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${userName(st.uid)}`;
  let writable = (st.mode & 0o200) !== 0;
  if (writable)
    try {
      accessSync(target, constants.W_OK);
    } catch {
      writable = false;
    }
  if (!writable) throw new UserError(`${file} is not writable by you (${how}): nothing written`);
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && st.uid !== uid)
    throw new UserError(
      `${file} belongs to ${userName(st.uid)}, not you (${how}): writing it would replace it with a file of yours; nothing written`,
    );
}

/**
 * Removes temporary files of earlier linkdoctor runs beside `file` that were killed mid-write (kill -9,
 * a power cut): only regular files this user owns whose process is gone. A planted symlink or another
 * user's file is left alone.
 */
function removeStaleTmp(file: string): void {
  const dir = dirname(file);
  const name = basename(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = TMP_NAME.exec(n);
    if (!m || m[1] !== name || Number(m[2]) === process.pid || isAlive(Number(m[2]))) continue;
    try {
      const st = lstatSync(join(dir, n));
      if (st.isFile() && st.uid === process.getuid?.()) unlinkSync(join(dir, n));
    } catch {
      // gone already, or not ours to remove
    }
  }
}

/** Whether process `pid` runs (signal 0 tests it; EPERM: it runs, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `data` to a new temporary file beside `target` (O_CREAT|O_EXCL|O_NOFOLLOW, random name) with
 * `mode` and, when given, `owner`, flushes it to disk and renames it over `target`, which is replaced
 * whatever it is (a symlink at `target` is replaced, not followed). The temporary file never outlives
 * a failure; errors are one sentence about `file` (a UserError).
 */
async function replaceByRename(
  file: string,
  target: string,
  data: string | Buffer,
  mode: number,
  owner?: { uid: number; gid: number },
): Promise<void> {
  removeStaleTmp(target);
  const tmp = tmpNameFor(target);
  let handle;
  try {
    handle = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (e) {
    throw new UserError(
      `cannot write ${file}: cannot create a temporary file in ${dirname(target)}: ${reason(e)}`,
      { cause: e },
    );
  }
  try {
    try {
      // Keep the store's owner when root writes another user's file; only root may, so EPERM is fine.
      if (owner && (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.()))
        await handle.chown(owner.uid, owner.gid).catch(() => undefined);
      // After chown, which clears set-id bits; and not through open(), which the umask would narrow.
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e instanceof UserError
      ? e
      : new UserError(`cannot write ${file}: ${reason(e)}; the file is unchanged`, { cause: e });
  }
}

/**
 * A file with more than one name (hard links: a JKS that two paths share, a known_hosts linked into
 * ~/.ssh) is written in place, so that every name sees the new content: renaming a new file over one
 * name would leave the others silently holding the old content. keytool does the same (it writes a
 * keystore through the path it was given) and so does ssh (it appends to known_hosts in place).
 * Refusing was the other choice, but it would leave a shared store no way to be updated with
 * linkdoctor at all. Writing in place is not atomic, so the former content is first saved, atomically
 * and flushed, as FILE.bak (its mode and owner), and a failed write says where it is.
 */
async function writeInPlace(
  file: string,
  target: string,
  data: string | Buffer,
  original: Stats,
): Promise<void> {
  const backup = `${target}.bak`;
  let before: Buffer;
  try {
    before = await readFile(target);
    await replaceByRename(backup, backup, before, original.mode & 0o7777, original);
  } catch (e) {
    throw new UserError(
      `cannot write ${file}: it has ${original.nlink} names (hard links), so it is written in place, and backing it up to ${backup} failed: ${reason((e as Error).cause ?? e)}; nothing written`,
    );
  }
  let handle;
  try {
    handle = await open(target, constants.O_WRONLY | constants.O_NOFOLLOW);
  } catch (e) {
    throw new UserError(`cannot write ${file}: ${reason(e)}; the file is unchanged`);
  }
  /** All of `bytes` at the start of the file, the rest cut off (a write may be short). */
  const put = async (bytes: Buffer) => {
    for (let done = 0; done < bytes.length;) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, done);
      done += bytesWritten;
    }
    await handle.truncate(bytes.length);
    await handle.sync();
  };
  try {
    await put(typeof data === 'string' ? Buffer.from(data) : data);
  } catch (e) {
    // The former content fits where it was (a full disk, a size limit): put it back.
    const restored = await put(before).then(
      () => true,
      () => false,
    );
    throw new UserError(
      `cannot write ${file}: ${reason(e)}; ${restored ? `the file is unchanged (its former content is also in ${backup})` : `it may be damaged: its former content is in ${backup}`}`,
    );
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Replaces `file` with `data` atomically: the data goes to a new temporary file beside the target
 * (O_CREAT|O_EXCL|O_NOFOLLOW, random name, the original's mode and owner, or `mode` for a new file),
 * is flushed to disk, and is renamed over the target; a crash never leaves half a file. A symlink is
 * written through to its target. A file with several hard links is written in place instead, after
 * a backup FILE.bak (writeInPlace says why). When anything fails the temporary file is removed and
 * the error is one sentence (a UserError). Returns the path that was written (the link's target for
 * a link).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Buffer,
  opts: { mode?: number } = {},
): Promise<string> {
  const { target, exists } = writeTarget(file);
  const original = exists ? statSync(target) : undefined;
  if (original && original.nlink > 1) await writeInPlace(file, target, data, original);
  else
    await replaceByRename(
      file,
      target,
      data,
      original ? original.mode & 0o7777 : (opts.mode ?? 0o600),
      original,
    );
  return target;
}

/** How long withFileLock waits for another process's lock before it gives up (ms). */
export const LOCK_WAIT_MS = 10_000;

/** A lock file that holds no pid yet this long after it was made is a crashed writer's (ms). */
const EMPTY_LOCK_GRACE_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The lock file for `file`: FILE.lock beside the file a write replaces (a symlink's target); for a
 * file with several names (hard links, written in place) a lock named after the file itself, its
 * device and inode, in the temporary folder: `linkdoctor-DEV-INO.lock`. Two writers through two
 * names of one file must take the same lock, and the names may be in different folders, so no name
 * beside either one will do. Re-reading the file under a per-name lock and redoing the write when it
 * changed was the other choice, but it is not sound: both writers can re-read before either writes.
 * A file with one name keeps FILE.lock, because its rename gives it a new inode each time.
 */
export function lockFileFor(file: string): string {
  const { target, exists } = writeTarget(file);
  const st = exists ? statSync(target) : undefined;
  if (st && st.nlink > 1) return join(tmpdir(), `linkdoctor-${st.dev}-${st.ino}.lock`);
  return `${target}.lock`;
}

/** What a lock file says: the pid of its holder (undefined: none yet, or not a pid), and its inode. */
async function readLock(
  lockFile: string,
): Promise<{ pid?: number; ino: number; dev: number; mtimeMs: number }> {
  // O_NOFOLLOW: a symlink planted at FILE.lock is never read through (ELOOP: treated as held).
  const handle = await open(lockFile, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = await handle.stat();
    const text = (await handle.readFile({ encoding: 'utf8' })).slice(0, 32).trim();
    const pid = /^\d{1,10}$/.test(text) ? Number(text) : undefined;
    return { ...(pid ? { pid } : {}), ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Moves a stale lock (its process is gone) out of the way. Renaming it aside is atomic, so of two
 * processes that found the same stale lock only one moves it; and when the file moved is no longer
 * the stale one (another process took the lock over in between) it is linked back (link never
 * replaces a lock made meanwhile).
 */
async function removeStaleLock(lockFile: string, stale: { ino: number; dev: number }): Promise<void> {
  const aside = `${lockFile}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockFile, aside);
  } catch (e) {
    // Gone already: another process took it over, or its holder finished.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    // Another user's lock in a sticky folder (/tmp), or a folder this user may not write: trying
    // again would spin for ever.
    throw e;
  }
  const moved = await lstat(aside).catch(() => undefined);
  if (moved && (moved.ino !== stale.ino || moved.dev !== stale.dev))
    await link(aside, lockFile).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/**
 * Runs `fn` (a read-modify-write of `file`) while this process holds the exclusive lock FILE.lock, so
 * that two linkdoctor processes adding to one trust store or known_hosts file never both read the
 * old file and the second rename drops the first one's addition. The lock is a file created with
 * O_EXCL holding this process's pid, removed when `fn` settles; a lock whose process is gone (killed
 * mid-write) is taken over. Another live process's lock is waited for with a growing pause, at most
 * `waitMs` (10 s), then a UserError names it: "FILE is locked by process N (FILE.lock); ...".
 * A symlink is locked at its target (FILE.lock beside the file a write replaces), a file with
 * several hard links by its inode (lockFileFor).
 *
 * proper-lockfile (npm) was weighed: its lock is a directory whose mtime it refreshes on a timer,
 * stale after 10 s without a refresh; it records no pid (so the sentence cannot name the holder, and
 * a process killed with -9 blocks the file for the stale time), a blocked event loop (node-forge
 * derives PKCS#12 keys synchronously) can make a live lock look stale, and a lock it finds lost is
 * thrown from a timer by default (a crash with a stack trace); it also needs the file to exist (a
 * new store does not). An O_EXCL lock file is git's index.lock; the pid in it names the holder and
 * lets a dead holder's lock be taken over at once.
 */
export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  opts: { waitMs?: number } = {},
): Promise<T> {
  const lockFile = lockFileFor(file);
  const deadline = Date.now() + (opts.waitMs ?? LOCK_WAIT_MS);
  let pause = 20;
  let mine: { ino: number; dev: number } | undefined;
  while (!mine) {
    try {
      const handle = await open(
        lockFile,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      try {
        await handle.writeFile(`${process.pid}\n`);
        const st = await handle.stat();
        mine = { ino: st.ino, dev: st.dev };
      } finally {
        await handle.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new UserError(`cannot lock ${file}: cannot create ${lockFile}: ${reason(e)}; nothing written`);
    }
    const held = await readLock(lockFile).catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? undefined : { pid: undefined, ino: -1, dev: -1, mtimeMs: Date.now() },
    );
    if (!held) continue; // released in between: try again at once
    // This process's own pid: a lock left by an earlier process that had the same pid (a container
    // starts its command with the same pid every time); this process never nests its locks.
    const stale =
      held.pid !== undefined
        ? held.pid === process.pid || !isAlive(held.pid)
        : held.ino !== -1 && Date.now() - held.mtimeMs > EMPTY_LOCK_GRACE_MS;
    if (stale) {
      try {
        await removeStaleLock(lockFile, held);
      } catch (e) {
        const who =
          held.pid !== undefined ? `process ${held.pid}, which no longer runs` : 'a process that ended';
        throw new UserError(
          `cannot lock ${file}: ${lockFile} was left by ${who}, and you may not remove it (${reason(e)}); remove it and run this again; nothing written`,
        );
      }
      continue;
    }
    if (Date.now() >= deadline) {
      const who = held.pid !== undefined ? `process ${held.pid}` : 'another process';
      throw new UserError(
        `${file} is locked by ${who} (${lockFile}); wait for it to finish, or remove ${lockFile} if no linkdoctor runs; nothing written`,
      );
    }
    // Jittered, so that waiting processes do not retry in step.
    await sleep(Math.min(pause * (0.5 + Math.random()), Math.max(0, deadline - Date.now())));
    pause = Math.min(pause * 2, 500);
  }
  try {
    return await fn();
  } finally {
    // Removed only while it is still this process's own lock file.
    const now = await lstat(lockFile).catch(() => undefined);
    if (now && now.ino === mine.ino && now.dev === mine.dev) await unlink(lockFile).catch(() => undefined);
  }
}
