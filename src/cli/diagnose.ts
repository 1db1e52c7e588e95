import { readIncident } from '../diagnose/input.js';
import { diagnose } from '../diagnose/match.js';
import { loadKb } from '../kb/load.js';
import { diagnoseJson } from '../report/json.js';
import { jsonText, printable } from '../report/printable.js';
import { colorsFor, renderDiagnose } from '../report/text.js';
import type { Direction } from '../types.js';
import { fitOutput } from '../report/width.js';

export async function diagnoseCommand(
  args: string[],
  opts: { file?: string; json?: boolean; full?: boolean; direction?: Direction; kb?: string[] },
): Promise<void> {
  const input = await readIncident({ args, ...(opts.file ? { file: opts.file } : {}), stdin: process.stdin });
  for (const w of input.warnings) process.stderr.write(`linkdoctor: warning: ${printable(w)}\n`);
  const kb = await loadKb({ dirs: opts.kb ?? [] });
  const result = diagnose(kb, { text: input.text, ...(opts.direction ? { direction: opts.direction } : {}) });
  process.stdout.write(
    opts.json
      ? `${jsonText(diagnoseJson(result), 2)}\n`
      : fitOutput(
          renderDiagnose(result, colorsFor(process.stdout), {
            full: !!opts.full,
            entryOf: (id) => kb.byId.get(id),
          }),
          !!opts.full,
        ),
  );
  process.exitCode = result.diagnoses.length ? 0 : 1;
}
