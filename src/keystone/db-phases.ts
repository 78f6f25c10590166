// Keystone's schema phases for a rolling upgrade (src/init/phased.ts runs them): alembic's
// version table, and what `keystone-manage db_sync --check` answers (keystone/cmd/cli.py,
// DbSync.check_db_sync_status, the same in 28.0.2 and 30.0.0): 0 both branches at this
// release's heads; 2 the expand is due (also on an empty database, which phased.ts tells
// apart by the table); 4 the expand ran and the contract is due. Anything else is a failure
// before an answer: on a database migrated past what this release knows, alembic cannot
// resolve the revision ("Can't locate revision identified by ...") and the command exits 1.
// Pure: the commands come from roles.ts.
import type { CommandSpec } from '../system/system.ts';
import type { SchemaPhases } from '../init/phased.ts';

/** alembic's table: one row per branch head (expand's and contract's). */
export const VERSION_TABLE = 'alembic_version';

export const CHECK_ANSWERS = { upToDate: 0, expandDue: 2, contractDue: 4 } as const;

/** What db_sync --check's exit code means for the init of a new image. */
export function decideFromCheck(code: number): { expand: boolean; why: string } | { refuse: string } {
  switch (code) {
    case CHECK_ANSWERS.expandDue:
      return { expand: true, why: 'db_sync --check: the expand is due (2)' };
    case CHECK_ANSWERS.contractDue:
      return { expand: false, why: "db_sync --check: the expand is there already, a contract is pending (4): it runs once no older replica serves" };
    case CHECK_ANSWERS.upToDate:
      return { expand: false, why: 'db_sync --check: the schema is at this release (0): nothing to migrate' };
    default:
      return {
        refuse: `keystone-manage db_sync --check failed (exit code ${code}): this Keystone cannot read the database's schema version, which a newer release migrated (a downgrade: "Can't locate revision" above); refused before any migration ran: run the newer image, or restore the database from before its upgrade`,
      };
  }
}

/** The phases, as `as` makes commands of keystone-manage's arguments (roles.ts). */
export function keystonePhases(manage: (args: string[], label: string) => CommandSpec): SchemaPhases<CommandSpec> {
  return {
    versionTable: VERSION_TABLE,
    check: manage(['db_sync', '--check'], 'keystone-manage db_sync --check'),
    expand: manage(['db_sync', '--expand'], 'keystone-manage db_sync --expand'),
    contract: manage(['db_sync', '--contract'], 'keystone-manage db_sync --contract'),
    decide: decideFromCheck,
    answers: `${CHECK_ANSWERS.upToDate} up to date, ${CHECK_ANSWERS.expandDue} expand due, ${CHECK_ANSWERS.contractDue} contract due (anything else: a downgrade, refused)`,
  };
}
