// --help: the system's text around the exit codes, which come from their one table
// (common/errors.ts) and read the same under every name.
import { exitCodeMeanings } from '../common/errors.ts';

const WIDTH = 100;
const CODE_COLUMN = 9;

/** The exit codes, one per row, the meaning wrapped under itself (backticks are the README's markup). */
export function exitCodeLines(confName: string, tasks: readonly string[], phases: boolean): string {
  return exitCodeMeanings(confName, tasks, phases).map(([code, meaning]) => {
    const rows: string[] = [];
    let row = `  ${String(code).padEnd(CODE_COLUMN - 2)}`;
    let empty = true;
    for (const word of meaning.replaceAll('`', '').split(' ')) {
      if (!empty && row.length + 1 + word.length > WIDTH) {
        rows.push(row);
        row = ' '.repeat(CODE_COLUMN);
        empty = true;
      }
      row += empty ? word : ` ${word}`;
      empty = false;
    }
    rows.push(row);
    return rows.join('\n');
  }).join('\n');
}
