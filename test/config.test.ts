// loadConfig() as a pure function of argv, env and a file reader: defaults, precedence
// (flags > env > file > defaults), engine URL normalisation, engine lists, config files, freezing.
import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { TSchema } from '@sinclair/typebox'
import { ConfigError, ConfigFileSchema, DEFAULTS, ENV, loadConfig, type CliAction, type Config } from '../src/config'
import { isLoopbackHost } from '../src/config-values'

const EXAMPLE_CONFIG = join(import.meta.dir, '..', 'deploy', 'config.example.yaml')
const EXAMPLE_ENV = join(import.meta.dir, '..', 'deploy', 'env.example')

/** A file reader serving the given files; anything else is missing, like readFileSync would say. */
function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    if (path in contents) return contents[path]!
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' })
  }
}

function configOf(argv: string[] = [], env: Record<string, string> = {}, fileContents: Record<string, string> = {}): Config {
  const cli: CliAction = loadConfig({ argv, env, readFile: files(fileContents) })
  if (cli.action !== 'run') throw new Error(`expected a run action, got ${cli.action}`)
  return cli.config
}

function configError(argv: string[], env: Record<string, string> = {}, fileContents: Record<string, string> = {}): string {
  try {
    loadConfig({ argv, env, readFile: files(fileContents) })
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('defaults', () => {
  test('with no flags, env or file every value is the documented default', () => {
    expect(configOf()).toEqual({
      host: DEFAULTS.host,
      port: 8080,
      configFile: undefined,
      dbPath: './sagellm-gateway.db',
      engines: [],
      mock: { enabled: false, models: ['mock'], chunkDelayMs: 0 },
      logLevel: 'info',
      requestTimeoutMs: 600_000,
      maxBodyBytes: 16 * 1024 * 1024,
      drainTimeoutMs: 30_000,
      health: { intervalMs: 10_000, timeoutMs: 5_000, failureThreshold: 2 },
      routing: {
        strategy: 'load_balanced',
        perModel: {},
        locality: { prefixChars: 512, maxEntries: 10_000, imbalanceAbs: 8, imbalanceRel: 2 },
      },
      scheduling: { policy: 'fifo', queueSize: 1024, queueTimeoutMs: 30_000 },
      retries: { max: 2, backoffBaseMs: 500, backoffMaxMs: 10_000 },
      circuitBreaker: { failureThreshold: 3, cooldownMs: 10_000 },
      sessions: { ttlMinutes: 1440, maxHistoryMessages: 100, unreadEnv: [] },
      telemetry: { serviceName: 'sagellm-gateway', tracesEndpoint: undefined, headers: {}, sampler: 'parentbased_always_on', samplerRatio: 1, captureContent: false },
      adminKey: undefined,
      auth: { apiKeys: [], metricsPublic: false, docsPublic: true },
      limits: { maxMessages: 2048, maxStringChars: 8 * 1024 * 1024, maxJsonDepth: 64, maxHeaderBytes: 8 * 1024 },
      cors: { allowOrigins: [], maxAgeSeconds: 600 },
      usage: { flushIntervalMs: 2000 },
    })
  })

  test('--version and --help short-circuit, even beside an unreadable config file', () => {
    expect(loadConfig({ argv: ['--version', '--config', '/missing.yaml'], env: {}, readFile: files({}) })).toEqual({ action: 'version' })
    expect(loadConfig({ argv: ['-v'], env: {} })).toEqual({ action: 'version' })
    expect(loadConfig({ argv: ['--help'], env: {} })).toEqual({ action: 'help' })
    expect(loadConfig({ argv: ['-h'], env: {} })).toEqual({ action: 'help' })
  })

  test('--control-plane is accepted and changes nothing', () => {
    expect(configOf(['--control-plane'])).toEqual(configOf())
  })
})

describe('precedence: flags > env > file > defaults', () => {
  const file = {
    '/etc/gw.yaml': 'host: 10.0.0.1\nport: 1111\ndb: /file.db\nlog_level: error\nengines: [http://file-engine:8000]\n',
  }

  test('the file beats the defaults', () => {
    const c = configOf(['--config', '/etc/gw.yaml'], {}, file)
    expect([c.host, c.port, c.dbPath, c.logLevel]).toEqual(['10.0.0.1', 1111, '/file.db', 'error'])
    expect(c.engines.map((e) => e.url)).toEqual(['http://file-engine:8000/v1'])
    expect(c.configFile).toBe('/etc/gw.yaml')
  })

  test('the environment beats the file', () => {
    const env = {
      SAGELLM_GATEWAY_HOST: '10.0.0.2',
      SAGELLM_GATEWAY_PORT: '2222',
      SAGELLM_GATEWAY_DB: '/env.db',
      SAGELLM_GATEWAY_LOG_LEVEL: 'warn',
      SAGELLM_GATEWAY_ENGINES: 'http://env-engine:8000',
    }
    const c = configOf(['--config', '/etc/gw.yaml'], env, file)
    expect([c.host, c.port, c.dbPath, c.logLevel]).toEqual(['10.0.0.2', 2222, '/env.db', 'warning'])
    expect(c.engines.map((e) => e.url)).toEqual(['http://env-engine:8000/v1'])
  })

  test('flags beat the environment', () => {
    const env = { SAGELLM_GATEWAY_HOST: '10.0.0.2', SAGELLM_GATEWAY_PORT: '2222', SAGELLM_GATEWAY_DB: '/env.db', SAGELLM_GATEWAY_LOG_LEVEL: 'warn', SAGELLM_GATEWAY_ENGINES: 'http://env-engine:8000' }
    const argv = ['--config', '/etc/gw.yaml', '--host', '10.0.0.3', '--port', '3333', '--db', '/flag.db', '--log-level', 'debug', '--engine', 'http://flag-engine:8000']
    const c = configOf(argv, env, file)
    expect([c.host, c.port, c.dbPath, c.logLevel]).toEqual(['10.0.0.3', 3333, '/flag.db', 'debug'])
    expect(c.engines.map((e) => e.url)).toEqual(['http://flag-engine:8000/v1'])
  })

  test('SAGELLM_GATEWAY_CONFIG names the file, and --config beats it', () => {
    const two = { '/a.yaml': 'port: 1001\n', '/b.yaml': 'port: 1002\n' }
    expect(configOf([], { SAGELLM_GATEWAY_CONFIG: '/a.yaml' }, two).port).toBe(1001)
    expect(configOf(['--config', '/b.yaml'], { SAGELLM_GATEWAY_CONFIG: '/a.yaml' }, two).port).toBe(1002)
  })

  test("the original's session-store variables are not read, only named: sessions.unreadEnv lists those set", () => {
    expect(configOf([], { SAGELLM_GATEWAY_SESSION_BACKEND: 'redis', SAGELLM_GATEWAY_SESSION_FILE_PATH: '', SAGELLM_GATEWAY_SESSION_REDIS_URL: 'redis://h:6379' }).sessions.unreadEnv).toEqual([
      'SAGELLM_GATEWAY_SESSION_BACKEND',
      'SAGELLM_GATEWAY_SESSION_REDIS_URL',
    ])
  })

  test('empty environment variables count as unset', () => {
    const c = configOf(['--config', '/etc/gw.yaml'], { SAGELLM_GATEWAY_PORT: '', SAGELLM_GATEWAY_HOST: '  ', SAGELLM_GATEWAY_ENGINES: ' ' }, file)
    expect([c.host, c.port]).toEqual(['10.0.0.1', 1111])
    expect(c.engines.map((e) => e.url)).toEqual(['http://file-engine:8000/v1'])
  })

  test('mock: --mock > SAGELLM_MOCK_MODE > mock.enabled in the file', () => {
    const on = { '/m.yaml': 'mock: { enabled: true, models: [a, b], chunk_delay_ms: 7 }\n' }
    expect(configOf(['--config', '/m.yaml'], {}, on).mock).toEqual({ enabled: true, models: ['a', 'b'], chunkDelayMs: 7 })
    expect(configOf(['--config', '/m.yaml'], { SAGELLM_MOCK_MODE: '0' }, on).mock.enabled).toBe(false)
    expect(configOf([], { SAGELLM_MOCK_MODE: '1' }).mock.enabled).toBe(true)
    expect(configOf([], { SAGELLM_MOCK_MODE: 'true' }).mock.enabled).toBe(true)
    expect(configOf(['--mock'], { SAGELLM_MOCK_MODE: 'off' }).mock.enabled).toBe(true)
    expect(configOf(['--config', '/m.yaml', '--mock-model', 'x', '--mock-chunk-delay-ms', '3'], {}, on).mock).toEqual({ enabled: true, models: ['x'], chunkDelayMs: 3 })
    expect(configError([], { SAGELLM_MOCK_MODE: 'maybe' })).toContain('SAGELLM_MOCK_MODE')
  })

  test('timeouts and limits: flags beat the file, seconds become milliseconds', () => {
    const f = { '/t.yaml': 'request_timeout_seconds: 5\ndrain_timeout_seconds: 2.5\nmax_body_bytes: 1000\nhealth: { interval_seconds: 1, timeout_seconds: 0.5 }\n' }
    const fromFile = configOf(['--config', '/t.yaml'], {}, f)
    expect(fromFile).toMatchObject({ requestTimeoutMs: 5000, drainTimeoutMs: 2500, maxBodyBytes: 1000, health: { intervalMs: 1000, timeoutMs: 500 } })
    const fromFlags = configOf(['--config', '/t.yaml', '--request-timeout', '7', '--drain-timeout', '0', '--max-body-bytes', '2000'], {}, f)
    expect(fromFlags).toMatchObject({ requestTimeoutMs: 7000, drainTimeoutMs: 0, maxBodyBytes: 2000 })
  })
})

describe('engine URLs', () => {
  const urlOf = (raw: string) => configOf(['--engine', raw]).engines[0]!.url

  test('a bare origin gets the /v1 prefix', () => {
    expect(urlOf('http://h:8000')).toBe('http://h:8000/v1')
    expect(urlOf('http://h:8000/')).toBe('http://h:8000/v1')
  })

  test('a trailing slash is removed and an explicit prefix kept', () => {
    expect(urlOf('http://h:8000/v1/')).toBe('http://h:8000/v1')
    expect(urlOf('http://h:8000/engine/v1')).toBe('http://h:8000/engine/v1')
  })

  test('https is kept and default ports are dropped', () => {
    expect(urlOf('https://engine.example.com')).toBe('https://engine.example.com/v1')
    expect(urlOf('https://engine.example.com:443/v1')).toBe('https://engine.example.com/v1')
    expect(urlOf('http://[::1]:8000')).toBe('http://[::1]:8000/v1')
  })

  test('non-URLs, other schemes and URLs with credentials or queries are rejected, naming the value', () => {
    expect(configError(['--engine', 'not-a-url'])).toContain("'not-a-url'")
    expect(configError(['--engine', 'ftp://x'])).toContain('http:// or https://')
    expect(configError(['--engine', 'http://u:p@h:8000'])).toContain('without query, fragment or credentials')
    expect(configError(['--engine', 'http://h:8000/v1?x=1'])).toContain('--engine')
    expect(configError([], { SAGELLM_GATEWAY_ENGINES: 'http://ok:1,nope' })).toContain('SAGELLM_GATEWAY_ENGINES')
  })

  test('--engine is repeatable', () => {
    const c = configOf(['--engine', 'http://a:1', '--engine', 'http://b:2/v1'])
    expect(c.engines.map((e) => e.url)).toEqual(['http://a:1/v1', 'http://b:2/v1'])
    expect(c.engines.every((e) => e.engineKind === 'llm')).toBe(true)
  })

  test('the same engine listed twice is an error, not silently merged', () => {
    expect(configError(['--engine', 'http://a:1', '--engine', 'http://a:1/v1/'])).toBe('engine http://a:1/v1 is listed twice')
  })

  test('SAGELLM_GATEWAY_ENGINES is a comma list; blanks and spaces are ignored', () => {
    const c = configOf([], { SAGELLM_GATEWAY_ENGINES: ' http://a:1 , ,https://b:2/v1/,' })
    expect(c.engines.map((e) => e.url)).toEqual(['http://a:1/v1', 'https://b:2/v1'])
  })
})

describe('single engine from SAGELLM_ENGINE_*', () => {
  test('HOST and PORT register one engine with the given model and id', () => {
    const c = configOf([], { SAGELLM_ENGINE_HOST: '10.0.0.5', SAGELLM_ENGINE_PORT: '8001', SAGELLM_ENGINE_MODEL: 'Qwen/Qwen2.5-7B', SAGELLM_ENGINE_ID: 'gpu-0' })
    expect(c.engines).toEqual([{ url: 'http://10.0.0.5:8001/v1', engineId: 'gpu-0', engineKind: 'llm', modelId: 'Qwen/Qwen2.5-7B' }])
  })

  test('MODEL and ID are optional; an IPv6 host is bracketed', () => {
    const c = configOf([], { SAGELLM_ENGINE_HOST: '::1', SAGELLM_ENGINE_PORT: '8000' })
    expect(c.engines).toEqual([{ url: 'http://[::1]:8000/v1', engineId: undefined, engineKind: 'llm', modelId: undefined }])
  })

  test('it joins SAGELLM_GATEWAY_ENGINES (both are environment), but --engine flags replace both', () => {
    const env = { SAGELLM_ENGINE_HOST: 'b', SAGELLM_ENGINE_PORT: '2', SAGELLM_GATEWAY_ENGINES: 'http://c:3' }
    expect(configOf([], env).engines.map((e) => e.url)).toEqual(['http://c:3/v1', 'http://b:2/v1'])
    expect(configOf(['--engine', 'http://a:1'], env).engines.map((e) => e.url)).toEqual(['http://a:1/v1'])
  })

  test('environment engines replace the config file\'s', () => {
    const c = configOf(['--config', '/c.yaml'], { SAGELLM_ENGINE_HOST: 'b', SAGELLM_ENGINE_PORT: '2' }, { '/c.yaml': 'engines: [http://f:1]\n' })
    expect(c.engines.map((e) => e.url)).toEqual(['http://b:2/v1'])
  })

  test('HOST without PORT, or a bad PORT, is an error naming the variable', () => {
    expect(configError([], { SAGELLM_ENGINE_HOST: 'h' })).toContain('SAGELLM_ENGINE_PORT')
    expect(configError([], { SAGELLM_ENGINE_HOST: 'h', SAGELLM_ENGINE_PORT: '99999' })).toContain('SAGELLM_ENGINE_PORT')
  })
})

describe('config file', () => {
  test('YAML: every section, both engine entry forms', () => {
    const yaml = [
      'host: 127.0.0.1',
      'port: 9000',
      'engines:',
      '  - http://a:8000',
      '  - url: https://b:8443/v1/',
      '    engine_id: b',
      '    engine_kind: embedding',
      '    model_id: bge',
      '    api_key: secret',
      'health:',
      '  interval_seconds: 2',
    ].join('\n')
    const c = configOf(['--config', '/gw.yml'], {}, { '/gw.yml': yaml })
    expect([c.host, c.port, c.health.intervalMs, c.health.timeoutMs]).toEqual(['127.0.0.1', 9000, 2000, 5000])
    expect(c.engines).toEqual([
      { url: 'http://a:8000/v1', engineKind: 'llm' },
      { url: 'https://b:8443/v1', engineId: 'b', engineKind: 'embedding', modelId: 'bge', apiKey: 'secret' },
    ])
  })

  test('JSON: a .json file is parsed as JSON', () => {
    const json = JSON.stringify({ port: 9001, log_level: 'debug', mock: { enabled: true }, engines: [{ url: 'http://j:1' }] })
    const c = configOf(['--config', '/gw.JSON'], {}, { '/gw.JSON': json })
    expect([c.port, c.logLevel, c.mock.enabled]).toEqual([9001, 'debug', true])
    expect(c.engines.map((e) => e.url)).toEqual(['http://j:1/v1'])
  })

  test('an empty file means all defaults', () => {
    expect(configOf(['--config', '/empty.yaml'], {}, { '/empty.yaml': '' })).toEqual({ ...configOf(), configFile: '/empty.yaml' })
  })

  test('problems name the file and what is wrong', () => {
    expect(configError(['--config', '/nope.yaml'])).toBe('cannot read config file /nope.yaml: no such file')
    expect(configError(['--config', '/bad.yaml'], {}, { '/bad.yaml': 'port: [1,' })).toContain('/bad.yaml is not valid YAML')
    expect(configError(['--config', '/bad.json'], {}, { '/bad.json': '{"port": 1,}' })).toContain('/bad.json is not valid JSON')
    expect(configError(['--config', '/k.yaml'], {}, { '/k.yaml': 'prot: 1\n' })).toBe('config file /k.yaml: prot: unknown key')
    expect(configError(['--config', '/n.yaml'], {}, { '/n.yaml': 'health:\n  interval: 1\n' })).toBe('config file /n.yaml: health.interval: unknown key')
    expect(configError(['--config', '/t.yaml'], {}, { '/t.yaml': 'port: eighty\n' })).toContain('port: expected integer')
    expect(configError(['--config', '/r.yaml'], {}, { '/r.yaml': 'port: 70000\n' })).toContain('port:')
    expect(configError(['--config', '/l.yaml'], {}, { '/l.yaml': 'log_level: loud\n' })).toContain("log_level: 'loud'")
    expect(configError(['--config', '/e.yaml'], {}, { '/e.yaml': 'engines: [ftp://x]\n' })).toContain('engines[0]')
    expect(configError(['--config', '/u.yaml'], {}, { '/u.yaml': 'engines:\n  - 42\n' })).toBe(
      'config file /u.yaml: engines.0: expected an engine URL, or an object with url and optional engine_id, engine_kind, model_id, api_key, weight, max_concurrency, api',
    )
    // An engine given as an object: the key inside it that is wrong is named.
    const engineError = (entry: string) => configError(['--config', '/o.yaml'], {}, { '/o.yaml': `engines:\n  - url: http://h:8000/v1\n    ${entry}\n` })
    expect(engineError('wieght: 2')).toBe('config file /o.yaml: engines.0.wieght: unknown key')
    expect(engineError('weight: 0')).toStartWith('config file /o.yaml: engines.0.weight: ')
    expect(engineError('api: grpc')).toBe("config file /o.yaml: engines.0.api: expected 'openai' or 'anthropic'")
    expect(configError(['--config', '/p.yaml'], {}, { '/p.yaml': 'engines:\n  - port: 3\n' })).toBe('config file /p.yaml: engines.0.url: required, and missing')
    expect(configError(['--config', '/q.yaml'], {}, { '/q.yaml': 'routing:\n  per_model:\n    org/model: fastest\n' })).toStartWith('config file /q.yaml: routing.per_model.org/model: ')
    // Seconds say which bound was missed.
    expect(configError(['--config', '/s.yaml'], {}, { '/s.yaml': 'health:\n  interval_seconds: 0\n' })).toBe('config file /s.yaml: health.interval_seconds: expected seconds, more than 0 and at most 2147483')
    // A wrong log_level in the file is an error even when a flag or the environment overrides it.
    expect(configError(['--config', '/l.yaml', '--log-level', 'info'], {}, { '/l.yaml': 'log_level: loud\n' })).toContain("log_level: 'loud'")
  })

  test('timeouts beyond what a timer can hold are refused, not turned into instant timeouts', () => {
    expect(configError(['--request-timeout', '2200000'])).toContain('--request-timeout')
    expect(configError(['--drain-timeout', '2200000'])).toContain('--drain-timeout')
    expect(configError(['--config', '/h.yaml'], {}, { '/h.yaml': 'health:\n  interval_seconds: 3000000\n' })).toContain('health.interval_seconds')
  })

  test('empty --host or --db is an error', () => {
    expect(configError(['--host', ''])).toBe('--host must not be empty')
    expect(configError(['--db', ' '])).toBe('--db must not be empty')
  })

  test('deploy/config.example.yaml loads through --config', () => {
    const cli = loadConfig({ argv: ['--config', EXAMPLE_CONFIG], env: {} })
    expect(cli.action).toBe('run')
    if (cli.action !== 'run') return
    expect(cli.config).toMatchObject({
      host: DEFAULTS.host,
      port: DEFAULTS.port,
      mock: { enabled: false, models: DEFAULTS.mockModels, chunkDelayMs: DEFAULTS.mockChunkDelayMs },
      logLevel: DEFAULTS.logLevel,
      requestTimeoutMs: DEFAULTS.requestTimeoutSeconds * 1000,
      maxBodyBytes: DEFAULTS.maxBodyBytes,
      drainTimeoutMs: DEFAULTS.drainTimeoutSeconds * 1000,
      health: { intervalMs: DEFAULTS.healthIntervalSeconds * 1000, timeoutMs: DEFAULTS.healthTimeoutSeconds * 1000 },
    })
    expect(cli.config.engines.length).toBeGreaterThan(0)
  })

  test('deploy/config.example.yaml also loads with its off-by-default settings switched on', async () => {
    const text = enableOffSettings(await Bun.file(EXAMPLE_CONFIG).text())
    const c = configOf(['--config', '/on.yaml'], {}, { '/on.yaml': text })
    expect(c.adminKey).toBe('replace-with-a-long-random-secret')
    expect(c.engines.some((e) => e.maxConcurrency === 64)).toBe(true)
  })

  test('deploy/config.example.yaml shows every key ConfigFileSchema accepts', async () => {
    const example: unknown = Bun.YAML.parse(enableOffSettings(await Bun.file(EXAMPLE_CONFIG).text()))
    const accepted = schemaKeys(ConfigFileSchema)
    expect(accepted).toContain('engines[].api_key')
    expect(accepted).toContain('health.timeout_seconds')
    const missing = [...accepted].filter((key) => !valueKeys(example).has(key))
    expect(missing).toEqual([])
  })
})

/** The example file with its off-by-default `#key: value` lines switched on. */
function enableOffSettings(text: string): string {
  return text.replace(/^(\s*)#(?=[a-z_]+:)/gm, '$1')
}

test('deploy/env.example lists every environment variable the gateway reads', async () => {
  const text = await Bun.file(EXAMPLE_ENV).text()
  for (const name of Object.values(ENV)) expect(text).toMatch(new RegExp(`^#?${name}=`, 'm'))
})

describe('the returned config', () => {
  test('is deeply frozen', () => {
    const c = configOf(['--engine', 'http://a:1', '--mock'])
    for (const part of [c, c.mock, c.mock.models, c.engines, c.engines[0], c.health]) expect(Object.isFrozen(part)).toBe(true)
    expect(() => {
      ;(c as { port: number }).port = 1
    }).toThrow(TypeError)
    expect(() => {
      ;(c.engines as EngineList).push({ url: 'http://x/v1', engineKind: 'llm' })
    }).toThrow(TypeError)
  })
})

type EngineList = { url: string; engineKind: string }[]

/** Dotted key paths a TypeBox object schema accepts, `[]` marking array items (e.g. `engines[].url`). */
function schemaKeys(schema: TSchema, prefix = ''): Set<string> {
  const keys = new Set<string>()
  if (schema.type === 'object' && schema.properties) {
    for (const [name, sub] of Object.entries(schema.properties as Record<string, TSchema>)) {
      const path = prefix ? `${prefix}.${name}` : name
      keys.add(path)
      for (const k of schemaKeys(sub, path)) keys.add(k)
    }
  }
  if (schema.type === 'array' && schema.items) for (const k of schemaKeys(schema.items as TSchema, `${prefix}[]`)) keys.add(k)
  for (const alt of (schema.anyOf ?? []) as TSchema[]) for (const k of schemaKeys(alt, prefix)) keys.add(k)
  return keys
}

/** The same key paths, as present in a parsed document. */
function valueKeys(value: unknown, prefix = ''): Set<string> {
  const keys = new Set<string>()
  if (Array.isArray(value)) for (const item of value) for (const k of valueKeys(item, `${prefix}[]`)) keys.add(k)
  else if (value && typeof value === 'object')
    for (const [name, sub] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${name}` : name
      keys.add(path)
      for (const k of valueKeys(sub, path)) keys.add(k)
    }
  return keys
}

describe('API keys', () => {
  test('--api-key is repeatable and wins over the env list, which wins over auth.api_keys', () => {
    const readFile = { '/gw.yaml': 'auth: {api_keys: [file-key-0123456789]}\n' }
    expect(configOf(['--api-key', 'flag-key-0123456789', '--api-key', 'flag-key-9876543210', '--config', '/gw.yaml'], { SAGELLM_GATEWAY_API_KEYS: 'env-key-0123456789' }, readFile).auth.apiKeys).toEqual(['flag-key-0123456789', 'flag-key-9876543210'])
    expect(configOf(['--config', '/gw.yaml'], { SAGELLM_GATEWAY_API_KEYS: 'env-key-0123456789, env-key-9876543210' }, readFile).auth.apiKeys).toEqual(['env-key-0123456789', 'env-key-9876543210'])
    expect(configOf(['--config', '/gw.yaml'], {}, readFile).auth.apiKeys).toEqual(['file-key-0123456789'])
  })

  test('a key shorter than 16 characters stops start-up naming its source', () => {
    expect(configError(['--api-key', 'short'])).toContain('--api-key: every API key must be at least 16 characters long')
    expect(configError([], { SAGELLM_GATEWAY_API_KEYS: 'ok-key-0123456789,short' })).toContain('SAGELLM_GATEWAY_API_KEYS')
  })
})

test('loopback listen addresses are told apart from the others (the open-gateway warning)', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopbackHost(host)).toBe(true)
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'gpu-node-1', '127.0.0.1.example.com']) expect(isLoopbackHost(host)).toBe(false)
})
