// linkdoctor scan: finds, diagnoses and groups the incidents of logs, MPL exports and HAR files.
// Exit codes: 0 nothing found, 1 incidents found, 2 usage error or an input that could not be read
// (or was read only in part: a truncated export).
import { UserError } from '../errors.js';
import { loadKb } from '../kb/load.js';
import { jsonText, printable } from '../report/printable.js';
import { colorsFor } from '../report/text.js';
import { incidentJson, problemSink, renderScan, scanJson, scanMarkdown } from '../report/scan.js';
import type { Format } from '../scan/input.js';
import { ProgressBar } from '../scan/progress.js';
import { scan } from '../scan/run.js';
import { fitText } from '../report/width.js';
import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what the last full collection left, in percent. A
 * scan makes garbage fast and keeps little (a 1 GB log: 27-31 MB live at any time), and by default
 * V8 let the old generation reach 85-90 MB of mostly garbage before it collected: 202-206 MB peak
 * RSS. At 1.5 times, the same scan of 200 MB peaked at 135 MB against 158 MB, at the same CPU time.
 */
const SCAN_HEAP_GROWING_PERCENT = 50;

export async function scanCommand(
  files: string[],
  opts: {
    format?: Format;
    json?: boolean;
    jsonl?: boolean;
    markdown?: boolean;
    progress: boolean;
    kb?: string[];
  },
): Promise<void> {
  if ([opts.json, opts.jsonl, opts.markdown].filter(Boolean).length > 1)
    throw new UserError('choose one of --json, --jsonl and --markdown');
  if (!files.length && process.stdin.isTTY)
    throw new UserError('give the files to scan, or pipe a log into standard input (see --help)');
  const kb = await loadKb({ dirs: opts.kb ?? [] });
  // For this process only (a CLI run is one command); read by V8 at each full collection.
  setFlagsFromString(`--heap-growing-percent=${SCAN_HEAP_GROWING_PERCENT}`);
  const stdout = process.stdout;
  const stderr = process.stderr;
  const bar = opts.progress !== false && stderr.isTTY ? new ProgressBar(stderr) : undefined;
  // --jsonl lines are written together, up to 64 KB at a time, and at the latest when the scan
  // waits for input (a write per line cost 0.3 s of 4 on a 200 MB log with 13,000 incidents).
  let lines = '';
  let later: NodeJS.Immediate | undefined;
  const flush = (): boolean => {
    if (later) clearImmediate(later);
    later = undefined;
    const ok = lines ? stdout.write(lines) : true;
    lines = '';
    return ok;
  };

  /** What --json lists besides the sentences on standard error. */
  const { problems, onProblem } = problemSink(!!opts.json, () => bar?.clear());
  const result = await scan(kb, {
    files,
    threads: true,
    stdin: process.stdin,
    ...(opts.format ? { format: opts.format } : {}),
    ...(bar ? { onProgress: (p) => bar.update(p) } : {}),
    onProblem,
    ...(opts.jsonl
      ? {
          // One line per incident as it is found; wait when the reader of the output is slower.
          onIncident: (inc) => {
            lines += `${jsonText(incidentJson(inc))}\n`;
            if (lines.length < 1 << 16) later ??= setImmediate(flush);
            else if (!flush()) return new Promise<void>((done) => stdout.once('drain', done));
          },
        }
      : {}),
  }).finally(flush);
  bar?.clear();
  for (const note of result.prefilter.notes) stderr.write(`linkdoctor: note: ${printable(note)}\n`);
  if (opts.json) stdout.write(`${jsonText(scanJson(result, kb, problems), 2)}\n`);
  else if (opts.markdown) stdout.write(scanMarkdown(result, kb));
  else if (!opts.jsonl) stdout.write(fitText(renderScan(result, kb, colorsFor(stdout))));
  // An input read only in part (a truncated export) makes the result incomplete: exit 2, as unreadable.
  process.exitCode = result.unreadable || result.incomplete ? 2 : result.grouper.incidents ? 1 : 0;
}
