// "did you mean ...?": the known word a mistyped one most likely meant (pure). The mistakes a
// tired operator makes: the wrong case, "-" for "_", a letter or two missing, extra, wrong or
// swapped. Shared by the command line (commands, roles) and the variables' names.

/** Case and the two separators do not count: "Resource-Manager" is resource_manager. */
function normal(word: string): string {
  return word.toLowerCase().replaceAll('-', '_');
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/**
 * The known word closest to `word` once case and "-"/"_" are set aside, within one edit for
 * short words (up to 4 letters: "apii" is api, "ls" is not "init") and two for longer ones;
 * the first in `known`'s order on a tie, so the answer is the same every time. Undefined
 * when nothing is that close, or when `word` is itself known.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  if (known.includes(word)) return undefined;
  const w = normal(word);
  const limit = w.length <= 4 ? 1 : 2;
  let best: { word: string; distance: number } | undefined;
  for (const k of known) {
    const d = editDistance(w, normal(k));
    if (d <= limit && (best === undefined || d < best.distance)) best = { word: k, distance: d };
  }
  return best?.word;
}

/** " (did you mean X?)" for a message, or "" when nothing known is close. */
export function didYouMean(word: string, known: readonly string[], show: (w: string) => string = (w) => w): string {
  const c = closest(word, known);
  return c === undefined ? '' : ` (did you mean ${show(c)}?)`;
}
