// Structured logs: one JSON object per line on stdout, filtered by the configured level.
// Callers pass fields, never pre-formatted strings, so logs stay machine-readable.
import type { LogLevel } from '../config'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 }

export type LogFields = Record<string, unknown>

export interface Logger {
  enabled(level: LogLevel): boolean
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warning(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
}

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const threshold = RANK[level]
  const log = (lvl: LogLevel) => (msg: string, fields?: LogFields) => {
    if (RANK[lvl] < threshold) return
    write(`${JSON.stringify({ ts: new Date().toISOString(), level: lvl, msg, ...fields })}\n`)
  }
  return {
    enabled: (lvl) => RANK[lvl] >= threshold,
    debug: log('debug'),
    info: log('info'),
    warning: log('warning'),
    error: log('error'),
  }
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger('error', () => {})
