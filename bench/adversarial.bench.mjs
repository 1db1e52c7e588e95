// The worst time per MB of generated adversarial texts (a token a pattern starts on, then a long run
// of what its repetitions consume; see test/adversarial-text.ts): every case at 1 MB through
// `diagnose` in-process, the ten worst again at 4 MB, and the worst 4 MB text through the CLI's
// `diagnose` and `scan` beside GNU grep with the signature list users would write.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { register } from 'tsx/esm/api';

register();
const root = new URL('..', import.meta.url).pathname;
const { adversarialTexts } = await import(join(root, 'test', 'adversarial-text.ts'));
const { loadKb, diagnose } = await import(join(root, 'dist', 'index.js'));
const kb = await loadKb();
const MB = 1024 * 1024;

function worst(bytes, only) {
  const rows = [];
  for (const [name, text] of adversarialTexts(bytes)) {
    if (only && !only.has(name.replace(/× \d+/, ''))) continue;
    const t = performance.now();
    diagnose(kb, { text });
    rows.push({ name, ms: performance.now() - t, text });
  }
  return rows.sort((a, b) => b.ms - a.ms);
}

const one = worst(MB);
console.log(
  `diagnose, ${one.length} adversarial texts of 1 MB: worst ${one[0].ms.toFixed(0)} ms/MB (${one[0].name}), median ${one[Math.floor(one.length / 2)].ms.toFixed(0)} ms`,
);
const four = worst(4 * MB, new Set(one.slice(0, 10).map((r) => r.name.replace(/× \d+/, ''))));
console.log(
  `diagnose, the 10 worst at 4 MB: worst ${four[0].ms.toFixed(0)} ms (${(four[0].ms / 4).toFixed(0)} ms/MB; ${four[0].name})`,
);

const dir = mkdtempSync(join(tmpdir(), 'linkdoctor-adversarial-'));
try {
  const file = join(dir, 'worst.log');
  writeFileSync(file, four[0].text);
  const cli = join(root, 'dist', 'main.js');
  const run = (cmd, args) => {
    const t = performance.now();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'], timeout: 120_000 });
    return `${((performance.now() - t) / 1000).toFixed(2)} s${r.error ? ` (${r.error.code})` : ''}`;
  };
  console.log(`the worst 4 MB text, whole processes:`);
  console.log(
    `  linkdoctor diagnose --file   ${run(process.execPath, [cli, 'diagnose', '--json', '--file', file])}`,
  );
  console.log(
    `  linkdoctor scan --jsonl      ${run(process.execPath, [cli, 'scan', '--jsonl', '--no-progress', file])}`,
  );
  const signatures = join(root, '..', 'shared', 'bench', 'signatures.txt');
  console.log(`  grep -c -E -f signatures.txt ${run('grep', ['-c', '-E', '-f', signatures, file])}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
