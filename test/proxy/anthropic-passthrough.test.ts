// Engines marked `api: anthropic` get /v1/messages untranslated: the body as the client sent it, the
// answer and every stream event as the engine sent them; a stream the engine cuts ends with an
// Anthropic `error` event; count_tokens goes to the engine's own endpoint; failover still applies.
import Anthropic from '@anthropic-ai/sdk'
import { afterEach, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway, type TestGateway } from '../helpers/gateway'

interface NativeEngine {
  readonly url: string
  readonly bodies: string[]
  /** Scripts POST /v1/messages; default: a short message, streamed or not. */
  answer?: (body: Record<string, unknown>) => Response
  stop(): Promise<void>
}

const MESSAGE = {
  id: 'msg_native',
  type: 'message',
  role: 'assistant',
  model: 'claude-local',
  content: [{ type: 'text', text: 'native hello' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 7, output_tokens: 2 },
}

const event = (type: string, payload: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`
const STREAM = [
  event('message_start', { message: { ...MESSAGE, content: [], stop_reason: null, usage: { input_tokens: 7, output_tokens: 0 } } }),
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'native ' } }),
  event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hello' } }),
  event('content_block_stop', { index: 0 }),
  event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } }),
  event('message_stop', {}),
]

const sse = (events: string[]) => new Response(events.join(''), { headers: { 'content-type': 'text/event-stream' } })

const servers: Server<unknown>[] = []
const gateways: TestGateway[] = []
afterEach(async () => {
  for (const gw of gateways.splice(0)) await gw.stop()
  for (const s of servers.splice(0)) await s.stop(true)
})

function nativeEngine(): NativeEngine {
  const engine: NativeEngine = { url: '', bodies: [], stop: async () => server.stop(true) }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname
      if (path === '/health') return Response.json({ ok: true })
      if (path === '/v1/models') return Response.json({ data: [{ type: 'model', id: 'claude-local', display_name: 'Local' }] })
      const text = await req.text()
      engine.bodies.push(text)
      if (path === '/v1/messages/count_tokens') return Response.json({ input_tokens: 42 })
      const body = JSON.parse(text) as Record<string, unknown>
      if (engine.answer) return engine.answer(body)
      return body.stream ? sse(STREAM) : Response.json(MESSAGE)
    },
  })
  servers.push(server)
  Object.assign(engine, { url: `http://127.0.0.1:${server.port}/v1` })
  return engine
}

async function gatewayFor(...engines: NativeEngine[]) {
  const file = join(mkdtempSync(join(tmpdir(), 'gw-native-')), 'config.yaml')
  writeFileSync(file, `engines:\n${engines.map((e) => `  - url: ${e.url}\n    api: anthropic\n`).join('')}health:\n  interval_seconds: 60\n`)
  const gw = await startGateway(['--config', file])
  gateways.push(gw)
  return { gw, client: new Anthropic({ baseURL: gw.url, apiKey: 'k', maxRetries: 0 }) }
}

const request = { model: 'claude-local', max_tokens: 20, messages: [{ role: 'user' as const, content: 'hi' }], top_k: 3 }

test('a non-streamed request reaches the engine as sent and its answer comes back unchanged', async () => {
  const engine = nativeEngine()
  const { gw } = await gatewayFor(engine)
  const sent = JSON.stringify(request)
  const res = await gw.fetch('/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: sent })
  expect(res.status).toBe(200)
  expect(await res.json()).toEqual(MESSAGE)
  expect(JSON.parse(engine.bodies[0]!)).toEqual(request)
})

test('a stream is relayed event for event, and the SDK assembles the message', async () => {
  const engine = nativeEngine()
  const { gw, client } = await gatewayFor(engine)
  const raw = await gw.fetch('/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, stream: true }) })
  expect(await raw.text()).toBe(STREAM.join(''))
  const final = await client.messages.stream(request).finalMessage()
  expect(final.content as unknown).toEqual([{ type: 'text', text: 'native hello' }])
  expect(final.usage.output_tokens).toBe(2)
})

test('a stream the engine cuts short ends with an Anthropic error event, which the SDK raises', async () => {
  const engine = nativeEngine()
  engine.answer = () => sse(STREAM.slice(0, 3))
  const { gw, client } = await gatewayFor(engine)
  const raw = await (await gw.fetch('/v1/messages', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...request, stream: true }) })).text()
  expect(raw.startsWith(STREAM.slice(0, 3).join(''))).toBe(true)
  expect(raw).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"Engine [^"]+ failed mid-stream[^"]*"\}\}\n\n$/)
  const error = await client.messages.stream(request).finalMessage().then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(Error)
})

test("an engine's 400 reaches the client in Anthropic's envelope with the engine's message", async () => {
  const engine = nativeEngine()
  engine.answer = () => Response.json({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long' } }, { status: 400 })
  const { client } = await gatewayFor(engine)
  const error = (await client.messages.create(request).then(() => undefined, (e: unknown) => e)) as InstanceType<typeof Anthropic.BadRequestError>
  expect(error).toBeInstanceOf(Anthropic.BadRequestError)
  expect(error.error).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long' } })
})

test('count_tokens is answered by the engine itself', async () => {
  const engine = nativeEngine()
  const { client } = await gatewayFor(engine)
  expect((await client.messages.countTokens({ model: 'claude-local', messages: request.messages })).input_tokens).toBe(42)
  expect(JSON.parse(engine.bodies[0]!)).toEqual({ model: 'claude-local', messages: request.messages })
})

test('a refused connection fails over to the other native engine', async () => {
  const [a, b] = [nativeEngine(), nativeEngine()]
  const { client } = await gatewayFor(a, b)
  await a.stop()
  for (let i = 0; i < 4; i++) expect((await client.messages.create(request)).content as unknown).toEqual(MESSAGE.content)
  expect(b.bodies.length).toBe(4)
})

test('a session needs an OpenAI engine: with only native engines the answer is a 400 that says so (retrying cannot help)', async () => {
  const engine = nativeEngine()
  const { client } = await gatewayFor(engine)
  const error = (await client.messages
    .create({ ...request, metadata: { session_id: 's1' } } as Anthropic.MessageCreateParamsNonStreaming)
    .then(() => undefined, (e: unknown) => e)) as InstanceType<typeof Anthropic.APIError>
  expect(error.status).toBe(400)
  expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('anthropic-API engine') } })
  expect(engine.bodies).toHaveLength(0)
})

test('a native engine down since start-up (its models never listed) gives 529 to retry on, for messages and count_tokens, not a 404', async () => {
  const engine = nativeEngine()
  await engine.stop()
  const { gw } = await gatewayFor(engine)
  const counted = { model: request.model, messages: request.messages }
  for (const [path, body] of [['/v1/messages', request], ['/v1/messages/count_tokens', counted]] as const) {
    const res = await gw.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect({ path, status: res.status, retry: res.headers.get('x-should-retry') }).toEqual({ path, status: 529, retry: 'true' })
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('overloaded_error')
  }
})
