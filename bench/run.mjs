// Runs every benchmark of bench/ in turn (npm run bench). Each prints its own figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
let failed = 0;
for (const f of readdirSync(here)
  .filter((n) => n.endsWith('.bench.mjs'))
  .sort()) {
  console.log(`\n== ${f}`);
  const r = spawnSync(process.execPath, [here + f], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
