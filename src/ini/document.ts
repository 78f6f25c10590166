// A lossless model of server.conf. Pulp reads the file with Python's ConfigParser, so every
// classification below mirrors ConfigParser._read (Python 3.11, delimiters "=" and ":",
// comment prefixes "#" and ";", no inline comments, empty lines allowed inside values,
// strict=False). Anything ConfigParser would accept is kept byte for byte; printing the
// unmodified model gives the input back.
import { InputError } from '../common/errors.ts';
import type { IniDocument, IniLine, KeyLine, LineBase, LineEnding } from './lines.ts';
import { leadingSpace, pyLstrip, pyRstrip, trailingSpaceStart } from './py-space.ts';

// ConfigParser.SECTCRE: greedy, so the name runs to the last "]" and anything after it is ignored.
const SECTION_RE = /^\[(.+)\]/s;
export const DELIMITER_RE = /[=:]/;
// Control characters other than tab, VT, FF, CR, LF, plus U+FFFD (what a lenient UTF-8 decoder
// leaves behind): ConfigParser would accept most of them, but in server.conf they only
// mean the file is not text.
const GARBAGE_RE = /[\x00-\x08\x0e-\x1f\x7f\ufffd]/;
// Python's text mode reads \r\n, \r and \n alike as line ends.
const EOL_RE = /\r\n|\r|\n/g;

export function parseIni(text: string, fileName = '<input>'): IniDocument {
  const bom: IniDocument['bom'] = text.startsWith('\uFEFF') ? '\uFEFF' : '';
  const raw = splitLines(text.slice(bom.length));

  const lines: IniLine[] = [];
  let inSection = false;
  // Index of the key line whose value continuation lines extend (ConfigParser's optname).
  let owner = -1;
  // Indent of the last section or key line (ConfigParser's indent_level).
  let indentLevel = 0;
  for (let i = 0; i < raw.length; i++) {
    const { text: lineText, eol } = raw[i]!;
    const fail = (what: string): never => parseError(fileName, i, what);
    refuseNonText(lineText, fail);
    const indent = leadingSpace(lineText);
    const stripped = lineText.slice(indent, Math.max(indent, trailingSpaceStart(lineText)));
    if (stripped.startsWith('#') || stripped.startsWith(';')) {
      lines.push({ kind: 'comment', text: lineText, eol });
      continue;
    }
    if (stripped === '') {
      lines.push({ kind: 'blank', text: lineText, eol });
      continue;
    }
    if (owner >= 0 && indent > indentLevel) {
      const key = lines[owner] as KeyLine;
      lines[owner] = { ...key, spanEnd: i };
      lines.push({ kind: 'continuation', text: lineText, eol, owner });
      continue;
    }
    indentLevel = indent;
    const header = SECTION_RE.exec(stripped);
    if (header !== null) {
      lines.push({ kind: 'section', text: lineText, eol, name: header[1]! });
      inSection = true;
      owner = -1;
      continue;
    }
    if (!inSection) fail('text before the first [section] header (only comments and blank lines may come first)');
    owner = lines.length;
    lines.push(keyLine(lineText, eol, i, indent, stripped, fail));
  }
  return { fileName, bom, lines };
}

/** Control characters and U+FFFD: ConfigParser would take most, but in server.conf they mean the file is not text. */
function refuseNonText(lineText: string, fail: (what: string) => never): void {
  const garbage = GARBAGE_RE.exec(lineText);
  if (garbage === null) return;
  const code = garbage[0].codePointAt(0)!;
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  fail(code === 0xfffd ? 'U+FFFD replacement character: not valid UTF-8 text' : `control character U+${hex}: not a text file`);
}

/** A "key = value" or "key: value" line at `index` (ConfigParser's OPTCRE): its name and where its value lies. */
function keyLine(lineText: string, eol: LineEnding, index: number, indent: number, stripped: string, fail: (what: string) => never): KeyLine {
  const delimiter = DELIMITER_RE.exec(stripped) ?? fail(`not a [section] header, a "key: value" line or a comment: ${JSON.stringify(stripped.slice(0, 60))}`);
  const at = delimiter.index;
  const name = pyRstrip(stripped.slice(0, at));
  if (name === '') fail(`"${delimiter[0]}" without a key name before it`);
  const rest = stripped.slice(at + 1);
  return {
    kind: 'key',
    text: lineText,
    eol,
    name: name.toLowerCase(),
    indent: lineText.slice(0, indent),
    valueStart: indent + at + 1 + (rest.length - pyLstrip(rest).length),
    valueEnd: indent + stripped.length,
    spanEnd: index,
  };
}

function parseError(fileName: string, index: number, what: string): never {
  throw new InputError(`${fileName}: line ${index + 1}: ${what}`);
}

function splitLines(body: string): { text: string; eol: LineEnding }[] {
  const out: { text: string; eol: LineEnding }[] = [];
  let start = 0;
  EOL_RE.lastIndex = 0;
  for (let m = EOL_RE.exec(body); m !== null; m = EOL_RE.exec(body)) {
    out.push({ text: body.slice(start, m.index), eol: m[0] as LineEnding });
    start = m.index + m[0].length;
  }
  if (start < body.length) out.push({ text: body.slice(start), eol: '' });
  return out;
}

export function printIni(doc: IniDocument): string {
  let out = doc.bom;
  for (const line of doc.lines) out += line.text + line.eol;
  return out;
}

/** Rebuilds a document from lines; used by edits, which re-classify everything they produce. */
export function fromLines(doc: IniDocument, lines: readonly LineBase[]): IniDocument {
  let text = doc.bom;
  for (const line of lines) text += line.text + line.eol;
  return parseIni(text, doc.fileName);
}
