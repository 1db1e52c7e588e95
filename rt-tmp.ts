import { startLab } from './src/lab/index.js';
import { loadKb } from './src/kb/load.js';
import { probe } from './src/probe/run.js';
import { scenarioOptions } from './src/cli/demo.js';
const lab = await startLab();
const kb = await loadKb();
for (const s of lab.scenarios.filter((x) => x.name.startsWith('tenant-'))) {
  const r = await probe(kb, await scenarioOptions(lab, s));
  const failed = r.steps.find((x) => x.ok === false);
  console.log(s.name, s.expect, s.cause ?? '', '=>', r.diagnoses.slice(0, 3).map((d) => `${d.id}${d.cause ? '/' + d.cause.id : ''}(${d.confidence.toFixed(2)})`).join(' '), '|', failed?.name, failed?.detail.slice(0, 200));
}
await lab.stop();
