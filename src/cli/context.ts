// What every command starts from: the settings (read and checked once) and a logger in the
// format they ask for.
import { readRegularFile } from '../common/bounded-read.ts';
import { type Logger, createLogger } from '../common/log.ts';
import { type Settings, readSettings } from '../settings/options.ts';

export interface Context extends Settings {
  log: Logger;
}

export function loadContext(): Context {
  const settings = readSettings(process.env, readRegularFile);
  // The credentials' values are masked from the first line; the plan's secrets are added to
  // this logger once it is made (main.ts).
  const log = createLogger({ format: settings.opts.logFormat, trace: settings.opts.trace, secrets: settings.fileSecrets });
  return { ...settings, log };
}
