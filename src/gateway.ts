// Assembles a gateway from its configuration and database: engine registry (config engines plus
// those registered through the API before), router, engine admin, sessions and the HTTP app. main.ts
// and the tests build it the same way; neither listening, health checks nor the session sweep start here.
import type { Database } from 'bun:sqlite'
import { createApp } from './app'
import type { Config } from './config'
import { EngineAdmin } from './control-plane/engine-admin'
import { EngineRegistry } from './control-plane/engine-registry'
import { engineSpecsFromConfig } from './control-plane/engine-specs'
import { Router } from './control-plane/router'
import { EngineRepository } from './db/engine-repository'
import type { EngineFetch } from './engines/engine-client'
import { InflightTracker } from './proxy/inflight'
import { SessionRepository } from './sessions/session-repository'
import { SessionService } from './sessions/session-service'
import type { Logger } from './telemetry/logger'

export interface GatewayDeps {
  readonly config: Config
  readonly db: Database
  readonly log: Logger
  /** How engines are reached over the network (tests may wrap it). */
  readonly engineFetch?: EngineFetch
}

export function assembleGateway({ config, db, log, engineFetch = fetch }: GatewayDeps) {
  const registry = new EngineRegistry(engineSpecsFromConfig(config, engineFetch), {
    intervalMs: config.health.intervalMs,
    timeoutMs: config.health.timeoutMs,
    failureThreshold: config.health.failureThreshold,
    breaker: config.circuitBreaker,
    log,
  })
  const admin = new EngineAdmin({ registry, repository: new EngineRepository(db), fetch: engineFetch, drainTimeoutMs: config.drainTimeoutMs, log })
  admin.restore()
  const router = new Router(registry, { routing: config.routing, scheduling: config.scheduling, breakerCooldownMs: config.circuitBreaker.cooldownMs })
  const sessions = new SessionService(new SessionRepository(db), { ...config.sessions, turnWaitMs: config.scheduling.queueTimeoutMs, log })
  const inflight = new InflightTracker()
  const app = createApp({ config, registry, router, admin, sessions, log, inflight })
  return { app, registry, router, admin, sessions, inflight }
}

export type Gateway = ReturnType<typeof assembleGateway>
