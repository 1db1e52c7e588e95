// Shared by the tests: run the built CLI as a user would, and find the team's shared folder.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const SHARED = resolve(ROOT, '..', 'shared');
export const CORPUS = join(SHARED, 'corpus', 'dev.jsonl');
export const hasCorpus = existsSync(CORPUS);

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { input?: string | Buffer; env?: Record<string, string>; timeout?: number } = {},
): Run {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...opts.env };
  if (!opts.env?.FORCE_COLOR) delete env.FORCE_COLOR;
  const p = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.input ?? '',
    encoding: 'utf8',
    timeout: opts.timeout ?? 30_000,
    maxBuffer: 64 * 1024 * 1024,
    env,
  });
  if (p.error) throw p.error;
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}
