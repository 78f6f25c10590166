// What every command starts from: the system the program's name picked, its settings (read
// and checked once) and a logger in the format they ask for.
import { readRegularFile } from '../common/bounded-read.ts';
import { type Logger, createLogger } from '../common/log.ts';
import { type Settings, readSettings } from '../settings/options.ts';
import type { System } from '../system/system.ts';

export interface Context<O, C> extends Settings<O, C> {
  system: System<O, C>;
  log: Logger;
}

export function loadContext<O, C>(system: System<O, C>): Context<O, C> {
  const settings = readSettings(process.env, readRegularFile, system.settings);
  // The credentials' values are masked from the first line; the plan's secrets are added to
  // this logger once it is made (main.ts).
  const log = createLogger({ format: settings.opts.logFormat, trace: settings.opts.trace, secrets: settings.fileSecrets });
  return { ...settings, system, log };
}
