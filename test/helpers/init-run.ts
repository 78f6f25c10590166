// once.ts (runInitOnce) run the way the stores' tests need it: one start with a stand-in init
// that only counts, its log lines kept, a generous deadline and a short lease TTL.
import { createLogger } from '../../src/common/log.ts';
import { deadlineIn } from '../../src/common/retry.ts';
import type { Holder } from '../../src/init/lease.ts';
import { runInitOnce } from '../../src/init/once.ts';
import type { InitStore } from '../../src/init/store.ts';

/** Runs the init of `key` on `store` for `holder`; how many times its init ran, and every log line. */
export async function runCountedInit(store: InitStore, holder: Holder, key: string, argv: string[]): Promise<{ runs: number; lines: string[] }> {
  const lines: string[] = [];
  let runs = 0;
  await runInitOnce({
    store,
    key,
    force: false,
    holder,
    argv,
    run: async () => {
      runs++;
      return 0;
    },
    deadline: deadlineIn(20_000),
    log: createLogger({ format: 'text', trace: false, write: (l) => lines.push(l) }),
    ttlMs: 3000,
  });
  return { runs, lines };
}
