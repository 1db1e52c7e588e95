// Lines of a YAML document's parts, for problems told as `file:line: field: sentence` (an inventory's,
// a knowledge-base entry's). Imported only where YAML is read (yaml is not loaded by a cold diagnose).
import { isMap, isNode, isScalar, type Document, type LineCounter } from 'yaml';

/**
 * The 1-based line of the deepest node of `doc` that `path` reaches (`['symptoms', 2, 'pattern']`):
 * the value's own line when the path exists, else its nearest ancestor's; with `key`, the line of
 * that key in the map at `path` (an unknown field's). undefined when the document has no node there.
 */
export function lineAt(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  key?: string,
): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true);
    if (n === path.length && key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair && isNode(pair.key) && pair.key.range) return lines.linePos(pair.key.range[0]).line;
    }
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** A field as problems write it (`symptoms[2].pattern`) back to its path: `['symptoms', 2, 'pattern']`. */
export function fieldPath(field: string): (string | number)[] {
  return [...field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}
