// Commander's usage errors as linkdoctor says every other error: one sentence after "linkdoctor: ".

/**
 * The one sentence for a usage error that commander reported (`message` is a CommanderError's,
 * e.g. "error: unknown command 'prob'\n(Did you mean probe?)"): without commander's "error: ", its
 * own sentences joined with ":", its suggestion kept ("; did you mean probe?"), else a pointer to
 * --help. `argv` (the arguments after the command's name) lets it say why there are too many
 * arguments when one is a variable written after `linkdoctor` (`linkdoctor probe VAR=1 URL`: the
 * shell passes it on as an argument), and the command to name when a text that starts with "-" (.NET's
 * "---> System.Net.Sockets.SocketException ...", a PEM block) was taken for an option: `--` before
 * it, or standard input.
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
  // Not an option but a text that starts with "-" (words, or three dashes or more): .NET's
  // "---> System.Net...", a PEM block.
  const text = /^unknown option '([^]*)'$/.exec(sentence)?.[1];
  if (text !== undefined && (/\s/.test(text) || text.startsWith('---'))) {
    const command = argv.find((a) => !a.startsWith('-')) ?? 'diagnose';
    const shown = text.length > 40 ? `${text.slice(0, 40).trimEnd()}…` : text;
    return `'${shown}' is a text, not an option: to give a text that starts with "-", put -- before it (linkdoctor ${command} -- "TEXT") or give it on standard input (linkdoctor ${command} -)`;
  }
  const variable = /^too many arguments/.test(sentence)
    ? argv.find((a) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(a))
    : undefined;
  if (variable)
    return `${sentence}; ${variable} is a variable for linkdoctor: write it before the command (${variable} linkdoctor ...)`;
  return `${sentence} (run with --help for usage)`;
}

/** Levenshtein distance, bounded: names and paths are short, and anything beyond `max` is "far". */
export function editDistance(a: string, b: string, max = 64): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate a mistyped name most likely meant, by the rule commander uses for options (at most 3
 * edits, and more than 40% of the longer name alike): "timout" → "timeout". Undefined when none is
 * near, or when two are equally near.
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string[] = [];
  let bestDistance = 4;
  for (const c of new Set(candidates)) {
    if (c.length <= 1) continue;
    const d = editDistance(word, c, 4);
    const length = Math.max(word.length, c.length);
    if ((length - d) / length <= 0.4) continue;
    if (d < bestDistance) [best, bestDistance] = [[c], d];
    else if (d === bestDistance) best.push(c);
  }
  return best.length === 1 ? best[0] : undefined;
}
