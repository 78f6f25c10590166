// The line model of server.conf: each line's kind, text and line ending, as ConfigParser's
// reading classifies it (document.ts); a document is its lines and an optional BOM.

export type LineEnding = '' | '\n' | '\r\n' | '\r';

export interface LineBase {
  /** The line without its line ending. */
  readonly text: string;
  /** '' only on a last line that has no final newline. */
  readonly eol: LineEnding;
}

export interface BlankLine extends LineBase {
  readonly kind: 'blank';
}
export interface CommentLine extends LineBase {
  readonly kind: 'comment';
}
export interface SectionLine extends LineBase {
  readonly kind: 'section';
  readonly name: string;
}
export interface KeyLine extends LineBase {
  readonly kind: 'key';
  /** The key as ConfigParser stores it (optionxform lower-cases it). */
  readonly name: string;
  /** Leading whitespace; ConfigParser compares its length to spot continuation lines. */
  readonly indent: string;
  /** Offsets of the value (stripped like ConfigParser strips it) within text. */
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Index of the value's last line: the last continuation line, or this line. */
  readonly spanEnd: number;
}
export interface ContinuationLine extends LineBase {
  readonly kind: 'continuation';
  /** Index of the key line whose value this line continues. */
  readonly owner: number;
}

export type IniLine = BlankLine | CommentLine | SectionLine | KeyLine | ContinuationLine;

/** Treat as immutable: edits return a new document. */
export interface IniDocument {
  readonly fileName: string;
  readonly bom: '' | '\uFEFF';
  readonly lines: readonly IniLine[];
}
