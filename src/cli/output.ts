// What a command prints on stdout (help, version, preview, configure's report), written so that
// a failed write is known: Node reports it only later, as an 'error' event, by which time the
// agent has exited 0. A full disk or a closed pipe behind stdout is exit 74 with one line.
import { OutputError } from '../common/errors.ts';

let listening = false;

export function writeStdout(text: string): Promise<void> {
  // The failure arrives through the callback; without a listener the same error would also
  // be thrown as an unhandled 'error' event.
  if (!listening) {
    process.stdout.on('error', () => {});
    listening = true;
  }
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOSPC' ? 'no space left on the device' : e.code === 'EPIPE' ? 'the reader closed it' : (e.code ?? e.message);
      reject(new OutputError(`cannot write to stdout (${why}): the output is incomplete; check where stdout goes`));
    });
  });
}
