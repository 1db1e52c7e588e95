// The JSON form of a diagnosis: `{"diagnoses": [...], "signals": [...], ...}`, diagnoses best first.
import type { DiagnoseResult } from '../types.js';

export function diagnoseJson(result: DiagnoseResult): object {
  return {
    diagnoses: result.diagnoses.map((d) => ({
      id: d.id,
      title: d.title,
      direction: d.direction,
      confidence: d.confidence,
      ...(d.cause ? { cause: d.cause } : {}),
      evidence: d.evidence,
      facts: d.facts,
      fixes: d.fixes,
      references: d.references,
      ...(d.seed !== undefined ? { seed: d.seed } : {}),
      summary: d.summary,
      causes: d.causes,
      checks: d.checks,
    })),
    signals: result.signals,
    facts: result.facts,
    direction: result.direction,
  };
}
