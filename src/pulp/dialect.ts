// server.conf's dialect: Pulp 2 reads it with Python 2's SafeConfigParser, so a literal "%"
// is written "%%" and the effective file is the interpolated one; the keys' facts come from
// the one table (src/pulp/keys.ts).
import type { ConfDialect } from '../conf-file/dialect.ts';
import { escapeValue, interpolateView } from '../ini/interpolation.ts';
import { toConfigView } from '../ini/read.ts';
import { isSecret, keyLabel, refusedWhenUnreadable } from './keys.ts';

export const PULP_DIALECT: ConfDialect = {
  name: 'server.conf',
  layout: 'pulp',
  escape: (value) => escapeValue(value),
  read: (doc) => interpolateView(toConfigView(doc)),
  isSecret,
  refusedWhenUnreadable,
  label: keyLabel,
};
