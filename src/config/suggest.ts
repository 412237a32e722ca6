/** "Did you mean" for a mistyped option name (a flag, or a key of the --config file). */

/**
 * The known name `given` most likely stands for: the only name it begins (`consul-tls` for
 * `consul-tls-server-name`), else the nearest by edit distance when near enough to be a typo
 * (one edit per four characters, at least one). Undefined when nothing is that close.
 */
export function closestName(given: string, names: Iterable<string>): string | undefined {
  const typed = given.toLowerCase();
  const candidates = [...names];
  const extending = typed.length >= 3 ? candidates.filter((name) => name.startsWith(typed)) : [];
  if (extending.length === 1) return extending[0];
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(typed.length / 4)) + 1;
  for (const name of candidates) {
    const distance = editDistance(typed, name);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * Insertions, deletions, substitutions and swaps of two neighbouring characters needed to turn
 * one word into the other (optimal string alignment), so `prot` is one edit from `port`.
 */
function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between the first i characters of a and the first j of b.
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      row[j] = distance;
    }
  }
  return at(a.length, b.length);
}
