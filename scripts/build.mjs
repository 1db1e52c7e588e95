// Bundles the CLI and the library into dist/ (one file per entry, lazy chunks for what only some
// commands need), so that a cold `linkdoctor diagnose` does not resolve and load dozens of modules;
// then warms the knowledge-base cache.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  // Resolved from node_modules at run time: yaml and zod load only to validate entries (kb lint, a
  // cache miss); ssh2 carries an optional native addon that a bundle cannot hold, better-sqlite3 a
  // native one.
  external: ['yaml', 'zod', 'ssh2', 'cpu-features', 'better-sqlite3'],
  // commander and other CommonJS packages call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync('dist/main.js', 0o755);
execFileSync(process.execPath, ['dist/main.js', 'kb', 'list'], { stdio: ['ignore', 'ignore', 'inherit'] });
