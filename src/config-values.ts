// Parsing of single configuration values (numbers, ports, log levels, booleans, engine URLs), each
// failing with a ConfigError that names where the value came from. Pure: reads no environment.
import type { LogLevel } from './config'

/** A configuration problem: main prints its message as one line and exits with code 2. */
export class ConfigError extends Error {}

/** Accepts `http(s)://host[:port][/prefix]`; a bare origin gets the OpenAI prefix `/v1`. */
export function normaliseEngineUrl(raw: string, source: string): string {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new ConfigError(`${source}: '${raw}' is not a valid engine URL (expected e.g. http://10.0.0.5:8000/v1)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`${source}: '${raw}' must use http:// or https://`)
  if (!url.hostname) throw new ConfigError(`${source}: '${raw}' has no host`)
  if (url.search || url.hash || url.username || url.password)
    throw new ConfigError(`${source}: '${raw}' must be a plain base URL without query, fragment or credentials`)
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.protocol}//${url.host}${path === '' ? '/v1' : path}`
}

export function parsePort(raw: string | undefined, source: string): number | undefined {
  return parseNumber(raw, source, { min: 0, max: 65535, integer: true })
}

export function parseNumber(
  raw: string | undefined,
  source: string,
  { min, max, integer = false, exclusive = false }: { min?: number; max?: number; integer?: boolean; exclusive?: boolean },
): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined
  const n = Number(raw)
  const tooLow = min !== undefined && (exclusive ? n <= min : n < min)
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || tooLow || (max !== undefined && n > max)) {
    const range = `${integer ? 'an integer' : 'a number'}${min !== undefined ? ` ${exclusive ? '>' : '>='} ${min}` : ''}${max !== undefined ? ` and <= ${max}` : ''}`
    throw new ConfigError(`${source}: '${raw}' is not ${range}`)
  }
  return n
}

export function parseLogLevel(raw: string | undefined, source: string): LogLevel | undefined {
  if (raw === undefined || raw.trim() === '') return undefined
  const level = raw.trim().toLowerCase()
  if (level === 'warn') return 'warning'
  if (level === 'debug' || level === 'info' || level === 'warning' || level === 'error') return level
  throw new ConfigError(`${source}: '${raw}' is not a log level (debug, info, warning, error)`)
}

export function envBool(env: Readonly<Record<string, string | undefined>>, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase()
  if (!raw) return undefined
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(`${name}: '${env[name]}' is not a boolean (1/0, true/false)`)
}

export function splitList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean)
}

/** An admin key short enough to guess is worse than none: refuse it. */
export function adminKey(key: string | undefined): string | undefined {
  if (key !== undefined && key.length < 16) throw new ConfigError('the admin key must be at least 16 characters long')
  return key
}

export function nonEmptyFlag(raw: string | undefined, flag: string): string | undefined {
  if (raw !== undefined && !raw.trim()) throw new ConfigError(`${flag} must not be empty`)
  return raw?.trim()
}

export function nonEmpty(raw: string | undefined): string | undefined {
  return raw?.trim() ? raw.trim() : undefined
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** Whether a listen address (or a client's address) is this machine's own loopback. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host)
}
