// The one JSON `request` line per request, as the gateway's own logger writes it (kept in memory):
// its fields for answers, streams (written when the stream ends), errors, retries and sessions, the
// level of health polls, its trace ids, and that no key ever reaches a log line.
import { afterEach, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { NotFoundError } from 'openai'
import { isChat } from '../helpers/anthropic'
import { jsonResponse, startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { writeYamlConfig } from '../helpers/fleet'
import { startGateway, type TestGateway } from '../helpers/gateway'
import { captureLogs, chatChunk, Cleanup, gatedSse, serverSpanOf, startTraced, usageChunk, type CapturedLogs, type LogLine } from '../helpers/telemetry'
import { waitFor } from '../helpers/wait'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const CHAT = { model: 'm', messages: [{ role: 'user' as const, content: 'Tell me about tides' }] }

interface Logged {
  gw: TestGateway
  engines: FakeEngine[]
  logs: CapturedLogs
}

async function loggedGateway({ engines: count = 1, argv = [] }: { engines?: number; argv?: string[] } = {}): Promise<Logged> {
  const engines = await Promise.all(Array.from({ length: count }, () => startFakeEngine({ models: ['m'] })))
  for (const e of engines) cleanup.defer(() => e.stop())
  const logs = captureLogs('debug')
  const gw = await startGateway([...engines.flatMap((e) => ['--engine', e.url]), ...argv], { log: logs.log })
  cleanup.defer(() => gw.stop())
  return { gw, engines, logs }
}

/**
 * The request lines of `requestId` once it has one, and once a later request has been logged too
 * (so a second line for it would have had its chance to appear).
 */
async function linesOf({ gw, logs }: Logged, requestId: string): Promise<LogLine[]> {
  await waitFor(() => logs.requestLines(requestId).length > 0, 3000, `the request line of ${requestId}`)
  const barrier = await gw.fetch('/v1/models')
  const barrierId = barrier.headers.get('x-request-id')!
  await waitFor(() => logs.requestLines(barrierId).length > 0, 3000, 'the request line of a later request')
  return logs.requestLines(requestId)
}

test('a chat completion writes exactly one info request line with its outcome, engine, duration and tokens', async () => {
  const logged = await loggedGateway()
  const { data, response } = await logged.gw.openai().chat.completions.create(CHAT).withResponse()
  const requestId = response.headers.get('x-request-id')!
  const lines = await linesOf(logged, requestId)
  expect(lines).toHaveLength(1)
  const [line] = lines
  expect(line).toMatchObject({
    level: 'info',
    request_id: requestId,
    method: 'POST',
    route: '/v1/chat/completions',
    status: 200,
    model: 'm',
    engine_id: logged.gw.registry.all[0]!.id,
    input_tokens: data.usage!.prompt_tokens,
    output_tokens: data.usage!.completion_tokens,
    retries: 0,
  })
  expect(line!.duration_ms).toBeGreaterThan(0)
  expect(line!.error_code).toBeUndefined()
})

test("a stream's request line is written when the stream ends, with ttft_ms and the usage chunk's tokens", async () => {
  const logged = await loggedGateway()
  const stream = gatedSse(
    [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'High' })],
    [chatChunk({ content: ' water.' }), chatChunk({}, 'stop'), usageChunk(21, 2), 'data: [DONE]\n\n'],
  )
  logged.engines[0]!.override = (req) => (isChat(req) ? stream.response : undefined)
  const { data, response } = await logged.gw.openai().chat.completions.create({ ...CHAT, stream: true }).withResponse()
  const requestId = response.headers.get('x-request-id')!
  let released = false
  for await (const chunk of data) {
    if (released || !chunk.choices[0]?.delta.content) continue
    // The client reads words while the engine still holds the end back: no line yet.
    expect(logged.logs.requestLines(requestId)).toEqual([])
    stream.release()
    released = true
  }
  const lines = await linesOf(logged, requestId)
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatchObject({ status: 200, input_tokens: 21, output_tokens: 2 })
  expect(lines[0]!.ttft_ms).toBeGreaterThan(0)
  expect(lines[0]!.duration_ms).toBeGreaterThanOrEqual(lines[0]!.ttft_ms as number)
})

test('a stream the engine sends in one piece still gets its request line', async () => {
  const logged = await loggedGateway()
  const whole = [chatChunk({ role: 'assistant', content: 'Hi' }), chatChunk({}, 'stop'), usageChunk(5, 1)].map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')
  logged.engines[0]!.override = (req) => (isChat(req) ? new Response(`${whole}data: [DONE]\n\n`, { headers: { 'content-type': 'text/event-stream' } }) : undefined)
  const { data, response } = await logged.gw.openai().chat.completions.create({ ...CHAT, stream: true }).withResponse()
  for await (const _ of data);
  const lines = await linesOf(logged, response.headers.get('x-request-id')!)
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatchObject({ status: 200, input_tokens: 5, output_tokens: 1 })
})

test("an error's request line has its status and error_code", async () => {
  const logged = await loggedGateway()
  const error = await logged.gw.openai().chat.completions.create({ ...CHAT, model: 'no-such-model' }).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(NotFoundError)
  const requestId = (error as NotFoundError).headers.get('x-request-id')!
  const [line, ...more] = await linesOf(logged, requestId)
  expect(more).toEqual([])
  expect(line).toMatchObject({ level: 'info', route: '/v1/chat/completions', status: 404, error_code: 'model_not_found', model: 'no-such-model' })
  expect(line!.engine_id).toBeUndefined()
})

test('a request failed over to another engine counts its retry and names the engine that answered', async () => {
  const logged = await loggedGateway({ engines: 2 })
  let failedOn: FakeEngine | undefined
  for (const engine of logged.engines) {
    engine.override = (req) => {
      if (!isChat(req) || failedOn) return undefined
      failedOn = engine
      return jsonResponse({ error: { message: 'CUDA out of memory' } }, 500)
    }
  }
  const { response } = await logged.gw.openai().chat.completions.create(CHAT).withResponse()
  const [line, ...more] = await linesOf(logged, response.headers.get('x-request-id')!)
  expect(more).toEqual([])
  const served = logged.gw.registry.all.find((e) => e.port !== failedOn!.port)!
  expect(line).toMatchObject({ status: 200, retries: 1, engine_id: served.id })
  expect(line!.error_code).toBeUndefined()
})

test('a session turn logs its session_id', async () => {
  const logged = await loggedGateway()
  const params = { ...CHAT, session_id: 'harbour-log-1' }
  const { response } = await logged.gw.openai().chat.completions.create(params).withResponse()
  const [line] = await linesOf(logged, response.headers.get('x-request-id')!)
  expect(line!.session_id).toBe('harbour-log-1')
})

test('/health and /metrics polls are logged at debug, other routes at info', async () => {
  const logged = await loggedGateway()
  const ids: Record<string, string> = {}
  for (const path of ['/health', '/metrics', '/v1/models']) ids[path] = (await logged.gw.fetch(path)).headers.get('x-request-id')!
  for (const [path, level] of [['/health', 'debug'], ['/metrics', 'debug'], ['/v1/models', 'info']]) {
    const lines = await linesOf(logged, ids[path!]!)
    expect(lines.map((l) => [l.route, l.level])).toEqual([[path, level]])
  }
})

test("the request line carries the SERVER span's trace and span ids", async () => {
  const { gw, logs, flushed } = await startTraced(cleanup)
  const { response } = await gw.openai().chat.completions.create(CHAT).withResponse()
  const requestId = response.headers.get('x-request-id')!
  const server = serverSpanOf(await flushed(requestId), requestId)
  expect(logs.requestLines(requestId)).toEqual([expect.objectContaining({ trace_id: server.traceId, span_id: server.spanId })])
})

test("neither an engine's api_key nor the admin key appears in any log line", async () => {
  const ENGINE_KEY = 'sk-engine-secret'
  const ADMIN_KEY = 'admin-key-0123456789abcdef'
  const [engine, spare] = await Promise.all([startFakeEngine({ models: ['m'] }), startFakeEngine({ models: ['m'] })])
  cleanup.defer(() => engine!.stop())
  cleanup.defer(() => spare!.stop())
  const file = writeYamlConfig({ engines: [{ url: engine!.url, engine_id: 'e0', api_key: ENGINE_KEY }, { url: spare!.url, engine_id: 'e1', api_key: ENGINE_KEY }] })
  cleanup.defer(() => rmSync(dirname(file), { recursive: true, force: true }))
  const logs = captureLogs('debug')
  const gw = await startGateway(['--config', file, '--admin-key', ADMIN_KEY], { log: logs.log })
  cleanup.defer(() => gw.stop())
  const logged = { gw, engines: [engine!, spare!], logs }
  let failed = false
  for (const e of logged.engines) e.override = (req) => (isChat(req) && !failed ? ((failed = true), jsonResponse({ error: { message: 'overloaded' } }, 503)) : undefined)
  const admin = { authorization: `Bearer ${ADMIN_KEY}` }

  const chat = await gw.openai().chat.completions.create(CHAT, { headers: admin }).withResponse()
  const patched = await gw.fetch('/v1/management/engines/e0', { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: '{"weight": 3}' })
  const refused = await gw.fetch('/v1/management/engines/e0', { method: 'PATCH', headers: { authorization: 'Bearer wrong-key-0123456789', 'content-type': 'application/json' }, body: '{"weight": 4}' })
  expect([patched.status, refused.status]).toEqual([200, 401])
  for (const res of [chat.response, patched, refused]) await linesOf(logged, res.headers.get('x-request-id')!)
  // The keys were in play: both engines were sent theirs.
  expect(logged.engines.flatMap((e) => e.requests.filter(isChat).map((r) => r.headers.authorization))).toEqual([`Bearer ${ENGINE_KEY}`, `Bearer ${ENGINE_KEY}`])
  expect(logs.lines.some((l) => l.msg === 'engine attempt failed')).toBe(true)
  for (const line of logs.raw) {
    expect(line).not.toContain(ENGINE_KEY)
    expect(line).not.toContain(ADMIN_KEY)
  }
})

test('without tracing, a client traceparent gives the line its trace id but no span id (no span of ours exists)', async () => {
  const logged = await loggedGateway()
  const traceId = '0af7651916cd43dd8448eb211c80319c'
  const res = await logged.gw.fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    body: JSON.stringify(CHAT),
  })
  expect(res.status).toBe(200)
  const [line] = await linesOf(logged, res.headers.get('x-request-id')!)
  expect(line).toMatchObject({ trace_id: traceId })
  expect(line).not.toHaveProperty('span_id')
})
