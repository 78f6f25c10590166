// A CronJob's schedule as Kubernetes reads it (robfig/cron's standard parser: five fields, or a
// descriptor such as @daily or @every 6h), and the one figure the key rotation needs from it:
// the shortest time that a given number of consecutive runs can span (pure). Times are UTC;
// a CronJob with a timeZone shifts every run alike, except across a daylight saving change,
// which moves one run by an hour.
import { InputError } from '../common/errors.ts';

export interface CronSchedule {
  text: string;
  /** A fixed interval (@every), or the five fields' allowed values. */
  every?: number;
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** `*` or `?` in the day fields: robfig's rule is then AND, else a day matches either field (OR). */
  anyDay: boolean;
  anyWeekday: boolean;
}

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const GO_DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function bad(text: string, why: string): InputError {
  return new InputError(`schedule ${JSON.stringify(text)}: ${why}`);
}

/** One value: a number, or a month's or weekday's name. */
function valueOf(f: Field, s: string, text: string): number {
  const i = f.names?.indexOf(s.toUpperCase()) ?? -1;
  if (i >= 0) return i + (f.name === 'month' ? 1 : 0);
  if (!/^[0-9]+$/.test(s)) throw bad(text, `${f.name}: "${s}" is not a number${f.names ? ' or a name' : ''}`);
  const n = Number(s);
  if (n < f.min || n > f.max) throw bad(text, `${f.name}: ${n} is outside ${f.min}-${f.max}`);
  return n;
}

/** A field's values, and whether it was `*` or `?` (robfig's star bit: not with a step above 1). */
function parseField(f: Field, spec: string, text: string): { values: number[]; star: boolean } {
  const values = new Set<number>();
  let star = false;
  for (const part of spec.split(',')) {
    const [range = '', stepText, extra] = part.split('/');
    if (extra !== undefined) throw bad(text, `${f.name}: "${part}" has two steps`);
    const step = stepText === undefined ? 1 : /^[0-9]+$/.test(stepText) ? Number(stepText) : NaN;
    if (!(step >= 1)) throw bad(text, `${f.name}: step "${stepText ?? ''}" is not a positive number`);
    let lo: number;
    let hi: number;
    if (range === '*' || range === '?') {
      lo = f.min;
      hi = f.max;
      if (step === 1) star = true;
    } else {
      const [a = '', b, more] = range.split('-');
      if (more !== undefined || a === '') throw bad(text, `${f.name}: "${range}" is not a value or a range`);
      lo = valueOf(f, a, text);
      // "5/15" runs from 5 to the end, as robfig reads it.
      hi = b === undefined ? (stepText === undefined ? lo : f.max) : valueOf(f, b, text);
      if (hi < lo) throw bad(text, `${f.name}: range ${range} runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values: [...values].sort((a, b) => a - b), star };
}

/** The schedule, or InputError naming what is wrong with it. */
export function parseCronSchedule(text: string): CronSchedule {
  const trimmed = text.trim();
  if (/^(CRON_)?TZ=/.test(trimmed)) throw bad(text, "a time zone belongs in the CronJob's spec.timeZone, not in the schedule (Kubernetes refuses it there)");
  const every = /^@every\s+(\S+)$/.exec(trimmed)?.[1];
  if (every !== undefined) {
    let ms = 0;
    const re = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)/gy;
    let at = 0;
    for (let m = re.exec(every); m !== null; m = re.exec(every)) {
      ms += Number(m[1]) * (GO_DURATION_UNITS[m[2] ?? ''] ?? NaN);
      at = re.lastIndex;
    }
    if (at !== every.length || !(ms >= 1000)) throw bad(text, `"${every}" is not a duration of at least 1s (e.g. 24h, 1h30m)`);
    return { text, every: ms, minutes: [], hours: [], days: new Set(), months: new Set(), weekdays: new Set(), anyDay: true, anyWeekday: true };
  }
  const fieldsText = DESCRIPTORS[trimmed.toLowerCase()] ?? trimmed;
  if (fieldsText.startsWith('@')) throw bad(text, `unknown descriptor (known: ${Object.keys(DESCRIPTORS).join(', ')}, @every DURATION)`);
  const parts = fieldsText.split(/\s+/);
  if (parts.length !== 5) throw bad(text, `${parts.length} fields; a schedule has 5 (minute hour day-of-month month day-of-week) or is a descriptor such as @daily`);
  const [mi, ho, dm, mo, dw] = parts.map((p, i) => parseField(FIELDS[i] as Field, p, text)) as [ReturnType<typeof parseField>, ReturnType<typeof parseField>, ReturnType<typeof parseField>, ReturnType<typeof parseField>, ReturnType<typeof parseField>];
  return {
    text,
    minutes: mi.values,
    hours: ho.values,
    days: new Set(dm.values),
    months: new Set(mo.values),
    weekdays: new Set(dw.values),
    anyDay: dm.star,
    anyWeekday: dw.star,
  };
}

const DAY_MS = 86_400_000;

/** Whether the schedule runs on the UTC day starting at `dayMs`: robfig's day rule. */
function runsOn(s: CronSchedule, dayMs: number): boolean {
  const d = new Date(dayMs);
  if (!s.months.has(d.getUTCMonth() + 1)) return false;
  const dom = s.days.has(d.getUTCDate());
  const dow = s.weekdays.has(d.getUTCDay());
  return s.anyDay || s.anyWeekday ? dom && dow : dom || dow;
}

/**
 * The shortest time `count` consecutive intervals between runs can take (ms): over every run in
 * `years` years from `fromMs` (UTC midnight). Undefined when the schedule runs fewer than
 * count + 1 times in that span (then it rotates more rarely than any horizon that matters).
 */
export function shortestSpan(s: CronSchedule, count: number, fromMs = Date.UTC(2024, 0, 1), years = 8): number | undefined {
  if (count <= 0) return 0;
  if (s.every !== undefined) return count * s.every;
  // The last count + 1 runs, in a ring: memory stays O(count) for a run every minute too.
  const ring = new Float64Array(count + 1);
  let seen = 0;
  let best = Number.POSITIVE_INFINITY;
  const days = Math.ceil(years * 365.25);
  for (let day = 0; day < days; day++) {
    const dayMs = fromMs + day * DAY_MS;
    if (!runsOn(s, dayMs)) continue;
    for (const h of s.hours) {
      for (const m of s.minutes) {
        const at = dayMs + h * 3_600_000 + m * 60_000;
        if (seen >= count) best = Math.min(best, at - (ring[(seen - count) % (count + 1)] ?? 0));
        ring[seen % (count + 1)] = at;
        seen++;
      }
    }
  }
  return seen > count ? best : undefined;
}
