// src/pulp/syslog-check.ts: the warning when Pulp would log to a /dev/log that is not there.
import t from 'tap';
import { configViewFrom } from '../helpers/targets.ts';
import { syslogWarning } from '../../src/pulp/syslog-check.ts';

t.test('warns only when Pulp would log to a missing /dev/log', async (t) => {
  t.match(syslogWarning(configViewFrom({}), false), /PULP_CONF__SERVER__LOG_TYPE=console/, 'default is syslog');
  t.match(syslogWarning(configViewFrom({ server: { log_type: 'Syslog' } }), false), /\/dev\/log/);
  t.equal(syslogWarning(configViewFrom({}), true), undefined, '/dev/log exists');
  t.equal(syslogWarning(configViewFrom({ server: { log_type: 'console' } }), false), undefined, 'console logging');
});
