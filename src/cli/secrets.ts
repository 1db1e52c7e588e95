// Where secrets come from: an environment variable or a prompt, never the command line.
import { UserError } from '../errors.js';

export function secretFromEnv(name: string, what: string): string {
  const v = process.env[name];
  if (v === undefined) throw new UserError(`the environment variable ${name} (the ${what}) is not set`);
  if (v === '') throw new UserError(`the environment variable ${name} (the ${what}) is set but empty`);
  return v;
}

/** Asks on the terminal without echoing; refuses when there is no terminal to ask on. */
export async function promptSecret(question: string, hint: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY || !process.stderr.isTTY)
    throw new UserError(`no terminal to ask for the ${question} on: ${hint}`);
  process.stderr.write(`${question}: `);
  stdin.setRawMode(true);
  stdin.resume();
  let value = '';
  try {
    for await (const chunk of stdin) {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return value;
        if (ch === '\u0003') throw new UserError('cancelled');
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    }
    return value;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}
