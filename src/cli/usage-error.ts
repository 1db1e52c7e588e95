// Commander's usage errors as linkdoctor says every other error: one sentence after "linkdoctor: ".

/**
 * The one sentence for a usage error that commander reported (`message` is a CommanderError's,
 * e.g. "error: unknown command 'prob'\n(Did you mean probe?)"): without commander's "error: ", its
 * own sentences joined with ":", its suggestion kept ("; did you mean probe?"), else a pointer to
 * --help. `argv` (the arguments after the command's name) lets it say why there are too many
 * arguments when one is a variable written after `linkdoctor` (`linkdoctor probe VAR=1 URL`: the
 * shell passes it on as an argument).
 */
export function usageSentence(message: string, argv: string[] = []): string {
  const suggestion = /\n\(Did you mean (.+?)\?\)/.exec(message)?.[1];
  const sentence = message
    .replace(/^error: /, '')
    .replace(/\n\(Did you mean .+?\?\)/, '')
    // "... is invalid. Allowed choices are ..." and "... for 'probe'. Expected 1 argument ...": one sentence.
    .replace(/\.\s+([A-Z])/g, (_all, c: string) => `: ${c.toLowerCase()}`)
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[.\s]+$/, '');
  if (suggestion) return `${sentence}; did you mean ${suggestion}?`;
  const variable = /^too many arguments/.test(sentence)
    ? argv.find((a) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(a))
    : undefined;
  if (variable)
    return `${sentence}; ${variable} is a variable for linkdoctor: write it before the command (${variable} linkdoctor ...)`;
  return `${sentence} (run with --help for usage)`;
}
