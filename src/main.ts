#!/usr/bin/env bun
// Entry point: parse the configuration, open and migrate the database, start engine discovery,
// listen, and on SIGTERM/SIGINT stop accepting, let in-flight requests finish, then exit 0.
import { HELP } from './cli-help'
import { ConfigError, loadConfig } from './config'
import { isLoopbackHost } from './config-values'
import { migrate } from './db/migrate'
import { openDatabase } from './db/open'
import { assembleGateway } from './gateway'
import { BUN_DEFAULT_FETCH_CAPACITY, FETCH_CAPACITY_ENV, GATEWAY_FETCH_CAPACITY, fetchCapacity, raiseFetchCapacity } from './fetch-capacity'
import { createTracing } from './telemetry/tracing'
import { createLogger } from './telemetry/logger'
import { VERSION } from './version'

raiseFetchCapacity()

function fail(message: string): never {
  process.stderr.write(`sagellm-gateway: ${message}\n`)
  process.exit(2)
}

let cli: ReturnType<typeof loadConfig>
try {
  cli = loadConfig({ argv: process.argv.slice(2), env: process.env })
} catch (e) {
  if (e instanceof ConfigError) fail(e.message)
  throw e
}
if (cli.action === 'help') {
  process.stdout.write(HELP)
  process.exit(0)
}
if (cli.action === 'version') {
  process.stdout.write(`sagellm-gateway ${VERSION}\n`)
  process.exit(0)
}
const { config } = cli
const log = createLogger(config.logLevel)

let db: ReturnType<typeof openDatabase>
try {
  db = openDatabase(config.dbPath)
  const { applied, version } = migrate(db)
  log.info('database ready', { path: config.dbPath, schema_version: version, applied })
} catch (e) {
  fail(`cannot open database ${config.dbPath}: ${(e as Error).message}`)
}

const tracing = createTracing(config.telemetry, { log })
const { app, registry, sessions, inflight, access } = assembleGateway({ config, db, log, tracing })
void registry.start()
sessions.startSweeper()
access.startFlushing(config.usage.flushIntervalMs, (error) => log.error('usage flush failed', { error: error.message }))
if (registry.all.length === 0)
  log.warning('no engine configured: every inference request will fail with 503 (use --engine URL or --mock)')
if (config.sessions.unreadEnv.length > 0)
  log.warning("sessions are kept in this gateway's SQLite database: the original gateway's session-store variables are not read", { variables: config.sessions.unreadEnv, database: config.dbPath })
if (!access.keys.required && !isLoopbackHost(config.host))
  log.warning('no API keys configured: anyone who can reach this address may use the engines and read every session (set --api-key or issue keys with POST /v1/management/keys)', { host: config.host })

try {
  app.listen({ hostname: config.host, port: config.port })
} catch (e) {
  fail(`cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`)
}
const maxEngineRequests = fetchCapacity()
log.info('sagellm-gateway listening', {
  version: VERSION,
  url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${app.server?.port}`,
  engines: registry.all.map((e) => ({ engine_id: e.id, url: e.baseUrl })),
  max_engine_requests: maxEngineRequests,
})
// Only https:// engines go through Bun's fetch and its cap; http:// ones use the gateway's own client.
if (maxEngineRequests <= BUN_DEFAULT_FETCH_CAPACITY && registry.all.some((e) => e.baseUrl.startsWith('https:')))
  log.warning(`at most ${maxEngineRequests} requests to https:// engines can be in flight at once; more concurrent requests wait in a queue (set ${FETCH_CAPACITY_ENV}, e.g. ${GATEWAY_FETCH_CAPACITY}, in the environment before start)`, { max_engine_requests: maxEngineRequests })

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  log.info('shutting down: draining in-flight requests', { signal, in_flight: inflight.size, drain_timeout_ms: config.drainTimeoutMs })
  // stop(false) refuses new connections and resolves once every response has been written out,
  // streams included; past the drain timeout, in-flight streams end with an error event and [DONE].
  const closing = app.server?.stop(false) ?? Promise.resolve()
  const drained = await Promise.race([closing.then(() => true), Bun.sleep(config.drainTimeoutMs).then(() => false)])
  if (!drained) {
    log.warning('drain timeout passed: ending in-flight requests', { in_flight: inflight.size })
    try {
      inflight.abortAll('the gateway is shutting down (drain timeout passed)')
    } catch (e) {
      // Every call was aborted; one's bookkeeping failed. Shutting down goes on (usage, spans to write).
      log.error('ending an in-flight request failed', { error: String(e) })
    }
    await Promise.race([closing, Bun.sleep(1000)])
    await app.server?.stop(true)
  }
  // The last answers' records end in a setImmediate (usage, logs, spans): let it run first.
  await new Promise((resolve) => setImmediate(resolve))
  registry.stop()
  sessions.stop()
  await tracing.shutdown()
  try {
    access.stop()
  } catch (e) {
    log.error('usage not written at shutdown', { error: (e as Error).message })
  }
  db.close()
  log.info('stopped', { drained })
  log.flush()
  process.exit(0)
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
