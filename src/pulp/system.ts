// Pulp 2 as a system of the pipeline (src/system/system.ts): server.conf, MongoDB and the
// Celery broker, the Celery roles, pulp-manage-db as the init. Everything here is read from
// the other modules of this folder; this one only puts them together.
import { existsSync } from 'node:fs';
import { embeddedFile } from '../common/embedded.ts';
import { InputError } from '../common/errors.ts';
import type { Target } from '../common/targets.ts';
import type { System } from '../system/system.ts';
import { PULP_DIALECT } from './dialect.ts';
import { planEdits } from './edits/plan.ts';
import { pulpHelp } from './help.ts';
import type { KeyId } from './keys.ts';
import { INIT_ARGV, ROLES, isRole, roleSpec } from './roles.ts';
import { PULP_SETTINGS, type PulpOptions, type ServerVars } from './settings.ts';
import { syslogWarning } from './syslog-check.ts';
import { BROKER_PROTOCOLS, MESSAGING_NOT_WAITED, WAIT_REASONS, messagingEndpoint, targetsFromConfig } from './targets.ts';

export const PULP: System<PulpOptions, ServerVars> = {
  names: { program: 'pulp-entrypoint', prefix: 'PULP', confName: 'server.conf', inlineComments: "Pulp 2's ConfigParser" },
  title: 'Pulp 2',
  file: {
    name: 'server.conf',
    mountWhat: "Pulp's server.conf",
    confVar: PULP_SETTINGS.confVar,
    templateVar: PULP_SETTINGS.templateVar,
    embedded: () => embeddedFile('pulp/default-server.conf'),
  },
  dialect: PULP_DIALECT,
  settings: PULP_SETTINGS,
  roles: ROLES,
  initRole: 'beat',
  planEdits,
  targets: targetsFromConfig,
  initStore: (targets) => {
    const db = targets.find((t) => t.kind === 'mongodb');
    if (!db) throw new Error('Pulp: no MongoDB target');
    return db;
  },
  awaitInit: {
    runBy: 'the beat role',
    missingHint: 'start the beat role (it runs pulp-manage-db), check its log, or make PULP_INIT_KEY the same in every role',
    keyHint: 'the key the beat role uses',
  },
  initKeyArgv: () => INIT_ARGV,
  roleSpec: (role, s, inputs) => {
    if (!isRole(role)) throw new InputError(`unknown role ${role}`);
    const o = s.opts;
    const spec = roleSpec(role, {
      conf: inputs.effective,
      runAs: o.runAs.value,
      hostname: inputs.hostname,
      workerId: o.workerId?.value,
      logLevel: o.celeryLogLevel.value,
      logFile: o.celeryLogFile?.value,
      workdir: o.workdir?.value,
      extraArgs: inputs.extraArgs,
    });
    const n = spec.exec.argv.find((a) => a.startsWith('reserved_resource_worker-'));
    const workerN = n?.slice('reserved_resource_worker-'.length).split('@')[0] ?? '0';
    return {
      role: spec.role,
      init: spec.init ? [spec.init] : null,
      exec: spec.exec,
      files: [],
      keys: [],
      paths: spec.paths,
      settings: spec.workerIdFrom ? [{ name: 'worker id', value: workerN, from: [spec.workerIdFrom] }] : [],
    };
  },
  startWarnings: (effective) => {
    const w = syslogWarning(effective, existsSync('/dev/log'));
    return w ? [w] : [];
  },
  preview: {
    wait: (t: Target) => {
      if (t.kind === 'mongodb') return { source: 'database.seeds' satisfies KeyId, protocol: 'mongodb', ...WAIT_REASONS.mongodb };
      if (t.kind === 'amqp') {
        const p = BROKER_PROTOCOLS[t.protocol];
        return { source: t.source, protocol: p.name, check: p.check, why: `${WAIT_REASONS.broker.why}, with ${p.client} for ${t.scheme}:// (${p.name})` };
      }
      throw new Error(`Pulp waits for no ${t.kind}`);
    },
    notWaited: (effective) => {
      const m = messagingEndpoint(effective);
      return [
        {
          source: 'messaging.url' satisfies KeyId,
          address: m.address,
          ...(m.protocol && { protocol: `${BROKER_PROTOCOLS[m.protocol].name}, transport ${m.transport}` }),
          why: MESSAGING_NOT_WAITED,
        },
      ];
    },
    settings: (s) => [
      { name: 'database service', value: s.opts.dbService.value, from: s.opts.dbService.from },
      { name: 'broker service', value: s.opts.msgService.value, from: s.opts.msgService.from },
      { name: 'celery log level', value: s.opts.celeryLogLevel.value, from: s.opts.celeryLogLevel.from },
    ],
  },
  help: pulpHelp,
};
