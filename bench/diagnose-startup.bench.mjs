// How much a cold `linkdoctor diagnose` costs beyond starting Node, and how long the knowledge base
// takes to load (warm from its JSON cache, and cold from the YAML files) and to match one incident.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'dist', 'main.js');
const { loadKb, diagnose, PACKAGE_ROOT } = await import(join(root, 'dist', 'index.js'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return median(out);
}

// Cold load: no cache, YAML parsed and validated (this also rebuilds the cache).
rmSync(join(PACKAGE_ROOT, 'dist', 'kb.cache.json'), { force: true });
let t = performance.now();
const kb = await loadKb();
const cold = performance.now() - t;
const warm = [];
for (let i = 0; i < 30; i++) {
  t = performance.now();
  await loadKb();
  warm.push(performance.now() - t);
}
const text = `org.apache.cxf.interceptor.Fault: Could not send Message.
Caused by: javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target
	at sun.security.ssl.Alert.createSSLException(Alert.java:131)`;
const match = time(() => diagnose(kb, { text }), 200);

const nodeOnly = time(() => spawnSync(process.execPath, ['-e', '0']), 15);
const cliRun = time(
  () => spawnSync(process.execPath, [cli, 'diagnose', '--json', text], { encoding: 'utf8' }),
  15,
);

console.log(`knowledge base: ${kb.entries.length} entries`);
console.log(`load, cold (YAML + validation):   ${cold.toFixed(1)} ms`);
console.log(`load, warm (JSON cache):          ${median(warm).toFixed(2)} ms (median of 30)`);
console.log(`match one stack trace:            ${match.toFixed(3)} ms (median of 200)`);
console.log(`node -e 0:                        ${nodeOnly.toFixed(1)} ms (median of 15)`);
console.log(
  `linkdoctor diagnose --json:       ${cliRun.toFixed(1)} ms (median of 15), ${(cliRun - nodeOnly).toFixed(1)} ms over Node's start`,
);

// Wall times move with whatever else the machine runs; instruction counts do not (but for a few
// million of Node's own random start-up). With valgrind installed, count them too.
const irOf = (args) => {
  const r = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...args],
    {
      encoding: 'utf8',
    },
  );
  const m = /Collected : (\d+)/.exec(r.stderr ?? '');
  return m ? Number(m[1]) / 1e6 : undefined;
};
const irNode = irOf(['-e', '0']);
const irCli = irNode === undefined ? undefined : irOf([cli, 'diagnose', '--json', text]);
// The terminal report is what most people read: count it too (it once walked the whole entry).
const irText = irNode === undefined ? undefined : irOf([cli, 'diagnose', text]);
if (irNode === undefined || irCli === undefined || irText === undefined)
  console.log('instructions: not counted (valgrind is not installed)');
else
  console.log(
    `instructions (callgrind):         node -e 0 ${irNode.toFixed(0)} M, diagnose --json ${irCli.toFixed(0)} M, ${(irCli - irNode).toFixed(0)} M over Node's start; diagnose (terminal report) ${irText.toFixed(0)} M`,
  );
