// Failover before the first byte, engine errors, timeouts and mid-stream failures, against real
// loopback engines that are stopped, slowed and scripted to fail.
import { afterEach, expect, test } from 'bun:test'
import { APIError } from 'openai'
import { jsonResponse, sseResponse, startFakeEngine, type FakeEngine } from '../helpers/fake-engine'
import { postJson, startGateway, type TestGateway } from '../helpers/gateway'
import { waitFor } from '../helpers/wait'

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop()
})

async function engines(n: number, models = ['m']): Promise<FakeEngine[]> {
  const list = await Promise.all(Array.from({ length: n }, () => startFakeEngine({ models })))
  for (const e of list) cleanup.push(() => e.stop())
  return list
}

async function gateway(list: FakeEngine[], extra: string[] = []): Promise<TestGateway> {
  const gw = await startGateway([...list.flatMap((e) => ['--engine', e.url]), ...extra])
  cleanup.push(() => gw.stop())
  return gw
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}
const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error

const chat = (extra: object = {}) => ({ model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], ...extra })
const streamParams = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], stream: true as const }

test('every request succeeds when one of two engines is down, and the dead engine leaves rotation', async () => {
  const [a, b] = await engines(2)
  const gw = await gateway([a!, b!])
  await a!.stop()
  const client = gw.openai()
  for (let i = 0; i < 10; i++) {
    const res = await client.chat.completions.create(chat({}) as { model: string; messages: { role: 'user'; content: string }[] })
    expect(res.choices[0]!.message.content).toContain('You said')
  }
  expect(b!.inference()).toHaveLength(10)
  expect(gw.registry.all.find((e) => e.baseUrl === a!.url)!.state).toBe('ERROR')
})

test('a 5xx before any byte is retried on another engine', async () => {
  const [a, b] = await engines(2)
  const gw = await gateway([a!, b!])
  let calls = 0
  const failFirst = () => (calls++ === 0 ? jsonResponse({ error: { message: 'CUDA out of memory' } }, 500) : undefined)
  a!.override = failFirst
  b!.override = failFirst
  const res = await gw.openai().chat.completions.create(chat({}) as { model: string; messages: { role: 'user'; content: string }[] })
  expect(res.choices[0]!.message.content).toContain('You said')
  expect(a!.inference().length + b!.inference().length).toBe(2)
})

test('an engine 4xx reaches the client with its status and message and is not retried', async () => {
  const [a, b] = await engines(2)
  const gw = await gateway([a!, b!])
  const reject = () =>
    jsonResponse({ object: 'error', message: "This model's maximum context length is 4096 tokens", type: 'BadRequestError', param: 'messages', code: 400 }, 400)
  a!.override = reject
  b!.override = reject
  const res = await postJson(gw, '/v1/chat/completions', chat())
  expect(res.status).toBe(400)
  const body = { error: await errorOf(res) }
  expect(body.error.message).toBe("This model's maximum context length is 4096 tokens")
  expect(body.error.param).toBe('messages')
  expect(a!.inference().length + b!.inference().length).toBe(1)
})

test('when every engine fails, 502 names the model and each cause', async () => {
  const [a, b] = await engines(2)
  const gw = await gateway([a!, b!])
  a!.override = () => new Response('upstream exploded', { status: 503 })
  b!.override = () => jsonResponse({ error: { message: 'engine overloaded' } }, 500)
  const res = await postJson(gw, '/v1/chat/completions', chat())
  expect(res.status).toBe(502)
  const body = { error: await errorOf(res) }
  expect(body.error.code).toBe('engine_error')
  expect(body.error.message).toContain("'m'")
  expect(body.error.message).toContain('upstream exploded')
  expect(body.error.message).toContain('engine overloaded')
})

test('engines that die after discovery give 502 with "connection refused"; a model nobody could list gives 503', async () => {
  const [a] = await engines(1)
  const gw = await gateway([a!])
  await a!.stop()
  const res = await postJson(gw, '/v1/chat/completions', chat())
  expect(res.status).toBe(502)
  expect((await errorOf(res)).message).toContain('connection refused')

  const [c] = await engines(1)
  await c!.stop()
  const gw2 = await gateway([c!])
  const res2 = await postJson(gw2, '/v1/chat/completions', chat())
  expect(res2.status).toBe(503)
  const body2 = { error: await errorOf(res2) }
  expect(body2.error.code).toBe('unavailable')
  expect(body2.error.message).toContain("'m'")
  expect(body2.error.message).toContain('unreachable')
})

test('an engine slower than --request-timeout is abandoned for a faster one', async () => {
  const [slow, fast] = await engines(2)
  const gw = await gateway([slow!, fast!], ['--request-timeout', '0.3'])
  slow!.override = async (_req, signal) => {
    await new Promise((resolve) => signal.addEventListener('abort', resolve))
    return jsonResponse({})
  }
  for (let i = 0; i < 2; i++) {
    const res = await postJson(gw, '/v1/chat/completions', chat())
    expect(res.status).toBe(200)
  }
  expect(fast!.inference()).toHaveLength(2)
})

test('504 deadline_exceeded when every engine is too slow', async () => {
  const [a] = await engines(1)
  const gw = await gateway([a!], ['--request-timeout', '0.2'])
  a!.override = async (_req, signal) => {
    await new Promise((resolve) => signal.addEventListener('abort', resolve))
    return jsonResponse({})
  }
  const res = await postJson(gw, '/v1/chat/completions', chat())
  expect(res.status).toBe(504)
  const body = { error: await errorOf(res) }
  expect(body.error.code).toBe('deadline_exceeded')
  expect(body.error.message).toContain("'m'")
})

const chunk = (delta: object, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
})

test('a stream whose engine fails before its first event goes to another engine', async () => {
  const [a, b] = await engines(2)
  const gw = await gateway([a!, b!])
  let calls = 0
  const dieFirst = () => (calls++ === 0 ? sseResponse([chunk({ role: 'assistant' })], { dieAfter: 0 }) : undefined)
  a!.override = dieFirst
  b!.override = dieFirst
  const stream = await gw.openai().chat.completions.create(streamParams)
  let text = ''
  for await (const c of stream) text += c.choices[0]?.delta.content ?? ''
  expect(text).toContain('You said')
})

test('an engine dying mid-stream ends the stream with an error event and [DONE]; the SDK raises it', async () => {
  const [a] = await engines(1)
  const gw = await gateway([a!])
  a!.override = () => sseResponse([chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello' }), chunk({ content: ' wor' })], { delayMs: 10, dieAfter: 3 })
  const raw = await (await postJson(gw, '/v1/chat/completions', chat({ stream: true }))).text()
  expect(raw).toContain('"content":"Hello"')
  expect(raw).toMatch(/data: \{"error":\{"message":"Engine [^"]+ failed mid-stream[^"]*","type":"server_error","param":null,"code":"engine_error","retryable":true\}\}\n\ndata: \[DONE\]\n\n$/)

  const received: string[] = []
  const consume = async () => {
    const stream = await gw.openai().chat.completions.create(streamParams)
    for await (const c of stream) received.push(c.choices[0]?.delta.content ?? '')
  }
  const error = await consume().then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(APIError)
  expect((error as Error).message).toContain('failed mid-stream')
  expect(received.join('')).toBe('Hello wor')
})

test('a stream that goes silent longer than --request-timeout ends with deadline_exceeded', async () => {
  const [a] = await engines(1)
  const gw = await gateway([a!], ['--request-timeout', '0.3'])
  a!.override = (_req, signal) => {
    const encoder = new TextEncoder()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk({ content: 'partial' }))}\n\n`))
        signal.addEventListener('abort', () => controller.close())
      },
    })
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
  }
  const raw = await (await postJson(gw, '/v1/chat/completions', chat({ stream: true }))).text()
  expect(raw).toContain('partial')
  expect(raw).toContain('"code":"deadline_exceeded"')
  expect(raw.endsWith('data: [DONE]\n\n')).toBe(true)
})

test('an engine stream cut after its finish_reason but before [DONE] is completed, not failed', async () => {
  const [a] = await engines(1)
  const gw = await gateway([a!])
  a!.override = () => sseResponse([chunk({ content: 'done' }), chunk({}, 'stop')])
  const raw = await (await postJson(gw, '/v1/chat/completions', chat({ stream: true }))).text()
  expect(raw).not.toContain('"error"')
  expect(raw.endsWith('data: [DONE]\n\n')).toBe(true)
})

test('a client that disconnects mid-stream cancels the engine request at once', async () => {
  const a = await startFakeEngine({ models: ['m'], chunkDelayMs: 30 })
  cleanup.push(() => a.stop())
  const gw = await gateway([a])
  const res = await postJson(gw, '/v1/chat/completions', chat({ stream: true, max_tokens: 500 }))
  const reader = res.body!.getReader()
  await reader.read()
  await reader.cancel()
  await waitFor(() => a.inference()[0]?.aborted === true, 3000, 'engine request aborted')
  await waitFor(() => gw.inflight.size === 0 && gw.registry.all[0]!.activeRequests === 0, 3000, 'in-flight counters back to 0')
})

test('a client that disconnects while waiting for a non-stream answer cancels the engine request', async () => {
  const [a] = await engines(1)
  const gw = await gateway([a!])
  a!.override = async (_req, signal) => {
    await new Promise((resolve) => signal.addEventListener('abort', resolve))
    return jsonResponse({})
  }
  const abort = new AbortController()
  const pending = gw.fetch('/v1/chat/completions', { method: 'POST', body: JSON.stringify(chat()), signal: abort.signal }).catch(() => undefined)
  await waitFor(() => a!.inference().length === 1, 3000, 'engine got the request')
  abort.abort()
  await pending
  await waitFor(() => a!.inference()[0]!.aborted, 3000, 'engine request aborted')
  await waitFor(() => gw.inflight.size === 0, 3000, 'in-flight count back to 0')
})
