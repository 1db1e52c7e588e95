// The library: the same pipeline the CLI runs (readers and probes → signals → matcher → diagnoses → reports).
export { loadKb, BUILTIN_KB, PACKAGE_ROOT, KbError, type Kb } from './kb/load.js';
export { lintKb } from './kb/lint.js';
export { diagnose, MIN_CONFIDENCE, type Incident } from './diagnose/match.js';
export { extractSignals, factsOf } from './diagnose/signals.js';
export { readIncident, decodeIncident } from './diagnose/input.js';
export { diagnoseJson } from './report/json.js';
export { strongLiterals } from './scan/run.js';
export * from './types.js';
export { probe, type ProbeOptions } from './probe/run.js';
export { loadInventory, parseInventory, type Inventory } from './watch/inventory.js';
export { exporterRoutes, type ExporterContext } from './watch/exporter.js';
export { ProbePool, defaultProbeWorkers } from './watch/probe-pool.js';
export { Watcher } from './watch/watcher.js';
