// Durations as people and Prometheus write them: 500ms, 5s, 5m, 1h, 7d (or a bare number of seconds).

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Milliseconds of a duration such as `5s`, `1m30s`, `7d` or `2.5` (seconds), or undefined when the
 * text is not one. Units: ms, s, m, h, d, w (Prometheus's own, less y).
 */
export function parseDuration(raw: string | number): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) && raw >= 0 ? raw * 1000 : undefined;
  const s = raw.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s) * 1000;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return ms;
}

/** A duration for people: 90 s, 5 m, 2 h, 7 d. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
