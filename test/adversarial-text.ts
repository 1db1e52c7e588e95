// Generated adversarial texts for the matcher: a token a pattern starts on, followed by a long run
// of what its repetitions consume (blanks, dots, word characters, separators), once or repeated.
// Shared by test/harden-time.test.ts (no input hangs the matcher) and bench/adversarial.bench.mjs.

export const TOKENS = [
  'HTTP',
  '401',
  'status',
  'subject: CN=a',
  'issued by CN=a',
  'a.',
  'HTTP/1.1 ',
  'host ',
  'port ',
  'Caused by: x.Y',
  'error ',
  'sftp',
  'ICM_HTTP_',
  'SSSLERR_',
  'https://a.b/',
  'Unauthorized',
  'certificate ',
  'received fatal alert: ',
  'connect to ',
  'while calling ',
];
export const FILLERS = [' ', '\t', '.', 'a', '-', '=', ':', '\n', 'a ', '1'];

/** Every case of `bytes` characters: [name, text]. */
export function* adversarialTexts(bytes: number): Generator<[string, string]> {
  for (const t of TOKENS)
    for (const f of FILLERS) {
      yield [
        `${JSON.stringify(t)} then ${JSON.stringify(f)} × ${bytes}`,
        t + f.repeat(Math.floor((bytes - t.length) / f.length)) + 'x',
      ];
      const unit = t + f.repeat(20);
      yield [
        `(${JSON.stringify(t)} + 20 × ${JSON.stringify(f)}) repeated`,
        unit.repeat(Math.floor(bytes / unit.length)),
      ];
    }
}
