// Structured logs: one JSON object per line on stdout, filtered by the configured level.
// Callers pass fields, never pre-formatted strings, so logs stay machine-readable. Lines written in
// the same turn of the event loop leave in one write (a write per line was a system call per request).
import type { LogLevel } from '../config'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 }

/** A buffer this large is written at once rather than at the end of the turn. */
const FLUSH_BYTES = 64 * 1024

export type LogFields = Record<string, unknown>

export interface Logger {
  enabled(level: LogLevel): boolean
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warning(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  /** Writes out what is buffered (before the process exits). */
  flush(): void
}

/**
 * A logger at `level`. With the default sink, lines are batched per event-loop turn and written to
 * stdout; the batch is also written when the process exits. A custom `write` gets every line at once.
 */
export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const threshold = RANK[level]
  const sink = write ?? batchedStdout()
  // The timestamp's text is made once per millisecond: lines of the same millisecond share it.
  let stampMs = -1
  let stamp = ''
  const log = (lvl: LogLevel) => (msg: string, fields?: LogFields) => {
    if (RANK[lvl] < threshold) return
    const now = Date.now()
    if (now !== stampMs) {
      stampMs = now
      stamp = new Date(now).toISOString()
    }
    // The envelope is written by hand: spreading the fields into a new object cost more than the line.
    const head = `{"ts":"${stamp}","level":"${lvl}","msg":${JSON.stringify(msg)}`
    const body = fields === undefined ? '' : JSON.stringify(fields)
    sink(body.length > 2 ? `${head},${body.slice(1)}\n` : `${head}}\n`)
  }
  return {
    enabled: (lvl) => RANK[lvl] >= threshold,
    debug: log('debug'),
    info: log('info'),
    warning: log('warning'),
    error: log('error'),
    flush: () => (sink as { flush?: () => void }).flush?.(),
  }
}

function batchedStdout(): ((line: string) => void) & { flush(): void } {
  let buffered = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (!buffered) return
    const out = buffered
    buffered = ''
    process.stdout.write(out)
  }
  process.on('exit', flush)
  return Object.assign(
    (line: string) => {
      buffered += line
      if (buffered.length >= FLUSH_BYTES) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    { flush },
  )
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger('error', () => {})
