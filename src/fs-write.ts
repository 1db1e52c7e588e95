// Replacing a file the user named (a trust store, a known_hosts file, the knowledge-base cache) so
// that the write cannot be turned against them: a symlink is written through to its target (a JDK's
// cacerts is one), the temporary file is created exclusively under a random name (a symlink planted
// at a guessable name is never followed), and it never outlives a failed write.
import { randomBytes } from 'node:crypto';
import { constants, lstatSync, readdirSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from './errors.js';

/** `.NAME.linkdoctor-PID-RANDOM.tmp`: hidden, and it names the process that made it. */
const TMP_NAME = /^\.(.+)\.linkdoctor-(\d+)-[0-9a-f]+\.tmp$/;

function tmpNameFor(file: string): string {
  return join(
    dirname(file),
    `.${basename(file)}.linkdoctor-${process.pid}-${randomBytes(8).toString('hex')}.tmp`,
  );
}

/** An fs error as the end of a sentence: "permission denied (EACCES)". */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text = err.message?.replace(/^[A-Z]+: /, '').replace(/,.*$/, '');
  return err.code ? `${text} (${err.code})` : String(e);
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
  return { target, exists: true };
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
 * Replaces `file` with `data` atomically: the data goes to a new temporary file beside the target
 * (O_CREAT|O_EXCL|O_NOFOLLOW, random name, the original's mode and owner, or `mode` for a new file),
 * is flushed to disk, and is renamed over the target; a crash never leaves half a file. A symlink is
 * written through to its target. When anything fails the temporary file is removed and the error is
 * one sentence (a UserError). Returns the path that was written (the link's target for a link).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Buffer,
  opts: { mode?: number } = {},
): Promise<string> {
  const { target, exists } = writeTarget(file);
  const original = exists ? statSync(target) : undefined;
  const mode = original ? original.mode & 0o7777 : (opts.mode ?? 0o600);
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
    );
  }
  try {
    try {
      // Keep the store's owner when root writes another user's file; only root may, so EPERM is fine.
      if (original && (original.uid !== process.getuid?.() || original.gid !== process.getgid?.()))
        await handle.chown(original.uid, original.gid).catch(() => undefined);
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
      : new UserError(`cannot write ${file}: ${reason(e)}; the file is unchanged`);
  }
  return target;
}
