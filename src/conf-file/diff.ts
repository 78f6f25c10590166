// A unified diff of two texts, line by line (pure). server.conf is a few hundred lines and the
// edits touch a handful, so common head and tail are trimmed and an LCS table covers the rest.

export interface DiffOptions {
  fromName: string;
  toName: string;
  context?: number;
}

type Op = { kind: ' ' | '-' | '+'; line: string };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/(?<=\n)/);
  return lines;
}

function lineOps(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  // lcs[i][j] = LCS length of am[i..] and bm[j..], flattened.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] =
        am[i] === bm[j] ? (lcs[(i + 1) * (m + 1) + j + 1] ?? 0) + 1 : Math.max(lcs[(i + 1) * (m + 1) + j] ?? 0, lcs[i * (m + 1) + j + 1] ?? 0);
    }
  }
  const ops: Op[] = a.slice(0, head).map((line) => ({ kind: ' ', line }));
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && am[i] === bm[j]) {
      ops.push({ kind: ' ', line: am[i++] ?? '' });
      j++;
    } else if (j < m && (i === n || (lcs[i * (m + 1) + j + 1] ?? 0) >= (lcs[(i + 1) * (m + 1) + j] ?? 0))) {
      ops.push({ kind: '+', line: bm[j++] ?? '' });
    } else {
      ops.push({ kind: '-', line: am[i++] ?? '' });
    }
  }
  for (const line of a.slice(a.length - tail)) ops.push({ kind: ' ', line });
  // Deletions first within a change, as diff(1) prints them.
  for (let k = 1; k < ops.length; k++) {
    let x = k;
    while (x > 0 && ops[x]?.kind === '-' && ops[x - 1]?.kind === '+') {
      [ops[x - 1], ops[x]] = [ops[x] as Op, ops[x - 1] as Op];
      x--;
    }
  }
  return ops;
}

/** "" when the texts are equal. */
export function unifiedDiff(before: string, after: string, opts: DiffOptions): string {
  if (before === after) return '';
  const ctx = opts.context ?? 3;
  const ops = lineOps(splitLines(before), splitLines(after));
  const out: string[] = [`--- ${opts.fromName}\n`, `+++ ${opts.toName}\n`];
  let k = 0;
  while (k < ops.length) {
    while (k < ops.length && ops[k]?.kind === ' ') k++;
    if (k >= ops.length) break;
    let start = Math.max(0, k - ctx);
    let end = k;
    // Extend the hunk while the next change is within 2*ctx unchanged lines.
    for (;;) {
      while (end < ops.length && ops[end]?.kind !== ' ') end++;
      let gap = end;
      while (gap < ops.length && ops[gap]?.kind === ' ') gap++;
      if (gap < ops.length && gap - end <= 2 * ctx) end = gap;
      else {
        end = Math.min(ops.length, end + ctx);
        break;
      }
    }
    let aLine = 1;
    let bLine = 1;
    for (let x = 0; x < start; x++) {
      if (ops[x]?.kind !== '+') aLine++;
      if (ops[x]?.kind !== '-') bLine++;
    }
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(aLine, aCount)} +${range(bLine, bCount)} @@\n`);
    for (const o of hunk) {
      const text = o.line.endsWith('\n') ? o.line.replace(/\r?\n$/, '') : o.line;
      out.push(`${o.kind}${text}\n`);
      if (!o.line.endsWith('\n')) out.push('\\ No newline at end of file\n');
    }
    start = end;
    k = end;
  }
  return out.join('');
}

function range(line: number, count: number): string {
  if (count === 0) return `${line - 1},0`;
  return count === 1 ? `${line}` : `${line},${count}`;
}
