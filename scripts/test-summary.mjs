#!/usr/bin/env node
// The last lines of `npm test` (scripts/test.sh), all that a CI record may keep: from tap's TAP
// output, each test file that failed with its failed subtests (the path of names down to the
// failed assertion, and where it is), then the counts line. A file that failed without a failed
// subtest (it crashed, was killed, timed out) is named with how it ended.
//
//   node scripts/test-summary.mjs FILE.tap     (or the TAP on stdin)
//
// Prints at most MAX_LINES failure lines, then how many more the log above holds.
import { readFileSync } from 'node:fs';

const MAX_LINES = 40;

/**
 * @param {string} tap tap's output with --reporter=tap
 * @returns {{ files: { name: string, ended: string | undefined, failures: string[] }[], counts: Record<string, number> | undefined }}
 */
export function failuresOf(tap) {
  const lines = tap.split('\n');
  /** @type {string[]} the names of the subtests open at each depth */
  const open = [];
  /** @type {{ name: string, ended: string | undefined, failures: string[] }[]} */
  const files = [];
  /** @type {{ depth: number, path: string[], at: string | undefined, ended: string | undefined }[]} */
  const failed = [];
  let counts;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const indent = /^ */.exec(line)?.[0].length ?? 0;
    const depth = Math.floor(indent / 4);
    const text = line.slice(indent);
    const subtest = /^# Subtest: (.*)$/.exec(text);
    if (subtest) {
      open.length = depth;
      open[depth] = subtest[1] ?? '';
      continue;
    }
    const summary = /^# \{ (.*) \}$/.exec(line);
    if (summary) {
      counts = Object.fromEntries((summary[1] ?? '').split(', ').map((kv) => kv.split(': ')).map(([k, v]) => [k, Number(v)]));
      continue;
    }
    const result = /^not ok \d+ - (.*?)(?: # (TODO|time=)[^#]*)?$/.exec(text);
    if (!result || result[2] === 'TODO') continue;
    const desc = result[1] ?? '';
    // Its YAML block, indented two more: where it failed, or how a test file ended.
    const yaml = [];
    if ((lines[i + 1] ?? '').slice(indent) === '  ---') {
      for (i += 2; i < lines.length && (lines[i] ?? '').slice(indent) !== '  ...'; i++) yaml.push((lines[i] ?? '').slice(indent + 2));
    }
    const field = (name) => yaml.map((l) => new RegExp(`^\\s*${name}: (.*)$`).exec(l)?.[1]).find((v) => v !== undefined);
    const file = field('fileName');
    const lineNumber = field('lineNumber');
    const code = field('exitCode');
    const signal = field('signal');
    const expired = field('expired');
    const ended =
      signal && signal !== 'null'
        ? `killed by ${signal}`
        : code && code !== '0' && code !== 'null'
          ? `exit code ${code}`
          : expired
            ? `timed out${expired === 'TAP' ? '' : `: ${expired}`}`
            : undefined;
    // A subtest's own result closes it: it is a failure of its own only when no child failed.
    const path = [...open.slice(0, depth), desc];
    const closes = open[depth] === desc;
    if (closes) open.length = depth;
    if (depth === 0) {
      files.push({ name: desc, ended, failures: failed.filter((f) => f.path[0] === desc).map(describe) });
      continue;
    }
    if (closes && failed.some((f) => f.depth > depth && path.every((p, k) => f.path[k] === p))) continue;
    failed.push({ depth, path, at: file && lineNumber ? `${file}:${lineNumber}` : undefined, ended });
  }
  return { files, counts };
}

/** "group > subtest > assertion (file:line)" without the file's own name, which heads the list. */
function describe(f) {
  const where = f.at ? ` (${f.at})` : f.ended ? ` (${f.ended})` : '';
  return `${f.path.slice(1).join(' > ')}${where}`;
}

/** The lines to print: the failures, bounded, then the counts. */
export function summaryLines(tap, max = MAX_LINES) {
  const { files, counts } = failuresOf(tap);
  const out = [];
  let shown = 0;
  let hidden = 0;
  for (const f of files) {
    const rows = [`FAILED ${f.name}${f.ended ? ` (${f.ended})` : ''}`, ...f.failures.map((x) => `  ${x}`)];
    for (const row of rows) {
      if (shown < max) {
        out.push(row);
        shown++;
      } else hidden++;
    }
  }
  if (hidden > 0) out.push(`  ... and ${hidden} more lines of failures: search the log above for "not ok"`);
  if (!counts) {
    out.push('tests: tap gave no summary (it was stopped or crashed): see the log above');
    return out;
  }
  const n = (k) => counts[k] ?? 0;
  out.push(`tests: ${n('pass')} passed, ${n('fail')} failed, ${n('skip') + n('todo')} skipped`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  const tap = readFileSync(file ?? 0, 'utf8');
  process.stdout.write(summaryLines(tap).join('\n') + '\n');
}
