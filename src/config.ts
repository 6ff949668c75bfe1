// The gateway's configuration: one typed, validated, frozen Config built from
// command-line flags > environment > config file (YAML or JSON) > defaults.
// Nothing else in the program reads process.env or argv.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { TSchema } from '@sinclair/typebox'
import { Value, type ValueError } from '@sinclair/typebox/value'
import {
  adminKey,
  ConfigError,
  deepFreeze,
  envBool,
  nonEmpty,
  nonEmptyFlag,
  normaliseEngineUrl,
  parseLogLevel,
  parseNumber,
  parsePort,
  splitList,
} from './config-values'
import type { SchedulingPolicy } from './control-plane/admission-queue'
import type { LocalityOptions, RoutingStrategyName } from './control-plane/routing'
import { ConfigFileSchema, describeSchema, MAX_SECONDS, type ConfigFile } from './schemas/config-file'
import { telemetryFromEnv, type TelemetryConfig } from './telemetry/telemetry-config'

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
  /** Share of traffic relative to other engines (default 1). */
  readonly weight?: number
  /** Most requests this gateway sends it at once (default unlimited). */
  readonly maxConcurrency?: number
  /** The API the engine speaks natively: 'anthropic' engines get /v1/messages untranslated. */
  readonly api?: 'openai' | 'anthropic'
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
  readonly health: { readonly intervalMs: number; readonly timeoutMs: number; readonly failureThreshold: number }
  readonly routing: {
    readonly strategy: RoutingStrategyName
    readonly perModel: Readonly<Record<string, RoutingStrategyName>>
    readonly locality: LocalityOptions
  }
  readonly scheduling: { readonly policy: SchedulingPolicy; readonly queueSize: number; readonly queueTimeoutMs: number }
  readonly retries: { readonly max: number; readonly backoffBaseMs: number; readonly backoffMaxMs: number }
  readonly circuitBreaker: { readonly failureThreshold: number; readonly cooldownMs: number }
  /** Idle sessions older than ttlMinutes are swept (0: never); only the last maxHistoryMessages go to the engine. */
  readonly sessions: {
    readonly ttlMinutes: number
    readonly maxHistoryMessages: number
    /** The original's session-store variables that are set (ORIGINAL_SESSION_ENV): not read here, warned about at start-up. */
    readonly unreadEnv: readonly string[]
  }
  /** From the standard OTEL_* variables only. */
  readonly telemetry: TelemetryConfig
  /** Bearer key for the management API's mutating calls; without one, only loopback clients may mutate. */
  readonly adminKey?: string
  /** Static API keys; with any (or any virtual key issued), every route but the public ones needs a key. */
  readonly auth: { readonly apiKeys: readonly string[]; readonly metricsPublic: boolean; readonly docsPublic: boolean }
  /** Hostile-input limits besides maxBodyBytes. */
  readonly limits: { readonly maxMessages: number; readonly maxStringChars: number; readonly maxJsonDepth: number; readonly maxHeaderBytes: number }
  /** Browser origins allowed to call (empty: CORS off). */
  readonly cors: { readonly allowOrigins: readonly string[]; readonly maxAgeSeconds: number }
  /** How often counted usage is written to the database. */
  readonly usage: { readonly flushIntervalMs: number }
}

export { ConfigError }

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
  healthFailureThreshold: 2,
  routingStrategy: 'load_balanced' as RoutingStrategyName,
  locality: { prefixChars: 512, maxEntries: 10_000, imbalanceAbs: 8, imbalanceRel: 2 },
  schedulingPolicy: 'fifo' as SchedulingPolicy,
  queueSize: 1024,
  queueTimeoutMs: 30_000,
  retries: 2,
  backoffBaseMs: 500,
  backoffMaxMs: 10_000,
  breakerFailureThreshold: 3,
  breakerCooldownSeconds: 10,
  sessionTtlMinutes: 1440,
  maxHistoryMessages: 100,
  limits: { maxMessages: 2048, maxStringChars: 8 * 1024 * 1024, maxJsonDepth: 64, maxHeaderBytes: 8 * 1024 },
  corsMaxAgeSeconds: 600,
  usageFlushSeconds: 2,
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
  adminKey: 'SAGELLM_GATEWAY_ADMIN_KEY',
  apiKeys: 'SAGELLM_GATEWAY_API_KEYS',
  sessionTtlMinutes: 'SAGELLM_GATEWAY_SESSION_TTL_MINUTES',
} as const

/**
 * The original gateway's session-store variables. Sessions live in the SQLite database here (--db), so
 * these are not read; the gateway says so at start-up rather than ignore them silently.
 */
export const ORIGINAL_SESSION_ENV = ['SAGELLM_GATEWAY_SESSION_BACKEND', 'SAGELLM_GATEWAY_SESSION_FILE_PATH', 'SAGELLM_GATEWAY_SESSION_REDIS_URL'] as const

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
  'admin-key': { type: 'string' },
  'api-key': { type: 'string', multiple: true },
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

  // Checked even when a flag or the environment overrides it: a wrong file is wrong either way.
  const fileLogLevel = parseLogLevel(file.log_level, 'log_level')
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
    logLevel: parseLogLevel(flags['log-level'], '--log-level') ?? parseLogLevel(env[ENV.logLevel], ENV.logLevel) ?? fileLogLevel ?? DEFAULTS.logLevel,
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
      failureThreshold: file.health?.failure_threshold ?? DEFAULTS.healthFailureThreshold,
    },
    routing: {
      strategy: file.routing?.strategy ?? DEFAULTS.routingStrategy,
      perModel: file.routing?.per_model ?? {},
      locality: {
        prefixChars: file.routing?.locality?.prefix_chars ?? DEFAULTS.locality.prefixChars,
        maxEntries: file.routing?.locality?.max_entries ?? DEFAULTS.locality.maxEntries,
        imbalanceAbs: file.routing?.locality?.imbalance_abs ?? DEFAULTS.locality.imbalanceAbs,
        imbalanceRel: file.routing?.locality?.imbalance_rel ?? DEFAULTS.locality.imbalanceRel,
      },
    },
    scheduling: {
      policy: file.scheduling?.policy ?? DEFAULTS.schedulingPolicy,
      queueSize: file.scheduling?.queue_size ?? DEFAULTS.queueSize,
      queueTimeoutMs: file.scheduling?.queue_timeout_ms ?? DEFAULTS.queueTimeoutMs,
    },
    retries: {
      max: file.retries?.max ?? DEFAULTS.retries,
      backoffBaseMs: file.retries?.backoff_base_ms ?? DEFAULTS.backoffBaseMs,
      backoffMaxMs: file.retries?.backoff_max_ms ?? DEFAULTS.backoffMaxMs,
    },
    circuitBreaker: {
      failureThreshold: file.circuit_breaker?.failure_threshold ?? DEFAULTS.breakerFailureThreshold,
      cooldownMs: 1000 * (file.circuit_breaker?.cooldown_seconds ?? DEFAULTS.breakerCooldownSeconds),
    },
    telemetry: telemetryFromEnv(env),
    sessions: {
      ttlMinutes:
        parseNumber(env[ENV.sessionTtlMinutes], ENV.sessionTtlMinutes, { min: 0, max: 1e9 }) ??
        file.sessions?.ttl_minutes ??
        DEFAULTS.sessionTtlMinutes,
      maxHistoryMessages: file.sessions?.max_history_messages ?? DEFAULTS.maxHistoryMessages,
      unreadEnv: ORIGINAL_SESSION_ENV.filter((name) => env[name]),
    },
    adminKey: adminKey(nonEmptyFlag(flags['admin-key'], '--admin-key') ?? nonEmpty(env[ENV.adminKey]) ?? file.admin_key),
    auth: {
      // Keys come whole from the highest source that names any, as engines do.
      apiKeys: apiKeys(
        flags['api-key']?.length ? { keys: flags['api-key'], source: '--api-key' }
        : nonEmpty(env[ENV.apiKeys]) ? { keys: splitList(env[ENV.apiKeys]!), source: ENV.apiKeys }
        : { keys: file.auth?.api_keys ?? [], source: 'auth.api_keys' },
      ),
      metricsPublic: file.auth?.metrics_public ?? false,
      docsPublic: file.auth?.docs_public ?? true,
    },
    limits: {
      maxMessages: file.limits?.max_messages ?? DEFAULTS.limits.maxMessages,
      maxStringChars: file.limits?.max_string_chars ?? DEFAULTS.limits.maxStringChars,
      maxJsonDepth: file.limits?.max_json_depth ?? DEFAULTS.limits.maxJsonDepth,
      maxHeaderBytes: file.limits?.max_header_bytes ?? DEFAULTS.limits.maxHeaderBytes,
    },
    cors: {
      allowOrigins: file.cors?.allow_origins ?? [],
      maxAgeSeconds: file.cors?.max_age_seconds ?? DEFAULTS.corsMaxAgeSeconds,
    },
    usage: { flushIntervalMs: 1000 * (file.usage?.flush_interval_seconds ?? DEFAULTS.usageFlushSeconds) },
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
    const first = innermostError(Value.Errors(ConfigFileSchema, parsed).First()!)
    // A JSON pointer: `/` between keys, and `~1`, `~0` for a `/` or `~` inside one.
    const key = first.path.replace(/^\//, '').replaceAll('/', '.').replaceAll('~1', '/').replaceAll('~0', '~') || '(top level)'
    const hint = first.message.startsWith('Unexpected property')
      ? 'unknown key'
      : first.message === 'Expected required property'
        ? 'required, and missing'
      : describeSchema(first.schema as never)
        ? `expected ${describeSchema(first.schema as never)}`
        : first.message.toLowerCase()
    throw new ConfigError(`config file ${path}: ${key}: ${hint}`)
  }
  return parsed
}

/**
 * A union (an engine: a URL or an object) reports only that no form fits; an object given for it is
 * checked against the union's object form, so the key inside it that is wrong gets named.
 */
function innermostError(error: ValueError): ValueError {
  const objectForm = (error.schema as { anyOf?: TSchema[] }).anyOf?.find((form) => form.type === 'object')
  const value = error.value as unknown
  if (!objectForm || typeof value !== 'object' || value === null || Array.isArray(value)) return error
  const inner = Value.Errors(objectForm, value).First()
  return inner ? { ...inner, path: `${error.path}${inner.path}` } : error
}

function engineFromFile(entry: ConfigFile['engines'] extends (infer E)[] | undefined ? E : never, i: number): EngineConfig {
  if (typeof entry === 'string') return { url: normaliseEngineUrl(entry, `engines[${i}]`), engineKind: 'llm' }
  return {
    url: normaliseEngineUrl(entry.url, `engines[${i}].url`),
    engineId: entry.engine_id,
    engineKind: entry.engine_kind ?? 'llm',
    modelId: entry.model_id,
    apiKey: entry.api_key,
    weight: entry.weight,
    maxConcurrency: entry.max_concurrency,
    api: entry.api,
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


function apiKeys({ keys, source }: { keys: readonly string[]; source: string }): string[] {
  const trimmed = keys.map((k) => k.trim())
  for (const key of trimmed) if (key.length < 16) throw new ConfigError(`${source}: every API key must be at least 16 characters long`)
  return [...new Set(trimmed)]
}

function rejectDuplicates(engines: EngineConfig[]): EngineConfig[] {
  const seen = new Set<string>()
  for (const e of engines) {
    if (seen.has(e.url)) throw new ConfigError(`engine ${e.url} is listed twice`)
    seen.add(e.url)
  }
  return engines
}
