// src/kube-api/cron-schedule.ts: a CronJob's schedule read as Kubernetes (robfig/cron's
// standard parser) reads it, and the shortest span of n consecutive intervals between runs.
import t from 'tap';
import { InputError } from '../../src/common/errors.ts';
import { parseCronSchedule, shortestSpan } from '../../src/kube-api/cron-schedule.ts';
import { messageOf, thrown } from '../helpers/thrown.ts';

const H = 3_600_000;
const D = 24 * H;
const span = (text: string, n: number): number | undefined => shortestSpan(parseCronSchedule(text), n);

t.test('fields, lists, ranges, steps, names and descriptors', async (t) => {
  const s = parseCronSchedule('0,30 3-5 */10 JAN,jul mon-fri');
  t.same(s.minutes, [0, 30]);
  t.same(s.hours, [3, 4, 5]);
  t.same([...s.days], [1, 11, 21, 31]);
  t.same([...s.months], [1, 7]);
  t.same([...s.weekdays], [1, 2, 3, 4, 5]);
  t.equal(s.anyDay, false, '*/10 is not a star: robfig clears the star bit for steps above 1');
  t.same(parseCronSchedule('5/20 * * * *').minutes, [5, 25, 45], '"5/20" runs from 5 to the end');
  t.same(parseCronSchedule('@daily').hours, [0]);
  t.equal(parseCronSchedule('@every 1h30m').every, 1.5 * H);
  t.equal(parseCronSchedule('?  0 * * ?').anyWeekday, true, '? is a star');
});

t.test('the shortest span of n intervals', async (t) => {
  t.equal(span('0 3 * * *', 1), D, 'daily');
  t.equal(span('0 3 * * *', 3), 3 * D);
  t.equal(span('@hourly', 24), D);
  t.equal(span('*/15 * * * *', 4), H);
  t.equal(span('0 3 * * 1-5', 1), D, 'weekdays: the shortest gap is a day, not the 1.4 days of the mean');
  t.equal(span('0 3 * * 1-5', 5), 7 * D, 'five weekday intervals always take in a weekend');
  t.equal(span('0 0 1 * *', 1), 28 * D, 'monthly: February');
  t.equal(span('0 0 1 * *', 2), 59 * D, 'February and March (or January and February) of a common year');
  t.equal(span('0 0,12 * * *', 1), 12 * H);
  t.equal(span('@every 6h', 3), 18 * H);
  t.equal(span('0 0 29 2 *', 3), undefined, 'fewer than 4 runs in 8 years: no span that matters');
  t.equal(span('* * * * *', 5), 5 * 60_000, 'every minute: bounded memory over 8 years');
  // Day of month and day of week both restricted: either matches (robfig, as Vixie cron).
  t.equal(span('0 0 1 * 1', 1) !== undefined && (span('0 0 1 * 1', 1) ?? 0) < 7 * D, true, 'the 1st or a Monday');
  t.equal(span('0 0 * * *', 0), 0);
});

t.test('refusals name the field and the value', async (t) => {
  const cases: [string, RegExp][] = [
    ['0 3 * *', /4 fields; a schedule has 5/],
    ['60 * * * *', /minute: 60 is outside 0-59/],
    ['0 24 * * *', /hour: 24 is outside 0-23/],
    ['0 0 0 * *', /day of month: 0 is outside 1-31/],
    ['0 0 * 13 *', /month: 13 is outside 1-12/],
    ['0 0 * * 7', /day of week: 7 is outside 0-6/],
    ['0 0 * * FOO', /day of week: "FOO" is not a number or a name/],
    ['5-1 * * * *', /minute: range 5-1 runs backwards/],
    ['*/0 * * * *', /minute: step "0" is not a positive number/],
    ['@fortnightly', /unknown descriptor/],
    ['@every 0.5s', /"0.5s" is not a duration of at least 1s/],
    ['TZ=Europe/Paris 0 3 * * *', /a time zone belongs in the CronJob's spec.timeZone/],
  ];
  for (const [text, message] of cases) {
    const err = thrown(() => parseCronSchedule(text));
    t.type(err, InputError, text);
    t.match(messageOf(err), new RegExp(`^schedule ${JSON.stringify(text).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${message.source}`), text);
  }
});
