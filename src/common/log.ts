// Log lines go to stderr, one per event, as text or JSON (PULP_ENTRYPOINT_LOG). The role
// owns stdout once it runs; until then stdout carries only what a command was asked to print.
import { createRedactor } from './redact.ts';
import { programNames } from './program.ts';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'trace' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;

export interface Logger {
  trace(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  readonly traceEnabled: boolean;
  /** The same logger, masking these secrets too (the plan's, once it is made). */
  withSecrets(values: readonly string[]): Logger;
}

export interface LoggerOptions {
  format: LogFormat;
  trace: boolean;
  write?: (line: string) => void;
  now?: () => Date;
  /** Secret values masked in every line (and their percent-encoded forms); shapes are always masked. */
  secrets?: readonly string[];
}

export function createLogger(opts: LoggerOptions): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const now = opts.now ?? (() => new Date());
  const redact = createRedactor(opts.secrets);
  const emit = (level: LogLevel, rawMsg: string, rawFields: LogFields = {}): void => {
    // Masked before any quoting or JSON escaping, which would change a secret's spelling.
    const msg = redact(rawMsg);
    const fields: LogFields = {};
    for (const [k, v] of Object.entries(rawFields)) fields[k] = typeof v === 'string' ? redact(v) : Array.isArray(v) ? v.map(redact) : v;
    if (opts.format === 'json') {
      const rec: Record<string, unknown> = { time: now().toISOString(), level, msg };
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) rec[k] = v;
      write(JSON.stringify(rec) + '\n');
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ');
    write(textLine(level, `${msg}${extra ? ' ' + extra : ''}`));
  };
  return {
    traceEnabled: opts.trace,
    withSecrets: (values) => createLogger({ ...opts, secrets: [...(opts.secrets ?? []), ...values] }),
    trace: (m, f) => {
      if (opts.trace) emit('trace', m, f);
    },
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** One text-format line as the logger writes it: what a preview quotes as run's own words. */
export function textLine(level: LogLevel, msg: string): string {
  return `${programNames().program}: ${level === 'info' ? '' : `${level}: `}${msg}\n`;
}

function formatValue(v: string | number | boolean | null | string[] | undefined): string {
  if (Array.isArray(v)) return v.join(',');
  const s = String(v);
  return /[\s"=]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

/** A logger that drops everything, for pure code paths under test. */
export const silentLogger: Logger = createLogger({ format: 'text', trace: false, write: () => {} });
