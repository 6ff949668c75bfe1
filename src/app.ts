// createApp(deps): the gateway's HTTP surface, assembled in order (errors → request context →
// telemetry → CORS → auth → docs → routes). No side effects: it neither listens nor starts timers;
// main.ts does that.
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { anthropicRoutes } from './api/anthropic/messages'
import { authGate } from './api/auth'
import { cors } from './api/cors'
import { errorHandler } from './api/error-handler'
import { keyRoutes } from './api/keys'
import { healthRoutes } from './api/health'
import { metricsRoutes } from './api/metrics'
import { openAIInferenceRoutes } from './api/openai/inference'
import { openAIModelRoutes } from './api/openai/models'
import { requestContext, type HoldOpen } from './api/request-context'
import { sessionRoutes } from './api/sessions'
import type { AccessControl } from './auth/access-control'
import type { Config } from './config'
import { managementRoutes } from './api/management'
import type { EngineAdmin } from './control-plane/engine-admin'
import type { EngineRegistry } from './control-plane/engine-registry'
import type { Router } from './control-plane/router'
import { Dispatcher } from './proxy/dispatch'
import type { InflightTracker } from './proxy/inflight'
import type { SessionService } from './sessions/session-service'
import type { Logger } from './telemetry/logger'
import type { GatewayMetrics, MetricSources } from './telemetry/metrics'
import { requestTelemetry, type RequestTelemetry } from './telemetry/request-telemetry'
import { VERSION } from './version'

export interface AppDeps {
  readonly config: Config
  readonly registry: EngineRegistry
  readonly router: Router
  readonly admin: EngineAdmin
  readonly log: Logger
  readonly inflight: InflightTracker
  readonly sessions: SessionService
  readonly telemetry: RequestTelemetry
  readonly metricSources: MetricSources
  readonly access: AccessControl
}

export function createApp({ config, registry, router, admin, sessions, log, inflight, telemetry, metricSources, access }: AppDeps) {
  const dispatcher = new Dispatcher({ registry, router, requestTimeoutMs: config.requestTimeoutMs, retries: config.retries, inflight, log, sessions, telemetry })
  const metrics: GatewayMetrics = telemetry.metrics
  const gate = authGate(access, config.adminKey, telemetry)
  // Generation can outlast Bun's idle timeout; the dispatcher's deadline bounds it instead. The server
  // is read off the app, not the handler's context (Elysia defines a getter per request for that).
  const holdOpen: HoldOpen = (request) => {
    app.server?.timeout(request, 0)
  }
  const app = new Elysia({
    // Bun's own limit is only a backstop: the body parser enforces the configured one with a proper error.
    // No port sharing (Elysia turns SO_REUSEPORT on): a second gateway on a taken port must fail at
    // start-up, not quietly take a share of the first one's traffic under its own keys and config.
    serve: { maxRequestBodySize: config.maxBodyBytes * 2 + 1024 * 1024, reusePort: false },
  })
    .use(errorHandler(log, telemetry))
    .use(requestContext({ maxBodyBytes: config.maxBodyBytes, ...config.limits }))
    // Preflights are answered here, before a request record exists for them to leave unfinished.
    .use(cors(config.cors))
    .use(requestTelemetry(telemetry))
    .use(gate.plugin)
    .use(
      openapi({
        path: '/swagger',
        specPath: '/swagger/json',
        documentation: {
          info: {
            title: 'sageLLM Gateway',
            version: VERSION,
            description: 'OpenAI/Anthropic-compatible gateway and embedded control plane for self-hosted inference engines',
          },
          tags: [
            { name: 'OpenAI', description: 'OpenAI-compatible inference API' },
            { name: 'Anthropic', description: 'Anthropic Messages API, translated for OpenAI-compatible engines' },
            { name: 'Gateway', description: 'Service information and health' },
            { name: 'Management', description: 'Control plane: engine registry, routing and load' },
            { name: 'Sessions', description: 'Server-side conversations stored in SQLite' },
          ],
        },
      }),
    )
    .use(healthRoutes({ version: VERSION, registry, startedAt: new Date(), sessionStats: () => sessions.stats() }))
    .use(metricsRoutes(metrics, metricSources))
    .use(openAIModelRoutes(registry, (request) => access.modelFilter(gate.principalOf(request))))
    .use(openAIInferenceRoutes(dispatcher, telemetry, gate.admitInference, holdOpen))
    .use(
      anthropicRoutes(dispatcher, registry, config.requestTimeoutMs, telemetry, {
        holdOpen,
        admit: gate.admitInference,
        checkModel: (request, model) => access.checkModel(gate.principalOf(request), model),
      }),
    )
    .use(sessionRoutes(sessions, config.sessions.ttlMinutes, access, gate.principalOf))
    .use(keyRoutes(access, gate.requireAdmin))
    .use(
      managementRoutes({
        registry,
        router,
        admin,
        requireAdmin: gate.requireAdmin,
        routing: config.routing,
        schedulingPolicy: config.scheduling.policy,
      }),
    )
  return app
}

export type App = ReturnType<typeof createApp>
