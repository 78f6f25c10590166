// The file's own conventions (separator, spacing after it, line ending), so that a line the
// agent writes looks like the lines around it.
import { DELIMITER_RE } from './document.ts';
import type { IniDocument } from './lines.ts';
import { pyRstrip } from './py-space.ts';

export interface Style {
  /** Whitespace and delimiter between key and value, up to the value's first space: " =" or ":". */
  readonly separator: string;
  readonly afterSeparator: string;
  readonly eol: '\n' | '\r\n' | '\r';
}

/**
 * The file's dominant conventions. Without any key line to learn from, `fallback` (Pulp's
 * own "key: value" unless the caller knows the dialect); without any line ending, "\n".
 */
export function style(doc: IniDocument, fallback = ':'): Style {
  const separators = new Map<string, number>();
  const spacings = new Map<string, number>();
  const eols = new Map<string, number>();
  for (const line of doc.lines) {
    if (line.eol !== '') bump(eols, line.eol);
    if (line.kind !== 'key') continue;
    const between = line.text.slice(line.indent.length, line.valueStart);
    const at = DELIMITER_RE.exec(between)!.index;
    const keyEnd = pyRstrip(between.slice(0, at)).length;
    bump(separators, between.slice(keyEnd, at + 1));
    if (line.valueStart < line.valueEnd) bump(spacings, between.slice(at + 1));
  }
  return {
    separator: dominant(separators) ?? fallback,
    afterSeparator: dominant(spacings) ?? ' ',
    eol: (dominant(eols) ?? '\n') as Style['eol'],
  };
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

// Ties go to the first seen, so a file's first convention wins over a later one.
function dominant(counts: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [key, count] of counts) {
    if (count > bestCount) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}
