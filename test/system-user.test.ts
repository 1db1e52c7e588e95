// The system user of the password-login tests (addSystemUser in test/helpers.ts) does not outlive
// its test: removed when the process ends, when it is interrupted (SIGINT, SIGTERM), and, once it was
// killed with SIGKILL (nothing runs then), by the next test run that makes one.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeOrphanedTestUsers, ROOT } from './helpers.js';

const why =
  process.getuid?.() !== 0
    ? 'making a system user needs root (CI runs the tests as root)'
    : !existsSync('/usr/sbin/useradd') || !existsSync('/usr/sbin/chpasswd')
      ? 'useradd/chpasswd are not installed (passwd package)'
      : undefined;

const exists = (name: string) => spawnSync('id', [name]).status === 0;

/** A process that makes a test user, prints its name, and waits to be stopped. */
function holder(): Promise<{ name: string; child: ReturnType<typeof spawn> }> {
  const script = `import { addSystemUser } from ${JSON.stringify(join(ROOT, 'test', 'helpers.ts'))};
addSystemUser('/nonexistent', 'not-a-real-password');
setInterval(() => undefined, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const hang = setTimeout(() => reject(new Error(`no user made: ${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const name = /created the system user (ldtest[0-9a-f]+)/.exec(out)?.[1];
      if (name) {
        clearTimeout(hang);
        resolve({ name, child });
      }
    });
    child.once('exit', () => (clearTimeout(hang), reject(new Error(`exited: ${out}`))));
  });
}

const ended = (child: ReturnType<typeof spawn>) =>
  new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  test(
    `a test process stopped with ${signal} removes its system user, then ends by that signal`,
    { skip: why },
    async () => {
      const { name, child } = await holder();
      assert.ok(exists(name), `${name} was made`);
      const end = ended(child);
      child.kill(signal);
      assert.equal(await end, signal);
      assert.ok(!exists(name), `${name} is left behind`);
    },
  );

test(
  'a user whose process was killed with SIGKILL is removed by the next run (removeOrphanedTestUsers)',
  { skip: why },
  async () => {
    const { name, child } = await holder();
    const end = ended(child);
    child.kill('SIGKILL');
    await end;
    assert.ok(exists(name), 'nothing can run on SIGKILL: the user stays until the next run');
    assert.ok(removeOrphanedTestUsers().includes(name));
    assert.ok(!exists(name), `${name} is left behind`);
  },
);

test("a user of a process that still runs is not removed (another test run's)", { skip: why }, async () => {
  const { name, child } = await holder();
  try {
    assert.ok(!removeOrphanedTestUsers().includes(name));
    assert.ok(exists(name));
  } finally {
    const end = ended(child);
    child.kill('SIGTERM');
    await end;
  }
  assert.ok(!exists(name));
});
