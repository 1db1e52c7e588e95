// Bundles the CLI and the library into dist/ (one file per entry, lazy chunks for what only some
// commands need), so that a cold `linkdoctor diagnose` does not resolve and load dozens of modules;
// then warms the knowledge-base cache.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

rmSync('dist', { recursive: true, force: true });

const REQUIRE_BANNER =
  "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/**
 * commander requires node:child_process when it loads, for executable subcommands linkdoctor does
 * not have; loading it (with net, dgram and the socket list) cost 6 M instructions of every cold
 * start, ~1% of a `diagnose` (callgrind, session 13). Its one use, spawn, is handed over on first call.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-child-process' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = { spawn: (...args) => require('node:child_process').spawn(...args) };",
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: {
    main: 'src/cli/main.ts',
    index: 'src/index.ts',
    'scan-worker': 'src/scan/worker.ts',
    'probe-worker': 'src/watch/probe-worker.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Whitespace and syntax minified, names kept: V8 pre-parses every byte a cold start loads.
  minifyWhitespace: true,
  minifySyntax: true,
  chunkNames: 'chunks/[name]-[hash]',
  // Resolved from node_modules at run time: yaml and zod load only to validate entries (kb lint, a
  // cache miss); ssh2 carries an optional native addon that a bundle cannot hold, better-sqlite3 a
  // native one.
  external: ['yaml', 'zod', 'ssh2', 'cpu-features', 'better-sqlite3'],
  // commander and other CommonJS packages call require(): give the ESM bundle one.
  banner: { js: REQUIRE_BANNER },
  plugins: [lazyChildProcess],
  logLevel: 'warning',
});
chmodSync('dist/main.js', 0o755);

// esbuild puts the banner in every output file, yet 3 of ~70 use require. Each createRequire costs
// a cold start the module's file-URL-to-path work: 13 calls on `diagnose`'s path, enough that V8
// optimised Node's getPathFromURLPosix (~10 M instructions, 1.4%) once the install path is 7
// characters longer than /work/x (callgrind, session 13). Files that never name require lose it;
// the line stays, so their source maps hold.
for (const file of readdirSync('dist', { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.js')) continue;
  const path = join('dist', file);
  const code = readFileSync(path, 'utf8');
  if (code.includes(REQUIRE_BANNER) && !/\brequire\b/.test(code.replace(REQUIRE_BANNER, '')))
    writeFileSync(path, code.replace(REQUIRE_BANNER, ''));
}

// The web UI (web/, served by `linkdoctor serve` from dist/ui): one browser bundle with UI5 Web
// Components, its CSS and the 72 fonts as files of its own; nothing loads from another host.
await build({
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
