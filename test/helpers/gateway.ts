// Starts the gateway in-process on 127.0.0.1 (random port) from command-line style arguments, the
// same path main.ts takes minus signals, and gives tests its URL and an official OpenAI client.
import { afterAll, afterEach, beforeAll } from 'bun:test'
import OpenAI from 'openai'
import { loadConfig, type Config } from '../../src/config'
import type { EngineRegistry } from '../../src/control-plane/engine-registry'
import type { Router } from '../../src/control-plane/router'
import { migrate } from '../../src/db/migrate'
import { openDatabase } from '../../src/db/open'
import { assembleGateway } from '../../src/gateway'
import type { InflightTracker } from '../../src/proxy/inflight'
import type { SessionService } from '../../src/sessions/session-service'
import { silentLogger, type Logger } from '../../src/telemetry/logger'
import { startFakeEngine, type FakeEngine, type FakeEngineOptions } from './fake-engine'

export interface TestGateway {
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly config: Config
  readonly registry: EngineRegistry
  readonly router: Router
  readonly sessions: SessionService
  readonly inflight: InflightTracker
  /** An official OpenAI SDK client pointed at the gateway, without SDK-side retries. */
  openai(options?: ConstructorParameters<typeof OpenAI>[0]): OpenAI
  /** fetch relative to the gateway URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>
  stop(): Promise<void>
}

export async function startGateway(argv: string[] = [], { log = silentLogger, env = {} }: { log?: Logger; env?: Record<string, string> } = {}): Promise<TestGateway> {
  const cli = loadConfig({ argv: ['--db', ':memory:', ...argv], env })
  if (cli.action !== 'run') throw new Error('startGateway: arguments asked for help/version')
  const { config } = cli
  const db = openDatabase(config.dbPath)
  migrate(db)
  const { app, registry, router, sessions, inflight, tracing, access } = assembleGateway({ config, db, log })
  await registry.start()
  app.listen({ hostname: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${app.server!.port}`
  return {
    url,
    config,
    registry,
    router,
    sessions,
    inflight,
    openai: (options) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test', maxRetries: 0, ...options }),
    fetch: (path, init) => fetch(url + path, init),
    async stop() {
      registry.stop()
      sessions.stop()
      await app.stop(true)
      access.stop()
      await tracing.shutdown()
      db.close()
    },
  }
}

/** POST a JSON body (or raw text) to the gateway. */
export function postJson(gw: TestGateway, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return gw.fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

export interface SharedEngineGateway {
  readonly engine: FakeEngine
  readonly gw: TestGateway
}

/**
 * One fake engine behind one gateway for a whole test file, handed to `receive` once started; the
 * engine's script and request log are reset after each test, both stopped after all.
 */
export function sharedEngineGateway(receive: (shared: SharedEngineGateway) => void, engineOptions: FakeEngineOptions = {}): void {
  let shared: SharedEngineGateway | undefined
  beforeAll(async () => {
    const engine = await startFakeEngine(engineOptions)
    shared = { engine, gw: await startGateway(['--engine', engine.url]) }
    receive(shared)
  })
  afterAll(async () => {
    await shared?.gw.stop()
    await shared?.engine.stop()
  })
  afterEach(() => {
    if (!shared) return
    shared.engine.override = undefined
    shared.engine.requests.length = 0
  })
}
