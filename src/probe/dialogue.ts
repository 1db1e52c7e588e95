// The conversation of a text protocol (SMTP, FTP) as `curl -v` shows it: what the probe sent (`>`)
// and what the server answered (`<`), each line under the probe step it belongs to. Credentials
// never enter it: AUTH commands, the answers to a 334 challenge and PASS are masked here.
import type { DialogueLine } from '../types.js';

/** Lines kept (a real session takes a few dozen); the rest is counted in one last line. */
const MAX_LINES = 300;
/** Characters kept of one line. */
const MAX_CHARS = 400;
/** What a masked credential shows. */
export const MASKED = '(credentials hidden)';

export class Dialogue {
  readonly lines: DialogueLine[] = [];
  /** The step the next lines belong to (each step sets it when it starts). */
  step = '';
  private left = 0;
  /** The server's last reply was a 334 challenge: the client's next line answers it with a secret. */
  private challenged = false;

  /** Puts the lines of each step under its name: the step sets it when it starts. */
  follow(steps: { name: string; run: (signal: AbortSignal) => Promise<unknown> }[]): void {
    for (const step of steps) {
      const own = step.run;
      step.run = (signal) => {
        this.step = step.name;
        return own(signal);
      };
    }
  }

  /** Records one line sent (`>`) or received (`<`); a multi-line reply is split into its lines. */
  add(dir: '>' | '<', text: string): void {
    for (const raw of text.split(/\r?\n/)) {
      if (!raw) continue;
      let line = raw;
      if (dir === '>') {
        if (this.challenged || /^AUTH\s/i.test(line)) line = mask(line, this.challenged);
        if (/^PASS\b/i.test(line)) line = `PASS ${MASKED}`;
        this.challenged = false;
      } else this.challenged = /^334[ -]/.test(line);
      this.push({
        step: this.step,
        dir,
        text: line.length > MAX_CHARS ? `${line.slice(0, MAX_CHARS)}…` : line,
      });
    }
  }

  private push(line: DialogueLine): void {
    if (this.lines.length < MAX_LINES) {
      this.lines.push(line);
      return;
    }
    this.left++;
    const note = { step: this.step, dir: '<' as const, text: `… ${this.left} more lines not kept` };
    if (this.left === 1) this.lines.push(note);
    else this.lines[this.lines.length - 1] = note;
  }
}

/** `AUTH PLAIN dXNlcg...` keeps its mechanism; an answer to a challenge keeps nothing. */
function mask(line: string, answer: boolean): string {
  if (answer) return MASKED;
  const [auth, mechanism, rest] = line.split(/\s+/);
  return rest ? `${auth} ${mechanism} ${MASKED}` : `${auth} ${mechanism ?? ''}`.trim();
}
