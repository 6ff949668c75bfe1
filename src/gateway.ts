// Assembles a gateway from its configuration and database: engine registry (config engines plus
// those registered through the API before), router, engine admin, sessions and the HTTP app. main.ts
// and the tests build it the same way; neither listening, health checks nor the session sweep start here.
import type { Database } from 'bun:sqlite'
import { createApp } from './app'
import { AccessControl } from './auth/access-control'
import { KeyRepository } from './auth/key-repository'
import { KeyService } from './auth/key-service'
import { UsageRecorder } from './auth/usage'
import type { Config } from './config'
import { EngineAdmin } from './control-plane/engine-admin'
import { EngineRegistry } from './control-plane/engine-registry'
import { engineSpecsFromConfig } from './control-plane/engine-specs'
import { Router } from './control-plane/router'
import { EngineRepository } from './db/engine-repository'
import type { EngineFetch } from './engines/engine-client'
import { createEngineHttp } from './engines/http1'
import { InflightTracker } from './proxy/inflight'
import { SessionRepository } from './sessions/session-repository'
import { SessionService } from './sessions/session-service'
import type { Logger } from './telemetry/logger'
import { createGatewayMetrics } from './telemetry/metrics'
import { RequestTelemetry } from './telemetry/request-telemetry'
import { createTracing, type Tracing } from './telemetry/tracing'

export interface GatewayDeps {
  readonly config: Config
  readonly db: Database
  readonly log: Logger
  /** How engines are reached over the network. Default: the HTTP/1.1 keep-alive client (engines/http1.ts). */
  readonly engineFetch?: EngineFetch
  /** Default: from config.telemetry (OTEL_* variables). */
  readonly tracing?: Tracing
}

export function assembleGateway({ config, db, log, engineFetch = createEngineHttp().fetch, tracing = createTracing(config.telemetry, { log }) }: GatewayDeps) {
  const registry = new EngineRegistry(engineSpecsFromConfig(config, engineFetch), {
    intervalMs: config.health.intervalMs,
    timeoutMs: config.health.timeoutMs,
    failureThreshold: config.health.failureThreshold,
    breaker: config.circuitBreaker,
    log,
  })
  const admin = new EngineAdmin({ registry, repository: new EngineRepository(db), fetch: engineFetch, drainTimeoutMs: config.drainTimeoutMs, log })
  admin.restore()
  const inflight = new InflightTracker()
  // Metrics read the router lazily, so the router can report into them from its first decision.
  let router: Router | undefined
  const metricSources = { registry, get router() { return router! }, inflight: () => inflight.size }
  const metrics = createGatewayMetrics(metricSources)
  router = new Router(registry, {
    routing: config.routing,
    scheduling: config.scheduling,
    breakerCooldownMs: config.circuitBreaker.cooldownMs,
    onDecision: (strategy) => metrics.routingDecisions.inc([strategy]),
    onQueueWait: (seconds) => metrics.queueWait.observe([], seconds),
  })
  const sessions = new SessionService(new SessionRepository(db), {
    ...config.sessions,
    turnWaitMs: config.scheduling.queueTimeoutMs,
    log,
    onStoreOperation: (operation, seconds) => metrics.sessionStore.observe([operation], seconds),
  })
  const keys = new KeyService(new KeyRepository(db), { staticKeys: config.auth.apiKeys, adminKey: config.adminKey })
  const access = new AccessControl(keys, new UsageRecorder(db), { metricsPublic: config.auth.metricsPublic, docsPublic: config.auth.docsPublic })
  const telemetry = new RequestTelemetry(tracing, metrics, log, (record) => access.requestEnded(record))
  const app = createApp({ config, registry, router, admin, sessions, log, inflight, telemetry, metricSources, access })
  return { app, registry, router, admin, sessions, inflight, tracing, metrics, access }
}

export type Gateway = ReturnType<typeof assembleGateway>
