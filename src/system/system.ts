// What a system (Pulp 2, Keystone, ...) gives the shared pipeline: its names, its settings,
// the dialect and keys of its file, the edits the environment asks for, what it waits for,
// its roles and its init. The stages before this one know nothing of any system; the systems'
// folders implement this, and src/cli/systems.ts lists them, one line each.
import type { ConfigView } from '../ini/config-view.ts';
import type { ConfDialect } from '../conf-file/dialect.ts';
import type { StartingConfFile } from '../conf-file/read.ts';
import type { Target } from '../common/targets.ts';
import type { EditPlan } from '../settings/edits/plan.ts';
import type { Settings, SettingsSchema } from '../settings/options.ts';
import type { ProgramNames } from '../common/program.ts';
import type { Logger } from '../common/log.ts';
import type { StopSignals } from '../exec/stop-signals.ts';
import type { SchemaPhases } from '../init/phased.ts';

export interface CommandSpec {
  /** argv[0] is a program name looked up on PATH (or an absolute path). */
  argv: string[];
  user: string;
  cwd: string;
  /** Variables added for this command to the environment the steps and the role start from (the agent's, without the secrets it consumed): a NAME_FILE's value as NAME. */
  env?: Readonly<Record<string, string>>;
  /** How log lines name it ("keystone-manage db_sync"); argv[0] when unset. */
  label?: string;
}

/** A directory of numbered keys the service reads (Keystone's fernet and credential keys). */
export interface KeyRepositorySpec {
  /** "fernet": how messages name the keys. */
  name: string;
  /** Where the service reads them (the effective file's key_repository). */
  dir: string;
  /** A mounted Secret holding them, and the variable that named it; undefined: the agent makes them (or a sidecar keeps them: keptBy). */
  source: { dir: string; variable: string } | undefined;
  /**
   * The setting that says another container keeps the repository (Keystone's sync-keys
   * sidecar): the agent never writes it, it waits until it holds a complete key set.
   */
  keptBy?: string;
  /** The warning given when the agent makes (or keeps its own) keys. */
  generatedWarning: string;
}

/** A file the role needs beside the configuration file (Keystone: gunicorn's -c file). */
export interface RoleFile {
  path: string;
  text: string;
  /** Why it is there, for the preview. */
  why: string;
}

/**
 * A path the role writes (or reads) as it starts, named by a key of the effective file: checked
 * for the run-as user before anything is written, so that a role that would start broken is
 * refused instead of reporting itself ready and failing its first task.
 */
export interface RolePath {
  /** The key that names it, in the system's file (its value, or its default). */
  section: string;
  key: string;
  path: string;
  /** dir: the role makes entries in it; file: it opens it to append (made in its directory when missing); read: it reads it. */
  access: 'dir' | 'file' | 'read';
  /** What the role does there, in the message and the preview. */
  why: string;
}

export interface RoleSpec {
  role: string;
  /**
   * The one-time init, in order (Pulp's beat: pulp-manage-db; Keystone: db_sync, bootstrap),
   * run once under the lease; null: the role waits for the init's record instead.
   */
  init: CommandSpec[] | null;
  exec: CommandSpec;
  /** Files written before the exec, as the configuration file is. */
  files: RoleFile[];
  /** Key repositories installed before the init, owned by the run-as user. */
  keys: KeyRepositorySpec[];
  /** What the role writes or reads as it starts (not the files above, which the agent writes). */
  paths: RolePath[];
  /** Rows the preview adds to its settings (the worker's N and where it came from, ...). */
  settings: PreviewSetting[];
  /** The init migrates a schema in phases (Keystone): expand at start, contract later. */
  phases?: SchemaPhases<CommandSpec>;
}

export interface PreviewSetting {
  name: string;
  value: string;
  from: string[];
}

/** How the preview shows one wait: where its endpoint is set, the check and why the role needs it. */
export interface WaitInfo {
  /** The key of the file that names it: "database.seeds". */
  source: string;
  protocol: string;
  check: string;
  why: string;
}

/** An endpoint of the file deliberately not waited for, and why. */
export interface NotWaited {
  source: string;
  address: string;
  protocol?: string;
  why: string;
}

/** What is needed to make a role's spec: the effective file and where the agent runs. */
export interface RoleInputs {
  effective: ConfigView;
  hostname: string;
  extraArgs: readonly string[];
}

/** What a system's task is given: its settings, the file as the environment makes it, a way to write it. */
export interface TaskInputs<O, C> {
  settings: Settings<O, C>;
  log: Logger;
  /** The file with the environment's edits applied (not written). */
  effective: ConfigView;
  targets: Target[];
  /** Writes the file as `configure` does, for a task that runs the service's own tools. */
  configure(): Promise<void>;
  /** Until released, a stop signal ends the agent at once (stop-signals.ts). */
  stop: StopSignals;
  /** Writes what the task was asked to print on stdout (74 when it cannot). */
  print(text: string): Promise<void>;
  /** The environment for the service's own tools it starts: the secrets written into the file withheld (settings/withheld.ts). */
  env: NodeJS.ProcessEnv;
}

/** A command of the system's own that needs its settings and file (Keystone: sync-keys, rotate). */
export interface SystemTask<O, C> {
  /** Its exit code; expected failures throw an EntrypointError. */
  run(inputs: TaskInputs<O, C>, args: readonly string[]): Promise<number>;
}

export interface System<O, C> {
  names: ProgramNames;
  /** "Pulp 2", "Keystone": how --help and the preview name the service. */
  title: string;
  file: StartingConfFile;
  dialect: ConfDialect;
  settings: SettingsSchema<O, C>;
  roles: readonly string[];
  /** The role whose init `init` runs alone. */
  initRole: string;
  /** Its init migrates a schema in phases (RoleSpec.phases): --help lists the downgrade's exit code. */
  phasedSchema?: boolean;
  /** The environment -> the edits of the file (pure). */
  planEdits(settings: Settings<O, C>, current: ConfigView): EditPlan;
  /** What the roles wait for, from the effective file; throws InputError for a value it cannot use. */
  targets(effective: ConfigView): Target[];
  /** The target whose database holds the init lease and records. */
  initStore(targets: readonly Target[]): Target;
  /** How a role without an init speaks of the one it waits for. */
  awaitInit: { runBy: string; missingHint: string; keyHint: string };
  /** The init command whose program and arguments make the default init key. */
  initKeyArgv(settings: Settings<O, C>): readonly string[];
  roleSpec(role: string, settings: Settings<O, C>, inputs: RoleInputs): RoleSpec;
  /**
   * Warnings that do not stop the start, given at every start and in the preview (Pulp: syslog
   * without /dev/log; Keystone: ADMIN_TOKEN is not written).
   */
  startWarnings(effective: ConfigView, settings: Settings<O, C>): string[];
  /** Commands of this system alone: name -> the text to print (Keystone: keys). */
  commands?: Readonly<Record<string, (args: readonly string[]) => string>>;
  /** Commands of this system alone that run with its settings and file (Keystone: sync-keys, rotate). */
  tasks?: Readonly<Record<string, SystemTask<O, C>>>;
  preview: {
    wait(target: Target): WaitInfo;
    notWaited(effective: ConfigView): NotWaited[];
    /** The system's own settings rows, after the shared ones (services, log level, ...). */
    settings(settings: Settings<O, C>): PreviewSetting[];
  };
  /** The --help text; `exitCodes` is the shared table, rendered. */
  help(exitCodes: string): string;
}
