// Bundles the CLI and the library into dist/ (rolldown), so that a cold `linkdoctor diagnose` loads
// five files; then builds the web UI (esbuild) and warms the knowledge-base cache.
import { build as buildUi } from 'esbuild';
import { rolldown } from 'rolldown';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

rmSync('dist', { recursive: true, force: true });

/** Resolved from node_modules at run time: yaml and zod load only to validate entries (kb lint, a
 * cache miss); ssh2 carries an optional native addon that a bundle cannot hold, better-sqlite3 a native one. */
const EXTERNAL_PACKAGES = new Set(['yaml', 'zod', 'ssh2', 'cpu-features', 'better-sqlite3']);
const COMMANDER = /[\\/]node_modules[\\/]commander[\\/]/;
const LAZY_CHILD_PROCESS = '\0lazy-child-process';

/**
 * commander requires node:child_process when it loads, for executable subcommands linkdoctor does
 * not have; loading it (with net, dgram and the socket list) cost 6 M instructions of every cold
 * start, ~1% of a `diagnose` (callgrind, session 13). Its one use, spawn, is handed over on first call.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  resolveId: (source, importer) =>
    source === 'node:child_process' && COMMANDER.test(importer ?? '') ? LAZY_CHILD_PROCESS : null,
  load: (id) =>
    id === LAZY_CHILD_PROCESS
      ? {
          code: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
          moduleType: 'js',
        }
      : null,
};

/** The modules `root` imports statically, itself included, directly or not (ids as the bundler gives them). */
function staticClosure(ctx, root) {
  const seen = new Set();
  for (const stack = [root]; stack.length > 0;) {
    const id = stack.pop();
    const info = seen.has(id) ? null : ctx.getModuleInfo(id);
    if (!info) continue;
    seen.add(id);
    stack.push(...info.importedIds);
  }
  return seen;
}

/**
 * Two chunks by hand, the rest as the bundler splits it: `cli` (what main.ts loads for every
 * command: commander, the flag parsers, errors) and `diagnose-core` (what `diagnose` loads besides:
 * readers, signals, matcher, knowledge base, reports). Split by which entries share a module, the
 * same code made 16 files on diagnose's path; each file costs Node's ESM loader a resolution and a
 * file-URL-to-path conversion per import, and with that many V8 optimises Node's
 * getPathFromURLPosix once the install path is long. Five files: 692 M instructions instead of 734
 * for a cold `diagnose` under /usr/local/lib/node_modules, 691 instead of 708 under /work/c/xx
 * (callgrind, session 14). Every other command that uses the pipeline loads diagnose-core whole.
 */
function chunkName(id, ctx) {
  chunkName.sets ??= {
    cli: staticClosure(ctx, resolve('src/cli/main.ts')),
    'diagnose-core': staticClosure(ctx, resolve('src/cli/diagnose.ts')),
  };
  if (ctx.getModuleInfo(id)?.isEntry) return null;
  for (const [name, set] of Object.entries(chunkName.sets)) if (set.has(id)) return name;
  return null;
}

const bundle = await rolldown({
  input: {
    main: 'src/cli/main.ts',
    index: 'src/index.ts',
    'scan-worker': 'src/scan/worker.ts',
    'probe-worker': 'src/watch/probe-worker.ts',
  },
  platform: 'node',
  external: (id, importer) =>
    EXTERNAL_PACKAGES.has(id) ||
    (id.startsWith('node:') && !(id === 'node:child_process' && COMMANDER.test(importer ?? ''))),
  // The sources import each other as ./x.js, as Node resolves the emitted files.
  resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
  plugins: [lazyChildProcess],
  logLevel: 'warn',
});
await bundle.write({
  dir: 'dist',
  format: 'esm',
  sourcemap: true,
  // Whitespace and syntax minified, names kept: V8 pre-parses every byte a cold start loads.
  minify: { compress: true, mangle: false, codegen: { removeWhitespace: true } },
  chunkFileNames: 'chunks/[name]-[hash].js',
  // Top-level const and let as var, as esbuild emitted them: V8 checks the temporal dead zone on
  // every read of a module-level const from a function, and scan's loops read such tables per line
  // (with them, scan --jsonl of a 4 MB log took 5317 M instructions instead of 4714; callgrind,
  // node --single-threaded, session 14).
  topLevelVar: true,
  codeSplitting: { groups: [{ name: chunkName, debugName: 'cli and diagnose-core' }] },
});
await bundle.close();
chmodSync('dist/main.js', 0o755);

// The web UI (web/, served by `linkdoctor serve` from dist/ui): one browser bundle with UI5 Web
// Components, its CSS and the 72 fonts as files of its own; nothing loads from another host.
await buildUi({
  entryPoints: [
    { in: 'web/app.ts', out: 'app' },
    { in: 'web/app.css', out: 'app' },
  ],
  outdir: 'dist/ui',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome120',
  minify: true,
  loader: { '.woff2': 'file' },
  assetNames: 'assets/[name]-[hash]',
  publicPath: '/ui',
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync('web/index.html', 'dist/ui/index.html');
copyFileSync('web/favicon.svg', 'dist/ui/favicon.svg');
execFileSync(process.execPath, ['dist/main.js', 'kb', 'list'], { stdio: ['ignore', 'ignore', 'inherit'] });
