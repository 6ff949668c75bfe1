// The gateway's configuration: one typed, validated, frozen Config built from
// command-line flags > environment > config file (YAML or JSON) > defaults.
// Nothing else in the program reads process.env or argv.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Value } from '@sinclair/typebox/value'
import { ConfigFileSchema, describeSchema, MAX_SECONDS, type ConfigFile } from './schemas/config-file'

export { ConfigFileSchema }

export type LogLevel = 'debug' | 'info' | 'warning' | 'error'

export interface EngineConfig {
  /** OpenAI-compatible base URL, normalised to end in the API prefix (e.g. http://10.0.0.5:8000/v1). */
  readonly url: string
  readonly engineId?: string
  /** "llm", "embedding" or free text (the original's engine_kind). */
  readonly engineKind: string
  /** The model the operator declared for this engine (SAGELLM_ENGINE_MODEL); discovery still runs. */
  readonly modelId?: string
  /** Bearer key the engine itself requires (vLLM --api-key); never logged. */
  readonly apiKey?: string
}

export interface Config {
  readonly host: string
  readonly port: number
  readonly configFile?: string
  readonly dbPath: string
  readonly engines: readonly EngineConfig[]
  readonly mock: { readonly enabled: boolean; readonly models: readonly string[]; readonly chunkDelayMs: number }
  readonly logLevel: LogLevel
  readonly requestTimeoutMs: number
  readonly maxBodyBytes: number
  readonly drainTimeoutMs: number
  readonly health: { readonly intervalMs: number; readonly timeoutMs: number }
}

/** A configuration problem: main prints its message as one line and exits with code 2. */
export class ConfigError extends Error {}

/** What the caller asked for besides running: `--version` and `--help` short-circuit start-up. */
export type CliAction = { action: 'run'; config: Config } | { action: 'version' } | { action: 'help' }

export const DEFAULTS = {
  host: '0.0.0.0',
  port: 8080,
  dbPath: './sagellm-gateway.db',
  mockModels: ['mock'],
  mockChunkDelayMs: 0,
  logLevel: 'info' as LogLevel,
  requestTimeoutSeconds: 600,
  maxBodyBytes: 16 * 1024 * 1024,
  drainTimeoutSeconds: 30,
  healthIntervalSeconds: 10,
  healthTimeoutSeconds: 5,
} as const

/** Environment variables read by the gateway (documented in README's table). */
export const ENV = {
  host: 'SAGELLM_GATEWAY_HOST',
  port: 'SAGELLM_GATEWAY_PORT',
  config: 'SAGELLM_GATEWAY_CONFIG',
  db: 'SAGELLM_GATEWAY_DB',
  engines: 'SAGELLM_GATEWAY_ENGINES',
  logLevel: 'SAGELLM_GATEWAY_LOG_LEVEL',
  mockMode: 'SAGELLM_MOCK_MODE',
  engineHost: 'SAGELLM_ENGINE_HOST',
  enginePort: 'SAGELLM_ENGINE_PORT',
  engineModel: 'SAGELLM_ENGINE_MODEL',
  engineId: 'SAGELLM_ENGINE_ID',
} as const

const FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  config: { type: 'string' },
  db: { type: 'string' },
  engine: { type: 'string', multiple: true },
  mock: { type: 'boolean' },
  'mock-model': { type: 'string', multiple: true },
  'mock-chunk-delay-ms': { type: 'string' },
  'log-level': { type: 'string' },
  'request-timeout': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'drain-timeout': { type: 'string' },
  // Accepted so the original's launch lines keep working: the control plane is always embedded here.
  'control-plane': { type: 'boolean' },
  version: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const


export interface ConfigSources {
  argv: readonly string[]
  env: Readonly<Record<string, string | undefined>>
  /** Reads a config file's text; throws when missing or unreadable. */
  readFile?: (path: string) => string
}

export function loadConfig({ argv, env, readFile = readTextFile }: ConfigSources): CliAction {
  let flags: ReturnType<typeof parseFlags>
  try {
    flags = parseFlags(argv)
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (see --help)`)
  }
  if (flags.help) return { action: 'help' }
  if (flags.version) return { action: 'version' }

  const configFile = flags.config ?? nonEmpty(env[ENV.config])
  const file = configFile ? readConfigFile(configFile, readFile) : {}

  const mockEnabled = flags.mock ?? envBool(env, ENV.mockMode) ?? file.mock?.enabled ?? false
  // Engines come whole from the highest source that names any: flags, else environment, else file.
  const envEngines = [
    ...splitList(env[ENV.engines] ?? '').map((url) => ({ url: normaliseEngineUrl(url, ENV.engines), engineKind: 'llm' })),
    ...singleEngineFromEnv(env),
  ]
  const engines = rejectDuplicates(
    flags.engine?.length
      ? flags.engine.map((url) => ({ url: normaliseEngineUrl(url, '--engine'), engineKind: 'llm' }))
      : envEngines.length
        ? envEngines
        : (file.engines ?? []).map((entry, i) => engineFromFile(entry, i)),
  )

  const config: Config = {
    host: nonEmptyFlag(flags.host, '--host') ?? nonEmpty(env[ENV.host]) ?? file.host ?? DEFAULTS.host,
    port: parsePort(flags.port, '--port') ?? parsePort(env[ENV.port], ENV.port) ?? file.port ?? DEFAULTS.port,
    configFile,
    dbPath: nonEmptyFlag(flags.db, '--db') ?? nonEmpty(env[ENV.db]) ?? file.db ?? DEFAULTS.dbPath,
    engines,
    mock: {
      enabled: mockEnabled,
      models: flags['mock-model']?.length ? flags['mock-model'] : (file.mock?.models ?? DEFAULTS.mockModels),
      chunkDelayMs:
        parseNumber(flags['mock-chunk-delay-ms'], '--mock-chunk-delay-ms', { min: 0, max: MAX_SECONDS * 1000 }) ??
        file.mock?.chunk_delay_ms ??
        DEFAULTS.mockChunkDelayMs,
    },
    logLevel: parseLogLevel(flags['log-level'], '--log-level') ??
      parseLogLevel(env[ENV.logLevel], ENV.logLevel) ??
      parseLogLevel(file.log_level, 'log_level') ??
      DEFAULTS.logLevel,
    requestTimeoutMs:
      1000 *
      (parseNumber(flags['request-timeout'], '--request-timeout', { min: 0, exclusive: true, max: MAX_SECONDS }) ??
        file.request_timeout_seconds ??
        DEFAULTS.requestTimeoutSeconds),
    maxBodyBytes:
      parseNumber(flags['max-body-bytes'], '--max-body-bytes', { min: 1, integer: true }) ??
      file.max_body_bytes ??
      DEFAULTS.maxBodyBytes,
    drainTimeoutMs:
      1000 *
      (parseNumber(flags['drain-timeout'], '--drain-timeout', { min: 0, max: MAX_SECONDS }) ??
        file.drain_timeout_seconds ??
        DEFAULTS.drainTimeoutSeconds),
    health: {
      intervalMs: 1000 * (file.health?.interval_seconds ?? DEFAULTS.healthIntervalSeconds),
      timeoutMs: 1000 * (file.health?.timeout_seconds ?? DEFAULTS.healthTimeoutSeconds),
    },
  }
  return { action: 'run', config: deepFreeze(config) }
}

function parseFlags(argv: readonly string[]) {
  const { values, positionals } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true })
  if (positionals.length) throw new Error(`Unexpected argument '${positionals[0]}'`)
  return values
}

function readTextFile(path: string): string {
  return readFileSync(path, 'utf8')
}

function readConfigFile(path: string, readFile: (path: string) => string): ConfigFile {
  let text: string
  try {
    text = readFile(path)
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message
    throw new ConfigError(`cannot read config file ${path}: ${reason}`)
  }
  let parsed: unknown
  try {
    parsed = /\.json$/i.test(path) ? JSON.parse(text) : Bun.YAML.parse(text)
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(e as Error).message}`)
  }
  if (parsed === null || parsed === undefined) return {}
  if (!Value.Check(ConfigFileSchema, parsed)) {
    const first = Value.Errors(ConfigFileSchema, parsed).First()!
    const key = first.path.replace(/^\//, '').replaceAll('/', '.') || '(top level)'
    const hint = first.message.startsWith('Unexpected property')
      ? 'unknown key'
      : describeSchema(first.schema as never)
        ? `expected ${describeSchema(first.schema as never)}`
        : first.message.toLowerCase()
    throw new ConfigError(`config file ${path}: ${key}: ${hint}`)
  }
  return parsed
}

function engineFromFile(entry: ConfigFile['engines'] extends (infer E)[] | undefined ? E : never, i: number): EngineConfig {
  if (typeof entry === 'string') return { url: normaliseEngineUrl(entry, `engines[${i}]`), engineKind: 'llm' }
  return {
    url: normaliseEngineUrl(entry.url, `engines[${i}].url`),
    engineId: entry.engine_id,
    engineKind: entry.engine_kind ?? 'llm',
    modelId: entry.model_id,
    apiKey: entry.api_key,
  }
}

function singleEngineFromEnv(env: ConfigSources['env']): EngineConfig[] {
  const host = nonEmpty(env[ENV.engineHost])
  if (!host) return []
  const port = parsePort(env[ENV.enginePort], ENV.enginePort)
  if (port === undefined) throw new ConfigError(`${ENV.engineHost} is set but ${ENV.enginePort} is not`)
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return [
    {
      url: normaliseEngineUrl(`http://${bracketed}:${port}`, ENV.engineHost),
      engineId: nonEmpty(env[ENV.engineId]),
      engineKind: 'llm',
      modelId: nonEmpty(env[ENV.engineModel]),
    },
  ]
}

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

function rejectDuplicates(engines: EngineConfig[]): EngineConfig[] {
  const seen = new Set<string>()
  for (const e of engines) {
    if (seen.has(e.url)) throw new ConfigError(`engine ${e.url} is listed twice`)
    seen.add(e.url)
  }
  return engines
}

function parsePort(raw: string | undefined, source: string): number | undefined {
  return parseNumber(raw, source, { min: 0, max: 65535, integer: true })
}

function parseNumber(
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

function parseLogLevel(raw: string | undefined, source: string): LogLevel | undefined {
  if (raw === undefined || raw.trim() === '') return undefined
  const level = raw.trim().toLowerCase()
  if (level === 'warn') return 'warning'
  if (level === 'debug' || level === 'info' || level === 'warning' || level === 'error') return level
  throw new ConfigError(`${source}: '${raw}' is not a log level (debug, info, warning, error)`)
}

function envBool(env: ConfigSources['env'], name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase()
  if (!raw) return undefined
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true
  if (['0', 'false', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(`${name}: '${env[name]}' is not a boolean (1/0, true/false)`)
}

function splitList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean)
}

function nonEmptyFlag(raw: string | undefined, flag: string): string | undefined {
  if (raw !== undefined && !raw.trim()) throw new ConfigError(`${flag} must not be empty`)
  return raw?.trim()
}

function nonEmpty(raw: string | undefined): string | undefined {
  return raw?.trim() ? raw.trim() : undefined
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

export const HELP = `sagellm-gateway: OpenAI/Anthropic-compatible gateway for self-hosted inference engines

Usage: sagellm-gateway [options]

  --host HOST                 listen address            (env ${ENV.host}, default ${DEFAULTS.host})
  --port PORT                 listen port               (env ${ENV.port}, default ${DEFAULTS.port})
  --config FILE               YAML or JSON config file  (env ${ENV.config})
  --db PATH                   SQLite database file, or :memory: (env ${ENV.db}, default ${DEFAULTS.dbPath})
  --engine URL                OpenAI-compatible engine base URL, repeatable (env ${ENV.engines}, comma-separated)
  --mock                      start the built-in mock engine (env ${ENV.mockMode}=1)
  --mock-model NAME           model id served by the mock engine, repeatable (default: mock)
  --mock-chunk-delay-ms MS    pause between the mock engine's stream chunks (default 0)
  --log-level LEVEL           debug, info, warning or error (env ${ENV.logLevel}, default info)
  --request-timeout SECONDS   wait for an engine's first byte, and longest silence in a stream (default 600)
  --max-body-bytes N          largest accepted request body (default ${DEFAULTS.maxBodyBytes})
  --drain-timeout SECONDS     on SIGTERM/SIGINT, how long in-flight requests may finish (default 30)
  --control-plane             accepted for compatibility; the control plane is always embedded
  -v, --version               print the version and exit
  -h, --help                  print this help and exit

Single engine, as the original: ${ENV.engineHost}, ${ENV.enginePort}, ${ENV.engineModel}, ${ENV.engineId}.
`
