// What the shared stages need to know about a system's file format: how a value is written so
// that the service reads it back exactly, what the service reads from the whole file, and
// which keys are secret or read at start. Pulp 2 (ConfigParser) and Keystone (oslo.config)
// each give one (src/pulp/dialect.ts, src/keystone/dialect.ts).
import type { ConfigView } from '../ini/config-view.ts';
import type { Layout } from '../ini/edit.ts';
import type { IniDocument } from '../ini/lines.ts';

/** A value the service could not read; `reason` never contains the value. */
export interface ReadProblem {
  readonly section: string;
  readonly key: string;
  readonly reason: string;
}

export interface ConfDialect {
  /** How messages name the file: "server.conf". */
  name: string;
  /** Where an edit lands in a section (src/ini/edit.ts). */
  layout: Layout;
  /** The text to write so that the service reads back exactly `value`; `what` names the setting for an error. */
  escape(value: string, what: string): string;
  /** What the service reads: section -> key -> value, and the values it could not read. */
  read(doc: IniDocument): { view: ConfigView; problems: ReadProblem[] };
  /** Shown masked wherever it is rendered. */
  isSecret(section: string, key: string): boolean;
  /** Whether the service failing to read [section] key stops the start (someone reads it then). */
  refusedWhenUnreadable(section: string, key: string): boolean;
  /** How messages name a key: "server.conf [database] seeds". */
  label(section: string, key: string): string;
}
