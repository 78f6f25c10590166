// src/common/suggest.ts: "did you mean ...?" for the mistakes a tired operator makes, and no
// suggestion for a word nothing known is close to.
import t from 'tap';
import { closest, didYouMean, editDistance } from '../../src/common/suggest.ts';

const WORDS = ['run', 'preview', 'configure', 'wait', 'check', 'init', 'beat', 'resource_manager', 'worker', 'api'];

t.test('the distance: insertions, deletions, substitutions and adjacent swaps count one each', async (t) => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['beat', 'beat', 0],
    ['beet', 'beat', 1],
    ['preveiw', 'preview', 1],
    ['apii', 'api', 1],
    ['wrker', 'worker', 1],
    ['ab', 'ba', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
  ];
  for (const [a, b, d] of cases) {
    t.equal(editDistance(a, b), d, `${a} -> ${b}`);
    t.equal(editDistance(b, a), d, `${b} -> ${a}`);
  }
});

t.test('closest: case and "-" do not count, a letter or two do, nothing far is suggested', async (t) => {
  const cases: [string, string | undefined][] = [
    ['Beat', 'beat'],
    ['BEAT', 'beat'],
    ['beet', 'beat'],
    ['preveiw', 'preview'],
    ['resource-manager', 'resource_manager'],
    ['Resource-Manager', 'resource_manager'],
    ['resource_manger', 'resource_manager'],
    ['workers', 'worker'],
    ['apii', 'api'],
    ['chek', 'check'],
    ['configur', 'configure'],
    ['beat', undefined], // known: nothing to suggest
    ['bash', undefined],
    ['ls', undefined],
    ['python', undefined],
    ['celery', undefined],
    ['sh', undefined],
  ];
  for (const [word, want] of cases) t.equal(closest(word, WORDS), want, `${word} -> ${want ?? 'nothing'}`);
});

t.test('a tie goes to the first known word, every time', async (t) => {
  t.equal(closest('wait', ['wast', 'wain']), 'wast');
  t.equal(closest('wait', ['wain', 'wast']), 'wain');
});

t.test('didYouMean: the phrase, or nothing', async (t) => {
  t.equal(didYouMean('PULP_WAIT_TIMOUT', ['PULP_WAIT_TIMEOUT', 'PULP_RUN_AS']), ' (did you mean PULP_WAIT_TIMEOUT?)');
  t.equal(didYouMean('databse', ['database'], (s) => `[${s}]`), ' (did you mean [database]?)');
  t.equal(didYouMean('PULP_NOTHING_LIKE_IT', ['PULP_WAIT_TIMEOUT']), '');
});
