// A key's value replaced in place (continuation lines included), keeping the key's spelling,
// separator, spacing and line ending; and every value of a document mapped that way.
import { InputError } from '../common/errors.ts';
import { fromLines } from './document.ts';
import type { IniDocument, KeyLine, LineBase } from './lines.ts';
import { pyRstrip } from './py-space.ts';
import { forEachKey, readValue } from './read.ts';
import { style } from './style.ts';

export function mapValues(doc: IniDocument, fn: (section: string, key: string, value: string) => string): IniDocument {
  const changes: { index: number; value: string }[] = [];
  forEachKey(doc, (section, index, line) => {
    const value = readValue(doc, index);
    const next = fn(section, line.name, value);
    if (next !== value) changes.push({ index, value: next });
  });
  let out = doc;
  // Back to front, so earlier indexes stay valid while later spans collapse.
  for (const { index, value } of changes.reverse()) out = replaceValue(out, index, value);
  return out;
}

export function assertSingleLine(value: string, what: string): void {
  if (/[\r\n]/.test(value)) throw new InputError(`${what} contains a line break: ${JSON.stringify(value)}`);
}

/**
 * Replaces the whole value of the key line at index (continuation lines included) by a
 * one-line value, keeping the key's spelling, separator, spacing and line ending.
 */
export function replaceValue(doc: IniDocument, index: number, value: string): IniDocument {
  assertSingleLine(value, 'value');
  const key = doc.lines[index] as KeyLine;
  let head = key.text.slice(0, key.valueStart);
  let tail = key.text.slice(key.valueEnd);
  if (value === '') {
    head = pyRstrip(head);
    tail = '';
  } else if (key.valueStart === key.valueEnd) {
    // "oauth_key:" has no space to keep; whitespace left after it, or else the file's
    // usual spacing, goes between separator and value.
    head += tail !== '' ? tail : style(doc).afterSeparator;
    tail = '';
  }
  const last = doc.lines[key.spanEnd]!;
  const lines: LineBase[] = [
    ...doc.lines.slice(0, index),
    { text: head + value + tail, eol: last.eol },
    ...doc.lines.slice(key.spanEnd + 1),
  ];
  return fromLines(doc, lines);
}
